// Shared helpers of the browser tests. Each script is run by a Go test (internal/server/ui_e2e_test.go)
// against a real server, drives Debian's Chromium through playwright-core (never a downloaded
// browser), prints "@event NAME" lines the Go test may react to, and ends with one line
// "@result {json}". Screenshots go to $SHOTS.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

export const BASE = env("BASE");

// viewport is the window size: $VIEWPORT (WIDTHxHEIGHT, e.g. 390x844 for a phone), else 1366×768.
export function viewport() {
  const m = /^(\d+)x(\d+)$/.exec(process.env.VIEWPORT || "");
  return m ? { width: +m[1], height: +m[2] } : { width: 1366, height: 768 };
}

// noOverflow fails when the page is wider than the window (something sticks out sideways).
export async function noOverflow(page, where) {
  const w = await page.evaluate(() => ({ scroll: document.scrollingElement.scrollWidth, inner: innerWidth }));
  check(w.scroll <= w.inner, `${where}: the page is ${w.scroll} px wide in a ${w.inner} px window`);
  return w;
}

// open starts Chromium with a fresh profile; camera: false leaves out the fake camera and
// microphone, so the page meets a computer without any.
export async function open({ camera = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "streamrec-chromium-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      ...(camera ? ["--use-fake-device-for-media-stream"] : []),
      "--use-fake-ui-for-media-stream",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--autoplay-policy=no-user-gesture-required",
    ],
    viewport: viewport(),
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => m.type() === "error" && console.error("console:", m.text()));
  return {
    ctx,
    page,
    problems,
    async close() {
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(env("SHOTS"), name + ".png") });
}

export function event(name) {
  console.log("@event " + name);
}

// run opens the browser, runs fn(page), prints its result, and fails on any uncaught page error.
export async function run(name, fn, options) {
  let b;
  try {
    b = await open(options);
    const result = (await fn(b.page)) ?? {};
    if (b.problems.length) throw new Error(b.problems.join("\n"));
    console.log("@result " + JSON.stringify(result));
  } catch (e) {
    console.error(e && e.stack ? e.stack : String(e));
    if (b) await shot(b.page, `${name}-failure`).catch(() => {});
    process.exitCode = 1;
  } finally {
    if (b) await b.close();
  }
}

export function check(ok, message) {
  if (!ok) throw new Error(message);
}

// login opens the dashboard and logs in.
export async function login(page) {
  await page.goto(BASE + "/admin/");
  await page.fill("#password", env("PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForSelector("nav.side");
}

// goTo opens a dashboard page through its navigation link, opening the menu first when the
// navigation is folded (narrow screens).
export async function goTo(page, title) {
  const menu = page.locator(".menu-button");
  if (await menu.isVisible()) {
    if ((await menu.getAttribute("aria-expanded")) !== "true") await menu.click();
  }
  await page.click(`nav >> text=${title}`);
}

// waitVideo waits until a <video> can play (readyState >= 2) with a finite duration, seeks to
// the middle, and returns what it saw.
export async function waitVideo(page, selector) {
  await page.waitForFunction(
    (sel) => {
      const v = document.querySelector(sel);
      return v && v.readyState >= 2 && isFinite(v.duration) && v.duration > 0;
    },
    selector,
    { timeout: 15000 },
  );
  return page.$eval(selector, async (v) => {
    const duration = v.duration;
    const seekable = v.seekable.length > 0 ? v.seekable.end(v.seekable.length - 1) : 0;
    const target = duration / 2;
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("seek did not finish")), 10000);
      v.addEventListener("seeked", () => (clearTimeout(t), resolve()), { once: true });
      v.currentTime = target;
    });
    return { readyState: v.readyState, duration, seekable, seekedTo: v.currentTime, width: v.videoWidth, height: v.videoHeight };
  });
}
