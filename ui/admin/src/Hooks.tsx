import type { HookRun } from "./api";
import { dateTime } from "./format";
import { Banner, Empty, PageHead, usePoll } from "./ui";

interface WebhookDelivery {
  event: string;
  id: string;
  stream: string;
  file?: string;
  url: string;
  time: string;
  attempts: number;
  status: number;
  error?: string;
  took: number;
}

interface HooksInfo {
  available: boolean;
  script: string;
  timeout: number;
  runs: HookRun[];
  webhooks?: { url: string; signed: boolean; deliveries: WebhookDelivery[] };
}

// Hooks lists recent runs of the finish hook script (on_record_hook_script).
export function Hooks() {
  const { data: info, error } = usePoll<HooksInfo>("/hooks");
  return (
    <>
      <PageHead title="Hooks">
        {info && (
          <span class="muted small">
            Script: <code>{info.script || "(none)"}</code> · timeout {info.timeout} s
          </span>
        )}
      </PageHead>
      {error && <Banner kind="error">{error}</Banner>}
      {info === null ? (
        <Empty>Loading…</Empty>
      ) : !info.available ? (
        <Empty>This server does not report hook runs; the hook script's exit code and output are in the server log.</Empty>
      ) : info.runs.length === 0 ? (
        <Empty>
          No hook has run since the server started. The script runs once for every finished recording file, with the stream name and the
          file's absolute path.
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="grid-table hooks">
            <thead>
              <tr>
                <th>Started</th>
                <th>Stream</th>
                <th>File</th>
                <th>Exit</th>
                <th class="num">Took</th>
                <th>Output (end)</th>
              </tr>
            </thead>
            <tbody>
              {info.runs.map((r, i) => (
                <tr key={i}>
                  <td>{dateTime(r.started)}</td>
                  <td class="name">{r.streamName}</td>
                  <td class="mono small break" title={r.file}>
                    {r.file.split("/").pop()}
                    {r.fileError && <div class="error-text">{r.recovered ? "file recovered" : "file cut short"}: {r.fileError}</div>}
                  </td>
                  <td>
                    <span class={`badge ${r.error ? "failed" : "publishing"}`}>{r.timedOut ? "timeout" : r.exitCode}</span>
                  </td>
                  <td class="num">{(r.tookMs / 1000).toFixed(2)} s</td>
                  <td>
                    {r.error && <div class="error-text">{r.error}</div>}
                    {r.stdout || r.stderr ? (
                      <pre class="output">{[r.stdout, r.stderr].filter(Boolean).join("\n")}</pre>
                    ) : (
                      <span class="muted">no output</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {info?.webhooks && <Webhooks {...info.webhooks} />}
    </>
  );
}

// Webhooks lists the latest deliveries of on_record_webhook_url events.
function Webhooks({ url, signed, deliveries }: { url: string; signed: boolean; deliveries: WebhookDelivery[] }) {
  return (
    <section class="webhooks">
      <h2>Webhooks</h2>
      <p class="muted small">
        {url ? (
          <>
            Events go to <code>{url}</code> · {signed ? "signed (X-Streamrec-Signature-256)" : "unsigned"}
          </>
        ) : (
          <>No webhook: set on_record_webhook_url to get an HTTP POST for every recording started, file finished, recording failed and file uploaded.</>
        )}
      </p>
      {deliveries.length > 0 && (
        <div class="table-wrap">
          <table class="grid-table webhooks">
            <thead>
              <tr>
                <th>Time</th>
                <th>Event</th>
                <th>Stream</th>
                <th>File</th>
                <th>Result</th>
                <th class="num">Tries</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id} data-event={d.event}>
                  <td>{dateTime(d.time)}</td>
                  <td class="mono small">{d.event}</td>
                  <td class="name">{d.stream}</td>
                  <td class="mono small break">{d.file || "—"}</td>
                  <td>
                    <span class={`badge ${d.error ? "failed" : "publishing"}`}>{d.status || "no answer"}</span>
                    {d.error && <div class="error-text">{d.error}</div>}
                  </td>
                  <td class="num">
                    {d.attempts} · {d.took.toFixed(1)} s
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
