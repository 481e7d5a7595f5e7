import { useEffect, useRef, useState } from "preact/hooks";
import { get, post, type Library, type LibraryFile, type LibraryGroup, type Track, type WritingFile } from "./api";
import { bytes, dateTime, duration } from "./format";
import { Banner, Confirm, type ConfirmState, Empty, PageHead } from "./ui";

// recordURL is where this node serves a file (another node's carries ?node=, since names are unique
// per node only).
const recordURL = (f: LibraryFile) => f.url || `/client/records/${encodeURIComponent(f.name)}`;

// othersOnly: every file of the group is another node's object in the bucket, which this node
// may not delete.
const othersOnly = (lib: Library, g: LibraryGroup) => !!lib.bucket && g.parts.every((p) => p.location === "bucket" && p.node !== lib.node);

function videoText(t?: Track): string {
  return t ? `${t.codec}${t.width ? ` ${t.width}×${t.height}` : ""}` : "";
}

function audioText(t?: Track): string {
  return t ? `${t.codec}${t.sampleRate ? ` ${+(t.sampleRate / 1000).toFixed(1)} kHz` : ""}` : "";
}

function codecs(f: { video?: Track; audio?: Track }): string {
  return [videoText(f.video), audioText(f.audio)].filter(Boolean).join(" + ") || "—";
}

// Codecs shows video and audio on a line each.
function Codecs({ f }: { f: { video?: Track; audio?: Track } }) {
  if (!f.video && !f.audio) return <>—</>;
  return (
    <>
      {f.video && <div>{videoText(f.video)}</div>}
      {f.audio && <div>{audioText(f.audio)}</div>}
    </>
  );
}

type SortKey = "start" | "stream" | "name" | "duration" | "size";

interface Playing {
  group: LibraryGroup;
  index: number;
}

