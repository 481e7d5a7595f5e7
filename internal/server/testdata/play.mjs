// Plays recordings in headless Chromium (Debian's, never a downloaded one), one after the other.
// Usage: node play.mjs URL...
// For each URL writes one JSON line: {"url","error","ended","width","height","duration","frames","dropped"}:
// error is the media element's error (a decode error among them), ended whether it played to the end.
import { chromium } from 'playwright-core';

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
const page = await browser.newPage();
for (const url of process.argv.slice(2)) {
  await page.setContent('<video muted playsinline></video>');
  const r = await page.evaluate((src) => new Promise((resolve) => {
    const v = document.querySelector('video');
    const done = (error) => {
      const q = v.getVideoPlaybackQuality();
      resolve({ error, ended: v.ended, width: v.videoWidth, height: v.videoHeight, duration: v.duration,
        frames: q.totalVideoFrames, dropped: q.droppedVideoFrames });
    };
    v.onended = () => done('');
    v.onerror = () => done(v.error ? `code ${v.error.code}: ${v.error.message}` : 'error');
    setTimeout(() => done('timeout'), 30000);
    v.src = src;
    v.play().catch((e) => done(String(e)));
  }), url);
  out(Object.assign({ url }, r));
}
await browser.close();
