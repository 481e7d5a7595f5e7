// The Stream Recording demo page: the vendor's example (examples/demo/streaming/stream_recording)
// rewritten without jQuery. It loads the Web SDK's prebuilt bundle from this server, publishes
// the camera with record: true, and on UNPUBLISHED plays and links /client/records/<recordName>.
import "./style.css";
import sdkUrl from "@flashphoner/websdk/flashphoner-webrtc-only.min.js?url";
import type { FlashphonerApi, Session, Stream } from "./flashphoner";

interface ClientConfig {
  wsPort: number;
  wssPort: number;
  httpPort: number;
  httpsPort: number;
  version: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const urlField = $<HTMLInputElement>("url");
const button = $<HTMLButtonElement>("publishBtn");
const form = $<HTMLFormElement>("form1");
const statusField = $("status");
const infoField = $("info");
const notify = $("notify");
const localVideo = $("localVideo");
const recVideo = $<HTMLVideoElement>("recVideo");
const placeholder = $("recPlaceholder");
const downloadDiv = $("downloadDiv");
const link = $<HTMLAnchorElement>("link");

let Flashphoner: FlashphonerApi;
let onButton: () => void = () => {};
let connectTimer = 0;

function randomName(): string {
  const b = new Uint8Array(4);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function showNotice(text: string) {
  notify.textContent = text;
  notify.hidden = false;
}

// setStatus shows a connection or stream status; colours as on the vendor's page.
function setStatus(status: string, info = "") {
  statusField.textContent = status;
  statusField.className = "status";
  if (status === "PUBLISHING") statusField.classList.add("ok");
  else if (status === "FAILED") statusField.classList.add("bad");
  else statusField.classList.add("muted");
  infoField.textContent = info;
}

function onStarted(stream: Stream) {
  button.textContent = "Stop";
  button.classList.add("stop");
  button.disabled = false;
  onButton = () => {
    setStatus("PROCESSING");
    button.disabled = true;
    stream.stop();
  };
}

function onStopped() {
  clearTimeout(connectTimer);
  button.textContent = "Start";
  button.classList.remove("stop");
  button.disabled = false;
  urlField.disabled = false;
  onButton = start;
}

function start() {
  const url = urlField.value.trim();
  const name = streamName(url);
  if (!/^wss?:\/\/[^/]+\/./.test(url) || !name) {
    urlField.classList.add("invalid");
    setStatus("", "Enter ws://HOST:PORT/STREAM or wss://HOST:PORT/STREAM: the server address and a stream name.");
    return;
  }
  urlField.classList.remove("invalid");
  button.disabled = true;
  urlField.disabled = true;
  clearRecording();
  const sessions = Flashphoner.getSessions();
  if (sessions.length > 0) {
    const session = sessions[0];
    if (session.getServerUrl() === url) {
      publish(session, name);
      return;
    }
    session.on("DISCONNECTED", () => {});
    session.on("FAILED", () => {});
    session.disconnect();
  }
  setStatus("CONNECTING");
  let established = false;
  let publishing = false;
  // A server behind a firewall that drops packets never answers: say so instead of waiting forever.
  connectTimer = window.setTimeout(() => {
    if (established) return;
    setStatus("FAILED", `No answer from ${url} within 15 seconds: is the server running, and is its ws.port/wss.port reachable from this browser?`);
    Flashphoner.getSessions().forEach((s) => s.disconnect());
    onStopped();
  }, 15000);
  Flashphoner.createSession({ urlServer: url })
    .on("ESTABLISHED", (session: Session) => {
      established = true;
      clearTimeout(connectTimer);
      setStatus(session.status());
      publish(session, name, () => (publishing = true));
    })
    .on("DISCONNECTED", () => {
      setStatus("DISCONNECTED", publishing ? "The connection to the server was lost." : "");
      onStopped();
    })
    .on("FAILED", () => {
      if (!established) {
        setStatus("FAILED", `Cannot connect to the signalling server at ${serverOf(url)}. Check that streamrec is running and that the URL's port is its ${url.startsWith("wss:") ? "wss.port" : "ws.port"}.`);
      } else {
        setStatus("FAILED", "The connection to the server failed.");
      }
      onStopped();
    });
}

function publish(session: Session, name: string, onPublishing?: () => void) {
  session
    .createStream({ name, display: localVideo, record: true, receiveVideo: false, receiveAudio: false })
    .on("PUBLISHING", (stream: Stream) => {
      onPublishing?.();
      setStatus(stream.status());
      onStarted(stream);
    })
    .on("UNPUBLISHED", (stream: Stream) => {
      setStatus(stream.status());
      showRecording(stream.getRecordInfo());
      onStopped();
    })
    .on("FAILED", (stream: Stream) => {
      setStatus(stream.status(), failureReason(stream));
      showRecording(stream.getRecordInfo());
      onStopped();
    })
    .publish();
}

// failureReason puts a stream failure in words; camera problems come from getUserMedia.
function failureReason(stream: Stream): string {
  const info = stream.getInfo() || "";
  const detail = (stream.getErrorInfo && stream.getErrorInfo()) || "";
  if (info !== "Local error") return info || "The server refused the stream.";
  if (!window.isSecureContext) return insecureText();
  if (/denied|NotAllowed|Permission/i.test(detail))
    return "Camera and microphone access was denied. Allow it for this site (the camera icon in the address bar) and press Start again.";
  if (/not found|NotFound|Requested device/i.test(detail)) return "No camera or microphone was found on this computer.";
  if (/NotReadable|Could not start|in use/i.test(detail)) return "The camera or microphone is in use by another application.";
  return "The camera or microphone could not be opened" + (detail ? ": " + detail : ".");
}

let config: ClientConfig | undefined;

function insecureText(): string {
  const https = config && config.httpsPort ? `https://${location.hostname}:${config.httpsPort}${location.pathname}` : "an https:// address";
  return `Browsers give the camera only to https:// pages and to localhost. Open ${https} instead.`;
}

function showRecording(name: string) {
  if (!name) return;
  const href = `${location.protocol}//${location.host}/client/records/${encodeURIComponent(name)}`;
  link.href = href;
  $("recName").textContent = name;
  recVideo.controls = true;
  // Muted, so that the browser lets it start by itself (autoplay with sound needs a gesture).
  recVideo.muted = true;
  recVideo.autoplay = true;
  recVideo.src = href;
  recVideo.play().catch(() => {}); // refused autoplay leaves the controls to start it
  placeholder.hidden = true;
  downloadDiv.hidden = false;
}

// clearRecording takes the previous recording away (player and link) when Start is pressed, so
// that a Start that fails does not leave an older file looking like its result.
function clearRecording() {
  recVideo.pause();
  recVideo.removeAttribute("src");
  recVideo.load();
  recVideo.controls = false;
  link.removeAttribute("href");
  $("recName").textContent = "";
  downloadDiv.hidden = true;
  placeholder.hidden = false;
}

recVideo.addEventListener("error", () => {
  if (!recVideo.getAttribute("src")) return;
  infoField.textContent = "The recording could not be played in this browser; the download link still has the file.";
});

function streamName(url: string): string {
  return url.split("/")[3] || "";
}

function serverOf(url: string): string {
  return url.split("/").slice(0, 3).join("/");
}

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error("could not load " + src));
    document.head.appendChild(s);
  });
}

