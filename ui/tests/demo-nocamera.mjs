// The demo page on a computer without camera or microphone: FAILED, and the reason in words.
import { BASE, check, run, shot } from "./lib.mjs";

run(
  "demo-nocamera",
  async (page) => {
    await page.goto(BASE + "/");
    await page.waitForSelector("#publishBtn:not([disabled])");
    await page.click("#publishBtn");
    await page.waitForFunction(() => /PUBLISHING|FAILED/.test(document.querySelector("#status").textContent), null, { timeout: 20000 });
    const status = await page.textContent("#status");
    const info = await page.textContent("#info");
    check(status === "FAILED" && /No camera or microphone/.test(info), `without a camera: ${status}: ${info}`);
    check((await page.textContent("#publishBtn")) === "Start", "the button is not back to Start");
    await shot(page, "demo-05-no-camera");
    return { status, info };
  },
  { camera: false },
);
