// The Stream Recording demo page. First an unreachable server gives FAILED with the reason in
// words; then, when the server's signalling is up (WS=1), the whole quick test: Start →
// PUBLISHING → Stop → UNPUBLISHED → the link and a <video> that starts playing by itself (muted)
// and seeks the recording; then a Start that fails clears that recording.
import { BASE, check, env, run, shot, waitVideo } from "./lib.mjs";

const path = process.env.DEMO_PATH || "/client/examples/demo/streaming/stream_recording/recording.html";

run("demo", async (page) => {
  await page.goto(BASE + path);
  await page.waitForSelector("#publishBtn:not([disabled])");
  const url = await page.inputValue("#url");
  check(new RegExp(`^ws://127\\.0\\.0\\.1:${env("WS_PORT")}/[0-9a-f]{8}$`).test(url), `prefilled URL ${url}`);
  await page.waitForTimeout(500);
  await shot(page, "demo-01-ready");

  // Server unreachable.
  await page.fill("#url", `ws://127.0.0.1:${env("CLOSED_PORT")}/abcd1234`);
  await page.click("#publishBtn");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "FAILED", null, { timeout: 20000 });
  const failed = { status: await page.getAttribute("#status", "class"), info: await page.textContent("#info") };
  check(/bad/.test(failed.status) && /Cannot connect/.test(failed.info), `unreachable: ${JSON.stringify(failed)}`);
  await shot(page, "demo-02-unreachable");
  if (process.env.WS !== "1") return { url, failed };

  await page.fill("#url", url);
  await page.click("#publishBtn");
  await page.waitForFunction(() => /PUBLISHING|FAILED/.test(document.querySelector("#status").textContent), null, { timeout: 20000 });
  const status = await page.textContent("#status");
  check(status === "PUBLISHING", `status ${status}: ${await page.textContent("#info")}`);
  check(/ok/.test(await page.getAttribute("#status", "class")), "PUBLISHING is not green");
  await page.waitForTimeout(3000);
  await shot(page, "demo-03-publishing");
  check((await page.textContent("#publishBtn")) === "Stop", "button is not Stop");
  await page.click("#publishBtn");
  await page.waitForFunction(() => /UNPUBLISHED|FAILED|DISCONNECTED/.test(document.querySelector("#status").textContent), null, { timeout: 20000 });
  const after = await page.textContent("#status");
  check(after === "UNPUBLISHED", `after Stop: ${after} ${await page.textContent("#info")}`);
  await page.waitForSelector("#downloadDiv:not([hidden])");
  const link = await page.getAttribute("#link", "href");
  const linkText = await page.textContent("#link");
  check(/Download recorded stream/.test(linkText), `link text ${linkText}`);
  check(link.startsWith(BASE + "/client/records/"), `link ${link}`);
  // The recording starts by itself, muted (a browser lets only muted media autoplay).
  await page.waitForFunction(() => {
    const v = document.querySelector("#recVideo");
    return v && !v.paused && v.muted && v.currentTime > 0;
  }, null, { timeout: 15000 });
  const autoplay = await page.$eval("#recVideo", (v) => ({ paused: v.paused, muted: v.muted, currentTime: v.currentTime }));
  const video = await waitVideo(page, "#recVideo");
  await shot(page, "demo-04-recorded");

  // A Start that fails takes the previous recording away (player and link).
  await page.fill("#url", `ws://127.0.0.1:${env("CLOSED_PORT")}/abcd1234`);
  await page.click("#publishBtn");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "FAILED", null, { timeout: 20000 });
  const cleared = await page.evaluate(() => ({
    linkHidden: document.querySelector("#downloadDiv").hidden,
    href: document.querySelector("#link").getAttribute("href"),
    src: document.querySelector("#recVideo").getAttribute("src"),
  }));
  check(cleared.linkHidden && !cleared.href && !cleared.src, `after a failed Start the last recording is still shown: ${JSON.stringify(cleared)}`);
  await shot(page, "demo-06-failed-start-cleared");
  return { url, failed, link, recordName: decodeURIComponent(link.split("/").pop()), video, autoplay, cleared };
});