// Recordings is the library of finished files in records/, read from disk by the server.
export function Recordings() {
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<SortKey>("start");
  const [desc, setDesc] = useState(true);
  const [page, setPage] = useState(1);
  const [size, setSize] = useState(25);
  const [lib, setLib] = useState<Library | null>(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [playing, setPlaying] = useState<Playing | null>(null);
  const [confirm, setConfirm] = useState<ConfirmState | null>(null);
  const [tick, setTick] = useState(0);
  const [node, setNode] = useState<string | null>(null); // null: every node
  const [fresh, setFresh] = useState(false); // the next listing asks for a fresh look at the bucket
  const [from, setFrom] = useState(""); // date filter, yyyy-mm-dd in the browser's time zone
  const [to, setTo] = useState("");
  const [picked, setPicked] = useState<Record<string, boolean>>({}); // selected recordings, by group id

  // The library lists again when a file is finished (the admin event stream says so) and, while
  // files are being written, every few seconds (their size grows); a new recording shows up when
  // the streams' recordings change.
  useEffect(() => {
    const es = new EventSource("/admin/api/events");
    let names: string | null = null; // the files the streams were recording at the last event
    es.addEventListener("recordings", () => setTick((t) => t + 1));
    es.addEventListener("streams", (e) => {
      const now = (JSON.parse((e as MessageEvent).data).streams as { recordName?: string; recording: boolean }[])
        .map((s) => (s.recording ? s.recordName || "" : ""))
        .join("|");
      if (names !== null && now !== names) setTick((t) => t + 1);
      names = now;
    });
    return () => es.close();
  }, []);
  const writing = lib?.writing.length ?? 0;
  useEffect(() => {
    if (!writing) return;
    const t = setInterval(() => setTick((n) => n + 1), 3000);
    return () => clearInterval(t);
  }, [writing]);

  // Filter as you type, without a request per key press.
  useEffect(() => {
    const t = setTimeout(() => {
      setQuery(q.trim());
      setPage(1);
    }, 250);
    return () => clearTimeout(t);
  }, [q]);

  useEffect(() => {
    const params = new URLSearchParams({ q: query, sort, order: desc ? "desc" : "asc", page: String(page), size: String(size) });
    if (node !== null) params.set("node", node);
    if (fresh) params.set("refresh", "1");
    if (from) params.set("from", dayStart(from).toISOString());
    if (to) params.set("to", dayStart(to, 1).toISOString());
    let stale = false;
    get<Library>(`/recordings?${params}`)
      .then((l) => {
        if (stale) return;
        setLib(l);
        setError("");
        setFresh(false);
        if (l.page !== page) setPage(l.page);
      })
      .catch((e) => !stale && setError(e.message));
    return () => {
      stale = true;
    };
  }, [query, sort, desc, page, size, tick, node, from, to]);

  const sortBy = (k: SortKey) => {
    if (k === sort) setDesc(!desc);
    else {
      setSort(k);
      setDesc(k === "start" || k === "size" || k === "duration");
    }
    setPage(1);
  };
  const Th = ({ k, label, cls }: { k: SortKey; label: string; cls?: string }) => (
    <th class={cls} data-label={label} aria-sort={sort === k ? (desc ? "descending" : "ascending") : "none"}>
      <button class="sort" onClick={() => sortBy(k)}>
        {label}
        <span class="arrow">{sort === k ? (desc ? "▼" : "▲") : ""}</span>
      </button>
    </th>
  );

  const remove = (names: string[], label: string, total: number) =>
    setConfirm({
      title: names.length > 1 ? "Delete recording and all its parts?" : "Delete recording?",
      body: (
        <p>
          <strong class="break">{label}</strong>
          <br />
          {names.length > 1 ? `${names.length} files, ` : ""}
          {bytes(total)} will be deleted from the records folder{lib?.bucket ? ", and from the bucket when this node recorded it" : ""}. This
          cannot be undone.
        </p>
      ),
      action: "Delete",
      danger: true,
      run: async () => {
        try {
          const r = await post("/recordings/delete", { names });
          const failed = Object.entries(r.errors || {});
          setNotice(failed.length ? "" : `Deleted ${r.deleted.length === 1 ? r.deleted[0] : `${r.deleted.length} files`}.`);
          setError(failed.map(([n, m]) => `${n}: ${m}`).join("; "));
        } catch (e) {
          setError((e as Error).message);
        }
        if (playing && playing.group.parts.some((p) => names.includes(p.name))) setPlaying(null);
        setPicked({});
        setTick((t) => t + 1);
      },
    });

  const deletable = lib ? lib.groups.filter((g) => !othersOnly(lib, g)) : [];
  const chosen = deletable.filter((g) => picked[g.id]);
  const removeChosen = () =>
    remove(
      chosen.flatMap((g) => g.parts.map((p) => p.name)),
      chosen.length === 1 ? chosen[0].id : `${chosen.length} recordings`,
      chosen.reduce((n, g) => n + g.size, 0),
    );
  const filtered = !!(query || from || to || node !== null);

  const first = lib && lib.total ? (lib.page - 1) * lib.size + 1 : 0;
  const last = lib ? Math.min(lib.page * lib.size, lib.total) : 0;

  return (
    <>
      <PageHead title="Recordings">
        <input
          class="search"
          type="search"
          placeholder="Filter by stream or file name"
          aria-label="Filter by stream or file name"
          list="stream-names"
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        />
        <span class="dates">
          <label>
            From{" "}
            <input type="date" aria-label="From date" value={from} max={to || undefined} onInput={(e) => (setFrom((e.target as HTMLInputElement).value), setPage(1))} />
          </label>
          <label>
            to{" "}
            <input type="date" aria-label="To date" value={to} min={from || undefined} onInput={(e) => (setTo((e.target as HTMLInputElement).value), setPage(1))} />
          </label>
        </span>
        <datalist id="stream-names">{lib?.streams.map((s) => <option key={s} value={s} />)}</datalist>
        {lib?.bucket && (
          <select
            class="node-filter"
            aria-label="Filter by node"
            value={node ?? "\u0000all"}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              setNode(v === "\u0000all" ? null : v);
              setPage(1);
            }}
          >
            <option value={"\u0000all"}>All nodes</option>
            {lib.nodes.map((n) => (
              <option key={n} value={n}>
                {n ? (n === lib.node ? `${n} (this node)` : n) : "unknown node"}
              </option>
            ))}
          </select>
        )}
        <button
          class="btn"
          onClick={() => {
            setFresh(true);
            setTick((t) => t + 1);
          }}
        >
          Refresh
        </button>
      </PageHead>
      {error && (
        <Banner kind="error" onClose={() => setError("")}>
          {error}
        </Banner>
      )}
      {notice && (
        <Banner kind="ok" onClose={() => setNotice("")}>
          {notice}
        </Banner>
      )}
      {lib?.bucket?.error && <Banner kind="error">{`Bucket ${lib.bucket.name}: ${lib.bucket.error}. Its recordings are listed as last seen.`}</Banner>}
      {lib?.bucket?.cut && (
        <Banner kind="error">{`The bucket holds more than ${lib.bucket.max} recordings: only the first ${lib.bucket.max} are listed.`}</Banner>
      )}
      {lib === null ? (
        <Empty>Loading recordings…</Empty>
      ) : lib.total === 0 && !(lib.writing.length && !filtered) ? (
        <Empty>
          {filtered ? (
            <>No recording matches {query ? `“${query}”` : "the filter"}.</>
          ) : (
            <>
              <strong>No finished recording in the records folder yet.</strong>
              <br />A file appears here as soon as its recording is complete.
            </>
          )}
        </Empty>
      ) : (
        <>
          <div class="bulk">
            <label>
              <input
                type="checkbox"
                aria-label="Select every recording of this page"
                checked={deletable.length > 0 && chosen.length === deletable.length}
                disabled={!deletable.length}
                onChange={(e) => setPicked((e.target as HTMLInputElement).checked ? Object.fromEntries(deletable.map((g) => [g.id, true])) : {})}
              />{" "}
              Select all
            </label>
            <span class="muted small" data-testid="selected">
              {chosen.length ? `${chosen.length} selected` : ""}
            </span>
            <button class="btn small danger-outline" disabled={!chosen.length} onClick={removeChosen}>
              Delete selected
            </button>
          </div>
          <div class="table-wrap">
            <table class="grid-table recordings">
              <thead>
                <tr>
                  <th class="sel" />
                  <th>Preview</th>
                  <Th k="stream" label="Stream" />
                  {lib.bucket && <th>Node</th>}
                  <Th k="name" label="Recording" />
                  <Th k="start" label="Started" />
                  <Th k="duration" label="Duration" cls="num" />
                  <Th k="size" label="Size" cls="num" />
                  <th>Codecs</th>
                  <th class="actions">Actions</th>
                </tr>
              </thead>
              <tbody>
                {lib.page === 1 && !filtered && lib.writing.map((w) => <WritingRow key={w.name} w={w} bucket={!!lib.bucket} />)}
                {lib.groups.map((g) => {
                  const multi = g.parts.length > 1;
                  const f = g.parts[0];
                  return [
                    <tr key={g.id} data-recording={g.id}>
                      <td class="sel">
                        <input
                          type="checkbox"
                          aria-label={`Select ${g.id}`}
                          checked={!!picked[g.id]}
                          disabled={othersOnly(lib, g)}
                          onChange={(e) => setPicked({ ...picked, [g.id]: (e.target as HTMLInputElement).checked })}
                        />
                      </td>
                      <td class="preview">
                        <Thumb f={f} />
                      </td>
                      <td class="name" title={g.stream || "unknown stream"}>
                        {g.stream || <span class="muted">unknown</span>}
                      </td>
                      {lib.bucket && <NodeCell node={g.node} self={lib.node} />}
                      <td class="file">
                        {multi && (
                          <button class="toggle" aria-expanded={!!open[g.id]} onClick={() => setOpen({ ...open, [g.id]: !open[g.id] })}>
                            {open[g.id] ? "▾" : "▸"}
                          </button>
                        )}
                        <span class="mono" title={multi ? g.id : f.name}>
                          {multi ? g.id : f.name}
                        </span>
                        {multi && <span class="badge parts">{g.parts.length} parts</span>}
                        {!multi && <Where f={f} bucket={!!lib.bucket} />}
                        {f.problem && (
                          <span class="badge failed" title={f.problem}>
                            unreadable
                          </span>
                        )}
                        <CutShort f={g.parts.find((p) => p.error)} />
                      </td>
                      <td class="nowrap" title={g.start}>
                        {dateTime(g.start)}
                      </td>
                      <td class="num">{duration(g.duration)}</td>
                      <td class="num">{bytes(g.size)}</td>
                      <td class="small nowrap">
                        <Codecs f={f} />
                      </td>
                      <td class="actions">
                        <button class="btn small primary" onClick={() => setPlaying({ group: g, index: 0 })}>
                          Play
                        </button>
                        {multi ? (
                          <button class="btn small" onClick={() => setOpen({ ...open, [g.id]: true })}>
                            Parts
                          </button>
                        ) : (
                          <a class="btn small" href={recordURL(f)} download={f.name}>
                            Download
                          </a>
                        )}
                        <button
                          class="btn small danger-outline"
                          disabled={othersOnly(lib, g)}
                          title={othersOnly(lib, g) ? `Recorded by node ${g.node || "unknown"}: delete it on that node` : undefined}
                          onClick={() => remove(g.parts.map((p) => p.name), multi ? g.id : f.name, g.size)}
                        >
                          Delete
                        </button>
                      </td>
                    </tr>,
                    multi && open[g.id]
                      ? g.parts.map((p, i) => (
                          <PartRow
                            key={p.name}
                            f={p}
                            bucket={!!lib.bucket}
                            onPlay={() => setPlaying({ group: g, index: i })}
                            onDelete={othersOnly(lib, g) ? undefined : () => remove([p.name], p.name, p.size)}
                          />
                        ))
                      : null,
                  ];
                })}
              </tbody>
            </table>
          </div>
          <div class="pager">
            <span>
              {lib.total ? (
                <>
                  {first}–{last} of {lib.total} recording{lib.total === 1 ? "" : "s"}
                  {filtered ? " matching the filter" : ""} · {lib.files} file{lib.files === 1 ? "" : "s"}, {bytes(lib.bytes)}
                </>
              ) : (
                "No finished recording yet"
              )}
              {lib.writing.length ? ` · ${lib.writing.length} being recorded` : ""}
            </span>
            <span class="pager-buttons">
              <label>
                Per page{" "}
                <select
                  value={size}
                  onChange={(e) => {
                    setSize(Number((e.target as HTMLSelectElement).value));
                    setPage(1);
                  }}
                >
                  {[25, 50, 100, 200].map((n) => (
                    <option key={n} value={n}>
                      {n}
                    </option>
                  ))}
                </select>
              </label>
              <button class="btn small" disabled={lib.page <= 1} onClick={() => setPage(lib.page - 1)}>
                ‹ Previous
              </button>
              <span>
                page {lib.page} of {lib.pages}
              </span>
              <button class="btn small" disabled={lib.page >= lib.pages} onClick={() => setPage(lib.page + 1)}>
                Next ›
              </button>
            </span>
          </div>
        </>
      )}
      <p class="footnote">
        The library is read from the records folder on disk (<code>{lib?.folder || "records/"}</code>) each time this page loads, so it
        survives restarts and shows files copied in by hand; files being written are listed first with their size so far, and join the
        library by themselves once complete. Stream names and
        part numbers come from a small index the server keeps next to the files.
        {lib?.bucket && (
          <>
            {" "}
            The recordings of every node sharing the bucket <code>{lib.bucket.name}</code> are listed too (read again every 15 s, or on
            Refresh), and play and download from this node; a node deletes only its own recordings from the bucket.
          </>
        )}
      </p>
      {playing && <Player playing={playing} onNext={(i) => setPlaying({ ...playing, index: i })} onClose={() => setPlaying(null)} />}
      <Confirm state={confirm} onClose={() => setConfirm(null)} />
    </>
  );
}

