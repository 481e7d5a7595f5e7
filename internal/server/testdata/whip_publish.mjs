// Publishes Chromium's fake camera and microphone over WHIP with @eyevinn/whip-web-client (a WHIP
// client nobody here wrote), from a page on another origin than the server, so its CORS answers
// are what a browser really checks. Run by internal/server/whip_browser_e2e_test.go:
//
//   WHIP_URL   the endpoint, http://127.0.0.1:PORT/whip/NAME
//   WHIP_TOKEN the bearer token ("" for none)
//   CODEC      H264 or VP8: the only video codec the offer lists; none: audio only
//   SECONDS    how long to publish
//   END        delete (the client's destroy(): DELETE on the resource) or vanish (the script
//              waits once connected: the test kills its process group, Chromium with it, so no
//              DELETE and no DTLS close reach the server)
//
// Prints "@event connected {json}" once media flows, then "@result {json}".
import { build } from "esbuild";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { open, check } from "../../../ui/tests/lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const { WHIP_URL, WHIP_TOKEN = "", CODEC = "H264", SECONDS = "5", END = "delete" } = process.env;

// The client's dist module imports "events" and "sdp-transform": bundle it for the page.
const bundle = await build({
  stdin: { contents: 'import { WHIPClient } from "@eyevinn/whip-web-client"; window.WHIPClient = WHIPClient;', resolveDir: root },
  bundle: true, format: "iife", write: false, platform: "browser", logLevel: "error",
});
const html = `<!doctype html><html><body><video id="v" muted autoplay playsinline></video>
<script>${bundle.outputFiles[0].text}</script></body></html>`;
const site = createServer((req, res) => { res.setHeader("Content-Type", "text/html"); res.end(html); });
await new Promise((r) => site.listen(0, "127.0.0.1", r));
const pageURL = `http://127.0.0.1:${site.address().port}/`;

const b = await open();
let result = {};
try {
  await b.page.goto(pageURL);
  const connected = await b.page.evaluate(async ({ url, token, codec }) => {
    const video = codec === "none" ? false : { width: 640, height: 360, frameRate: 30 };
    const media = await navigator.mediaDevices.getUserMedia({ video, audio: true });
    document.getElementById("v").srcObject = media;
    const client = new window.WHIPClient({
      endpoint: url,
      opts: { authkey: token || undefined, iceServers: [], debug: false },
      // The codec is the test's choice, made the way a page would (setCodecPreferences); the
      // client itself is untouched.
      peerConnectionFactory: (cfg) => {
        const pc = new RTCPeerConnection(cfg);
        const createOffer = pc.createOffer.bind(pc);
        pc.createOffer = async (o) => {
          const codecs = RTCRtpSender.getCapabilities("video").codecs.filter(
            (c) => c.mimeType.toLowerCase() === "video/" + codec.toLowerCase() &&
              (codec !== "H264" || /packetization-mode=1/.test(c.sdpFmtpLine || "")));
          for (const t of pc.getTransceivers()) if (t.sender.track && t.sender.track.kind === "video") t.setCodecPreferences(codecs);
          return createOffer(o);
        };
        window.pc = pc;
        return pc;
      },
    });
    window.client = client;
    const posted = Date.now();
    await client.ingest(media);
    const resource = await client.getResourceUrl();
    for (let i = 0; i < 200 && window.pc.connectionState !== "connected"; i++) await new Promise((r) => setTimeout(r, 50));
    return { resource, state: window.pc.connectionState, connectMs: Date.now() - posted };
  }, { url: WHIP_URL, token: WHIP_TOKEN, codec: CODEC });
  check(connected.state === "connected", "the peer connection did not connect: " + JSON.stringify(connected));
  console.log("@event connected " + JSON.stringify(connected));
  if (END === "vanish") await new Promise(() => {}); // until the test kills us
  await new Promise((r) => setTimeout(r, Number(SECONDS) * 1000));
  {
    result = await b.page.evaluate(async () => {
      // Stop sending video, let the last frames arrive, then count what was sent.
      const sender = window.pc.getSenders().find((s) => s.track && s.track.kind === "video");
      if (sender) sender.track.stop(); // an ended track sends no more frames (destroy() stops it again)
      await new Promise((r) => setTimeout(r, 1000));
      let framesSent = 0, codec = "";
      const stats = await window.pc.getStats();
      stats.forEach((s) => {
        if (s.type === "outbound-rtp" && s.kind === "video") {
          framesSent = s.framesSent;
          codec = stats.get(s.codecId)?.mimeType || "";
        }
      });
      await window.client.destroy();
      return { framesSent, codec };
    });
  }
  if (b.problems.length) throw new Error(b.problems.join("\n"));
  console.log("@result " + JSON.stringify(result));
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
} finally {
  await b.close();
  site.close();
}
