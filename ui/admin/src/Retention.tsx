import { bytes, dateTime, uptime } from "./format";
import { Banner, Empty, PageHead, usePoll } from "./ui";

// The settings of the records folder's cleaner; the Settings page edits them in their own section.
export const retentionKeys = ["record_delete_after", "record_min_free_space", "record_max_total_size"];

interface Deletion {
  time: string;
  name: string;
  size: number;
  ageSeconds: number;
  reason: string;
}

interface RetentionInfo {
  available: boolean;
  deleteAfter: string;
  minFreeSpace: string;
  maxTotalSize: string;
  refused: string;
  lastPass?: string;
  deletions: Deletion[];
}

// Retention shows the retention settings in effect, whether new recordings are refused for
// lack of space, and the last deletions (GET /admin/api/retention).
export function Retention() {
  const { data: info, error } = usePoll<RetentionInfo>("/retention");
  return (
    <>
      <PageHead title="Retention">
        {info?.lastPass && <span class="muted small">Last pass {dateTime(info.lastPass)}</span>}
      </PageHead>
      {error && <Banner kind="error">{error}</Banner>}
      {info === null ? (
        <Empty>Loading…</Empty>
      ) : !info.available ? (
        <Empty>This server does not delete recordings by itself.</Empty>
      ) : (
        <>
          {info.refused ? (
            <Banner kind="error">
              <strong>New recordings are refused:</strong> {info.refused}. Recordings already running go on.
            </Banner>
          ) : (
            <Banner kind="ok">New recordings are accepted.</Banner>
          )}
          <div class="cards" data-testid="retention-settings">
            <Setting name="record_delete_after" value={info.deleteAfter} on="finished recordings older than this are deleted" off="kept forever" />
            <Setting name="record_min_free_space" value={info.minFreeSpace} on="kept free on the records disk, oldest deleted first" off="only the 64 MB a recording needs to start" />
            <Setting name="record_max_total_size" value={info.maxTotalSize} on="of recordings kept at most, oldest deleted first" off="no bound" />
          </div>
          <p class="muted small">
            Edit them on the <a href="#/settings">Settings</a> page; a change applies at the next pass (every 10 s and after each finished file).
            Files being written are never deleted.
          </p>
          {info.deletions.length === 0 ? (
            <Empty>Nothing deleted since the server started.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="grid-table deletions">
                <thead>
                  <tr>
                    <th>Deleted</th>
                    <th>File</th>
                    <th class="num">Size</th>
                    <th class="num">Age</th>
                    <th>Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {info.deletions.map((d, i) => (
                    <tr key={i}>
                      <td>{dateTime(d.time)}</td>
                      <td class="mono small break">{d.name}</td>
                      <td class="num">{bytes(d.size)}</td>
                      <td class="num">{uptime(d.ageSeconds)}</td>
                      <td>{d.reason}</td>
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

// Setting is one retention setting in effect: its value and what it does, or what happens unset.
function Setting({ name, value, on, off }: { name: string; value: string; on: string; off: string }) {
  return (
    <div class="card">
      <div class="card-label">
        <code>{name}</code>
      </div>
      <div class="card-value">{value || "not set"}</div>
      <div class="card-sub">{value ? on : off}</div>
    </div>
  );
}