// dayStart is the start of the day yyyy-mm-dd (plus days) in the browser's time zone.
function dayStart(day: string, days = 0): Date {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + days);
}

// Thumb shows a recording's first keyframe, made once by the server; a file without video, or
// that this node does not hold, gets a placeholder.
function Thumb({ f }: { f: LibraryFile }) {
  const [failed, setFailed] = useState(false);
  useEffect(() => setFailed(false), [f.name, f.size]);
  if (failed || !f.video || f.location === "bucket") {
    return <div class="thumb none">{f.video ? "no preview" : "audio only"}</div>;
  }
  return (
    <img
      class="thumb"
      loading="lazy"
      alt=""
      width={80}
      height={45}
      src={`/admin/api/recordings/thumb/${encodeURIComponent(f.name)}?v=${f.size}`}
      onError={() => setFailed(true)}
    />
  );
}

// WritingRow is a file being recorded now, with its size so far; it joins the library, playable,
// once finished.
function WritingRow({ w, bucket }: { w: WritingFile; bucket: boolean }) {
  return (
    <tr class="writing-row" data-writing={w.name}>
      <td class="sel" />
      <td class="preview">
        <div class="thumb none">recording</div>
      </td>
      <td class="name">{w.stream || <span class="muted">unknown</span>}</td>
      {bucket && <td />}
      <td class="file">
        <span class="mono">{w.name}</span>
        <span class="badge failed parts">
          <span class="rec-dot" />
          recording
        </span>
      </td>
      <td class="nowrap">{dateTime(w.start)}</td>
      <td class="num">—</td>
      <td class="num">{bytes(w.size)}</td>
      <td class="small">—</td>
      <td class="actions muted small">being written</td>
    </tr>
  );
}

