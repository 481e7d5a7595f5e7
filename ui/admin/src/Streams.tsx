import { useEffect, useState } from "preact/hooks";
import { get, post, type StreamRow } from "./api";
import { bitrate, clock, codec, duration, protocol, since } from "./format";
import { Banner, Confirm, type ConfirmState, Empty, PageHead, useNow } from "./ui";

type Live = "connecting" | "live" | "lost";

// Streams is the live table of published streams, fed by Server-Sent Events.
export function Streams() {
  const [rows, setRows] = useState<StreamRow[] | null>(null);
  const [live, setLive] = useState<Live>("connecting");
  const [message, setMessage] = useState<{ kind: "error" | "ok"; text: string } | null>(null);
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [confirm, setConfirm] = useState<ConfirmState | null>(null);
  const now = useNow();

  useEffect(() => {
    const es = new EventSource("/admin/api/events");
    es.addEventListener("streams", (e) => {
      setRows(JSON.parse((e as MessageEvent).data).streams);
      setLive("live");
    });
    es.onerror = () => {
      setLive("lost");
      // A closed stream after an error is a 401 or a server restart: ask the session (a 401 logs out).
      if (es.readyState === EventSource.CLOSED) get("/session").catch(() => {});
    };
    return () => es.close();
  }, []);

  const act = async (s: StreamRow, call: string, done: string) => {
    setBusy((b) => ({ ...b, [s.mediaSessionId]: true }));
    setMessage(null);
    try {
      const r = await post(`/streams/${call}`, { mediaSessionId: s.mediaSessionId });
      const files: string[] = r.files || [];
      setMessage({ kind: "ok", text: done + (files.length ? `: ${files.join(", ")}` : "") });
    } catch (e) {
      setMessage({ kind: "error", text: `${s.name}: ${(e as Error).message}` });
    } finally {
      setBusy((b) => ({ ...b, [s.mediaSessionId]: false }));
    }
  };

  return (
    <>
      <PageHead title="Streams">
        <span class={`live ${live}`} title="The list updates by itself over Server-Sent Events">
          {live === "live" ? "Live" : live === "connecting" ? "Connecting…" : "Reconnecting…"}
        </span>
      </PageHead>
      {message && (
        <Banner kind={message.kind} onClose={() => setMessage(null)}>
          {message.text}
        </Banner>
      )}
      {rows === null ? (
        <Empty>Loading streams…</Empty>
      ) : rows.length === 0 ? (
        <Empty>
          <strong>No stream is published right now.</strong>
          <br />
          Publish from the <a href="/">demo page</a> (WebRTC), with ffmpeg or OBS over RTMP
          (<code>rtmp://HOST:1935/live/NAME</code>), with OBS 30+ over WHIP (<code>http://HOST:8081/whip/NAME</code>), or over
          RTSP; it appears here at once.
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="grid-table streams">
            <thead>
              <tr>
                <th>Stream · mediaSessionId</th>
                <th>Protocol</th>
                <th>Codecs · resolution</th>
                <th class="num">Bitrate</th>
                <th>Status</th>
                <th>Recording</th>
                <th class="actions">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.mediaSessionId} data-stream={s.name}>
                  <td class="stream-cell">
                    <div class="name" title={s.name}>
                      {s.name}
                    </div>
                    <div class="mono id" title={s.mediaSessionId}>
                      {s.mediaSessionId}
                    </div>
                  </td>
                  <td>{protocol(s.mediaProvider)}</td>
                  <td class="nowrap media">
                    {s.videoCodec && (
                      <div>
                        {codec(s.videoCodec)}
                        {s.width && s.height ? <span class="muted"> · {`${s.width}×${s.height}`}</span> : ""}
                      </div>
                    )}
                    {s.audioCodec && <div>{codec(s.audioCodec)}</div>}
                    {!s.videoCodec && !s.audioCodec && "—"}
                  </td>
                  <td class="num">{bitrate(s.bitrate)}</td>
                  <td>
                    <span class={`badge ${s.status.toLowerCase()}`}>{s.status}</span>
                  </td>
                  <td class="rec">
                    {s.recording ? (
                      <>
                        <span class="rec-dot" aria-hidden="true" />
                        <span class="rec-since" title={`recording since ${clock(s.recordSince)}`}>
                          {duration(since(s.recordSince, now))} · since {clock(s.recordSince)}
                        </span>
                        <div class="mono small" title={s.recordName}>
                          {s.recordName}
                        </div>
                      </>
                    ) : s.recordError ? (
                      <span class="error-text" title={s.recordError}>
                        {s.recordError}
                      </span>
                    ) : s.recordName ? (
                      <span class="muted small" title={s.recordName}>
                        last: {s.recordName}
                      </span>
                    ) : s.notRecorded ? (
                      <span class="muted small not-recorded" title="Start recording records it all the same">
                        not recorded: {s.notRecorded}
                      </span>
                    ) : (
                      <span class="muted">not recording</span>
                    )}
                  </td>
                  <td class="actions">
                    {s.recording ? (
                      <button class="btn small" disabled={busy[s.mediaSessionId]} onClick={() => act(s, "stopRecording", `Recording of ${s.name} stopped`)}>
                        Stop recording
                      </button>
                    ) : (
                      <button
                        class="btn small primary"
                        disabled={busy[s.mediaSessionId] || s.status !== "PUBLISHING"}
                        onClick={() => act(s, "startRecording", `Recording of ${s.name} started`)}
                      >
                        Start recording
                      </button>
                    )}
                    <button
                      class="btn small danger-outline"
                      disabled={busy[s.mediaSessionId]}
                      onClick={() =>
                        setConfirm({
                          title: "Terminate stream?",
                          body: (
                            <p>
                              <strong>{s.name}</strong> ({protocol(s.mediaProvider)}) will be disconnected
                              {s.recording ? "; its recording is finished first and stays in the library" : ""}.
                            </p>
                          ),
                          action: "Terminate",
                          danger: true,
                          run: () => act(s, "terminate", `${s.name} terminated`),
                        })
                      }
                    >
                      Terminate
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="footnote">
        Start and stop recording here work exactly like REST <code>/rest-api/stream/startRecording</code> and{" "}
        <code>stopRecording</code>: the file starts at the last keyframe and is complete when the stop returns.
      </p>
      <Confirm state={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}
