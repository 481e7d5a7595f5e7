// The live stream list: a stream published while the page is open appears without a reload;
// recording it on demand from the page makes a file (the Go test probes it).
import { check, env, event, login, run, shot } from "./lib.mjs";

const name = env("STREAM");

run("streams", async (page) => {
  await login(page);
  await page.waitForSelector(".live.live"); // the event stream is connected
  event("publish"); // the Go test starts ffmpeg now
  const row = page.locator(`tr[data-stream="${name}"]`);
  await row.waitFor({ timeout: 20000 });
  const text = await row.innerText();
  check(/RTMP/.test(text) && /PUBLISHING/.test(text) && /H264/.test(text) && /AAC/.test(text) && /320×240/.test(text), `stream row: ${text}`);
  // The bitrate fills in from the byte counters within a few seconds.
  await page.waitForFunction((n) => {
    const td = document.querySelector(`tr[data-stream="${n}"] td.num`);
    return td && /bit\/s/.test(td.textContent);
  }, name);
  await row.getByRole("button", { name: "Start recording" }).click();
  await row.locator(".rec-since").waitFor();
  await page.waitForTimeout(3000);
  await shot(page, "admin-04-streams-recording");
  const recText = await row.innerText();
  await row.getByRole("button", { name: "Stop recording" }).click();
  const banner = page.locator(".banner.ok");
  await banner.waitFor();
  const msg = await banner.innerText();
  const file = (msg.match(/stopped: (\S+\.(?:mp4|webm))/) || [])[1];
  check(file, `no file name in ${JSON.stringify(msg)}`);
  await row.getByRole("button", { name: "Start recording" }).waitFor();
  await shot(page, "admin-05-streams-stopped");
  return { file, row: text, recording: recText };
});
