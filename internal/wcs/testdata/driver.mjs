// Drives headless Chromium (Debian's, never a downloaded one) for the WebRTC browser tests.
// Usage: node driver.mjs <file URL of publish.html>
// Reads commands from stdin, one JSON object a line:
//   {"cmd":"publish","id":"a","url":"ws://127.0.0.1:PORT","name":"s1","record":true,
//    "stripCodecs":"H264","audio":true,"video":true,"login":"alice"}
//   {"cmd":"stop","id":"a"}   stream.stop() in the SDK
//   {"cmd":"drop","id":"a"}   close the page: socket and peer connection vanish
//   {"cmd":"exit"}
// Writes one JSON object a line: {"id":"a","kind":"session"|"stream"|"stopping"|"error"|"ready",...}.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const page_url = process.argv[2];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', '--no-first-run', '--ignore-certificate-errors',
    '--allow-file-access-from-files', '--autoplay-policy=no-user-gesture-required'],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true });
await context.grantPermissions(['camera', 'microphone']).catch(() => {});
const pages = new Map();

async function publish(c) {
  const page = await context.newPage();
  pages.set(c.id, page);
  page.on('console', (m) => { if (m.type() === 'error') out({ id: c.id, kind: 'console', text: m.text() }); });
  page.on('pageerror', (e) => out({ id: c.id, kind: 'error', text: String(e) }));
  await page.exposeFunction('report', (e) => out(Object.assign({ id: c.id }, e)));
  await page.goto(page_url);
  await page.evaluate((o) => window.startPublish(o), c);
}

async function handle(c) {
  try {
    switch (c.cmd) {
      case 'publish': await publish(c); break;
      case 'stop': await pages.get(c.id).evaluate(() => window.stopPublish()); break;
      case 'drop': { const p = pages.get(c.id); pages.delete(c.id); await p.close(); out({ id: c.id, kind: 'dropped' }); break; }
      case 'exit': await browser.close(); process.exit(0);
    }
  } catch (e) {
    out({ id: c.id, kind: 'error', text: String(e) });
  }
}

out({ kind: 'ready', version: browser.version() });
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => { if (line.trim()) handle(JSON.parse(line)); });
rl.on('close', async () => { await browser.close(); process.exit(0); });
