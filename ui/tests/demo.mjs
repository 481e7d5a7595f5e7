// The Stream Recording demo page. First an unreachable server gives FAILED with the reason in
// words; then, when the server's signalling is up (WS=1), the whole quick test: Start →
// PUBLISHING → Stop → UNPUBLISHED → the link and a <video> that plays and seeks the recording.
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
  const video = await waitVideo(page, "#recVideo");
  await shot(page, "demo-04-recorded");
  return { url, failed, link, recordName: decodeURIComponent(link.split("/").pop()), video };
});