// CutShort marks a file that a write error (a full disk) ended early, or that a crash left open and
// the next start finished ("recovered"); the error is its tooltip.
function CutShort({ f }: { f?: LibraryFile }) {
  if (!f?.error) return null;
  if (f.error.startsWith("recovered after a crash")) {
    return (
      <span class="badge failed" title={`Left open by a crash and finished at the next start: ${f.error}. It plays up to its last complete fragment.`}>
        recovered
      </span>
    );
  }
  return (
    <span class="badge failed" title={`Ended by a write error: ${f.error}. It plays up to its last complete fragment.`}>
      cut short
    </span>
  );
}

// NodeCell names the node that made a recording, marked when it is this one.
function NodeCell({ node, self }: { node: string; self: string }) {
  return (
    <td class="node nowrap" title={node === self ? "recorded by this node" : `recorded by node ${node || "unknown"}`}>
      {node ? <span class={`badge node${node === self ? " self" : ""}`}>{node}</span> : <span class="muted">unknown</span>}
    </td>
  );
}

const whereText: Record<string, string> = {
  local: "on this node's disk only",
  bucket: "in the bucket only: served from there",
  both: "on this node's disk and in the bucket",
};

// Where badges a file's upload status (local / queued / uploading / uploaded / failed, the
// reason as its tooltip) and where it is; nothing while no bucket is set.
function Where({ f, bucket }: { f: LibraryFile; bucket: boolean }) {
  if (!bucket) return null;
  const title = [f.status === "failed" && f.statusReason ? `upload failed: ${f.statusReason}` : f.statusReason, whereText[f.location]]
    .filter(Boolean)
    .join(" · ");
  const cls = f.status === "failed" ? "failed" : f.status === "uploaded" ? "publishing" : f.status === "local" ? "unpublished" : "pending";
  return (
    <span class={`badge where ${cls}`} data-status={f.status} data-location={f.location} title={title}>
      {f.location === "bucket" ? "bucket" : f.status}
    </span>
  );
}

