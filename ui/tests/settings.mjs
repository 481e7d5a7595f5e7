// Settings: a valid value is saved (the Go test reads the file), an invalid one is refused with
// the reason next to the field (and the file is left alone).
import { check, login, run, shot } from "./lib.mjs";

run("settings", async (page) => {
  await login(page);
  await page.click("nav >> text=Settings");
  await page.waitForSelector("#set-record_rotation");
  await shot(page, "admin-10-settings");
  await page.fill("#set-record_rotation", "20");
  await page.click("button[type=submit]");
  const ok = await page.locator(".banner.ok").innerText();
  check(/Saved record_rotation/.test(ok), `save banner: ${ok}`);
  await page.fill("#set-record_audio_codec_sample_rate", "12345");
  await page.click("button[type=submit]");
  const err = page.locator("#set-record_audio_codec_sample_rate-err");
  await err.waitFor();
  const reason = await err.innerText();
  check(/12345/.test(reason), `field error: ${reason}`);
  const banner = await page.locator(".banner.error").innerText();
  await page.locator("[data-key=record_audio_codec_sample_rate]").scrollIntoViewIfNeeded();
  await shot(page, "admin-11-settings-invalid");
  // ws.port needs a restart: saving it says so.
  await page.click("button:has-text('Discard')");
  await page.fill("#set-ws\\.port", "18080");
  await page.click("button[type=submit]");
  const restart = await page.locator(".banner.ok").innerText();
  check(/Restart the server to apply ws\.port/.test(restart), `restart banner: ${restart}`);
  await page.locator("[data-key='ws.port'] .badge.pending").waitFor();
  await page.locator("[data-key='ws.port']").scrollIntoViewIfNeeded();
  await shot(page, "admin-12-settings-restart");
  return { ok, reason, banner, restart };
});
