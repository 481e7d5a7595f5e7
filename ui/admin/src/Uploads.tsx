import { bytes, dateTime } from "./format";
import { Banner, Empty, PageHead, usePoll } from "./ui";

interface UploadStatus {
  name: string;
  state: string;
  bytes: number;
  attempts?: number;
  error?: string;
  nextTry?: string;
  queued?: string;
}

interface UploadsInfo {
  enabled: boolean;
  endpoint: string;
  bucket: string;
  prefix: string;
  deleteLocal: boolean;
  summary?: {
    counts: Record<string, number>;
    uploaded: number;
    bytesUploaded: number;
    lastError?: string;
    lastErrorFile?: string;
    lastErrorAt?: string;
    failing: UploadStatus[];
  };
}

const states = ["queued", "uploading", "failed", "uploaded"];

// Uploads shows the upload queue to record_s3_bucket: files per state, what went since the
// start, and the files whose last attempt failed (they are retried).
export function Uploads() {
  const { data: info, error } = usePoll<UploadsInfo>("/uploads");
  const s = info?.summary;
  return (
    <>
      <PageHead title="Uploads">
        {info?.enabled && (
          <span class="muted small">
            <code>{info.endpoint || "AWS S3"}</code> · bucket <code>{info.bucket}</code>
            {info.prefix && (
              <>
                {" "}
                · prefix <code>{info.prefix}</code>
              </>
            )}
            {info.deleteLocal && " · local copies deleted once uploaded"}
          </span>
        )}
      </PageHead>
      {error && <Banner kind="error">{error}</Banner>}
      {info === null ? (
        <Empty>Loading…</Empty>
      ) : !info.enabled || !s ? (
        <Empty>Upload is off: set record_s3_bucket (Settings) and restart to upload every finished recording to an S3-compatible bucket.</Empty>
      ) : (
        <>
          <div class="upload-counts">
            {states.map((st) => (
              <span key={st} class={`badge ${st === "failed" ? "failed" : st === "uploaded" ? "publishing" : "pending"}`} data-state={st}>
                {st} {s.counts[st] ?? 0}
              </span>
            ))}
            <span class="muted small">
              since the start: {s.uploaded} files, {bytes(s.bytesUploaded)}
            </span>
          </div>
          {s.lastError && (
            <p class="small">
              Last error ({dateTime(s.lastErrorAt)}, {s.lastErrorFile}): <span class="error-text">{s.lastError}</span>
            </p>
          )}
          {s.failing.length > 0 && (
            <div class="table-wrap">
              <table class="grid-table uploads">
                <thead>
                  <tr>
                    <th>File</th>
                    <th class="num">Size</th>
                    <th class="num">Attempts</th>
                    <th>Next try</th>
                    <th>Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {s.failing.map((f) => (
                    <tr key={f.name}>
                      <td class="name">{f.name}</td>
                      <td class="num">{bytes(f.bytes)}</td>
                      <td class="num">{f.attempts}</td>
                      <td>{dateTime(f.nextTry)}</td>
                      <td class="error-text">{f.error}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  );
}