async function init() {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    onButton();
  });
  try {
    const res = await fetch("/client/config.json", { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    config = (await res.json()) as ClientConfig;
  } catch (e) {
    showNotice(`The server's settings could not be read (${(e as Error).message}); the URL below uses the WCS default ports.`);
    config = { wsPort: 8080, wssPort: 8443, httpPort: 8081, httpsPort: 8444, version: "" };
  }
  $("version").textContent = config.version ? `streamrec ${config.version}` : "streamrec";
  const secure = location.protocol === "https:";
  const port = secure ? config.wssPort : config.wsPort;
  urlField.value = `${secure ? "wss" : "ws"}://${location.hostname}:${port || (secure ? 8443 : 8080)}/${randomName()}`;
  if (!port) {
    const other = secure ? config.wsPort : config.wssPort;
    showNotice(`WebSocket signalling is off on this server (${secure ? "wss.port" : "ws.port"} = 0)` +
      (other ? `; open this page over ${secure ? "http" : "https"} to use ${secure ? "ws" : "wss"}://…:${other}.` : "."));
  } else if (!window.isSecureContext) {
    showNotice(insecureText());
  }
  try {
    await loadScript(sdkUrl);
    Flashphoner = (window as unknown as { Flashphoner: FlashphonerApi }).Flashphoner;
    Flashphoner.init({});
  } catch (e) {
    showNotice("This browser cannot run the page: " + ((e as Error).message || "WebRTC is not supported") + ".");
    return;
  }
  onStopped();
}

init();
