import { bytes, dateTime, uptime } from "./format";
import { Banner, Empty, PageHead, useNow, usePoll } from "./ui";

interface Info {
  version: string;
  goVersion: string;
  started: string;
  uptimeSeconds: number;
  streams: number;
  activeRecordings: number;
  records: string;
  settingsFile: string;
  disk?: { free: number; total: number; low: boolean };
  diskError?: string;
}

// ServerPage shows version, uptime, disk space of the records folder and activity.
export function ServerPage() {
  const { data: info, error } = usePoll<Info>("/server");
  const now = useNow();
  if (!info) return <>{error ? <Banner kind="error">{error}</Banner> : <Empty>Loading…</Empty>}</>;
  const up = Math.max(0, (now - new Date(info.started).getTime()) / 1000);
  const d = info.disk;
  const usedShare = d && d.total ? 1 - d.free / d.total : 0;
  return (
    <>
      <PageHead title="Server" />
      {error && <Banner kind="error">{error}</Banner>}
      {d?.low && (
        <Banner kind="warn">
          Disk space is low in the records folder: {bytes(d.free)} free. Recordings stop with an error when the disk is full.
        </Banner>
      )}
      <div class="cards">
        <div class="card">
          <div class="card-label">Version</div>
          <div class="card-value">{info.version}</div>
          <div class="card-sub">{info.goVersion}</div>
        </div>
        <div class="card">
          <div class="card-label">Uptime</div>
          <div class="card-value">{uptime(up)}</div>
          <div class="card-sub">since {dateTime(info.started)}</div>
        </div>
        <div class="card">
          <div class="card-label">Active recordings</div>
          <div class="card-value" data-testid="active-recordings">
            {info.activeRecordings}
          </div>
          <div class="card-sub">
            {info.streams} stream{info.streams === 1 ? "" : "s"} published
          </div>
        </div>
        <div class={`card ${d?.low ? "low" : ""}`}>
          <div class="card-label">Disk free in records/</div>
          <div class="card-value">{d ? bytes(d.free) : "—"}</div>
          {d ? (
            <>
              <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(usedShare * 100)} aria-label="Disk used">
                <div style={{ width: `${Math.round(usedShare * 100)}%` }} />
              </div>
              <div class="card-sub">
                of {bytes(d.total)} · {Math.round((1 - usedShare) * 100)}% free
              </div>
            </>
          ) : (
            <div class="card-sub">{info.diskError}</div>
          )}
        </div>
      </div>
      <section class="panel">
        <h2>Paths</h2>
        <dl class="paths">
          <dt>Records folder</dt>
          <dd class="mono">{info.records}</dd>
          <dt>Settings file</dt>
          <dd class="mono">{info.settingsFile}</dd>
        </dl>
      </section>
    </>
  );
}