function PartRow({ f, bucket, onPlay, onDelete }: { f: LibraryFile; bucket: boolean; onPlay: () => void; onDelete?: () => void }) {
  return (
    <tr class="part-row">
      <td />
      <td />
      <td />
      {bucket && <td />}
      <td class="file">
        <span class="part-no">part {f.part}</span>
        <span class="mono" title={f.name}>
          {f.name}
        </span>
        <Where f={f} bucket={bucket} />
        <CutShort f={f} />
      </td>
      <td class="nowrap" title={f.start}>
        {dateTime(f.start)}
      </td>
      <td class="num">{duration(f.duration)}</td>
      <td class="num">{bytes(f.size)}</td>
      <td class="small nowrap">
        <Codecs f={f} />
      </td>
      <td class="actions">
        <button class="btn small" onClick={onPlay}>
          Play
        </button>
        <a class="btn small" href={recordURL(f)} download={f.name}>
          Download
        </a>
        <button class="btn small danger-outline" disabled={!onDelete} title={onDelete ? undefined : `Recorded by node ${f.node}: delete it on that node`} onClick={onDelete}>
          Delete
        </button>
      </td>
    </tr>
  );
}

// Player plays a recording in the page; the parts of a rotated recording play one after another.
function Player({ playing, onNext, onClose }: { playing: Playing; onNext: (i: number) => void; onClose: () => void }) {
  const { group, index } = playing;
  const f = group.parts[index];
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    setError("");
    const key = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [f.name]);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog player" role="dialog" aria-modal="true" aria-label={`Playing ${f.name}`}>
        <div class="player-head">
          <div>
            <strong>{group.stream || "Recording"}</strong>
            <div class="mono small break">{f.name}</div>
          </div>
          <button class="icon" aria-label="Close player" onClick={onClose}>
            ×
          </button>
        </div>
        <video
          ref={video}
          key={f.name}
          src={recordURL(f)}
          controls
          autoPlay
          playsInline
          onEnded={() => index + 1 < group.parts.length && onNext(index + 1)}
          onError={() => setError("This browser cannot play the file; download it instead.")}
        />
        {error && <p class="field-error">{error}</p>}
        <div class="player-foot">
          <span class="muted small">
            {group.parts.length > 1 ? `Part ${index + 1} of ${group.parts.length} · ` : ""}
            {duration(f.duration)} · {bytes(f.size)} · {codecs(f)}
          </span>
          <span>
            {group.parts.length > 1 && (
              <>
                <button class="btn small" disabled={index === 0} onClick={() => onNext(index - 1)}>
                  ‹ Part
                </button>{" "}
                <button class="btn small" disabled={index + 1 >= group.parts.length} onClick={() => onNext(index + 1)}>
                  Part ›
                </button>{" "}
              </>
            )}
            <a class="btn small" href={recordURL(f)} download={f.name}>
              Download
            </a>
          </span>
        </div>
      </div>
    </div>
  );
}
