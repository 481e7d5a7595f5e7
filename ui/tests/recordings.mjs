// The library: the recording made from the Streams page is listed, plays in the page, and is
// deleted after confirmation.
import { check, env, login, run, shot, waitVideo } from "./lib.mjs";

const file = env("FILE");

run("recordings", async (page) => {
  await login(page);
  await page.click("nav >> text=Recordings");
  const row = page.locator(`tr[data-recording="${file}"]`);
  await row.waitFor();
  const text = await row.innerText();
  check(text.includes(env("STREAM")) && /H264/.test(text) && /AAC/.test(text), `library row: ${text}`);
  await shot(page, "admin-06-recordings");
  // Filter by stream name: a name that matches keeps the row, another one empties the list.
  await page.fill("input.search", env("STREAM"));
  await page.waitForTimeout(600);
  await row.waitFor();
  await page.fill("input.search", "no-such-stream");
  await page.waitForSelector("text=No recording matches");
  await page.fill("input.search", "");
  await row.waitFor();
  await row.getByRole("button", { name: "Play" }).click();
  const video = await waitVideo(page, ".player video");
  await page.waitForTimeout(300);
  await shot(page, "admin-07-recordings-play");
  await page.click("[aria-label='Close player']");
  await row.getByRole("button", { name: "Delete" }).click();
  await page.waitForSelector(".dialog h2");
  await shot(page, "admin-08-recordings-delete-confirm");
  await page.click(".dialog .btn.danger");
  await row.waitFor({ state: "detached" });
  const notice = await page.locator(".banner.ok").innerText();
  check(notice.includes(file), `delete notice: ${notice}`);
  await shot(page, "admin-09-recordings-deleted");
  return { row: text, video, notice };
});
