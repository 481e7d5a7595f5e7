import { useEffect, useState } from "preact/hooks";
import { ApiError, api, get, type SettingRow } from "./api";
import { Banner, Empty, PageHead, useLeaveGuard } from "./ui";
import { retentionKeys } from "./Retention";

const choices: Record<string, string[]> = {
  stream_record_policy: ["template", "streamName"],
  encode_record_name: ["false", "true,HEX", "true,BASE64"],
};

function options(row: SettingRow): string[] | null {
  if (choices[row.key]) return choices[row.key];
  if (row.default === "true" || row.default === "false") return ["true", "false"];
  return null;
}

const sections: { title: string; note: string; pick: (r: SettingRow) => boolean }[] = [
  {
    title: "Recording",
    note: "Saved values apply to recordings that start after saving; recordings in progress keep the settings they started with.",
    pick: (r) => !r.restart && !r.secret && !retentionKeys.includes(r.key),
  },
  {
    title: "Retention",
    note: "Finished recordings are deleted as these say, from the next pass on (every 10 s and after each finished file); the Retention page lists what was deleted.",
    pick: (r) => retentionKeys.includes(r.key),
  },
  {
    title: "Listeners and network",
    note: "These take effect when the server restarts.",
    pick: (r) => r.restart && !r.secret,
  },
  { title: "Dashboard", note: "A new password applies at once; other logged-in browsers must log in again.", pick: (r) => r.secret },
];

// Settings edits conf/flashphoner.properties through the server, which validates every value.
export function Settings() {
  const [rows, setRows] = useState<SettingRow[] | null>(null);
  const [file, setFile] = useState("");
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get("/settings")
      .then((r) => {
        setRows(r.settings);
        setFile(r.file);
      })
      .catch((e) => setMessage({ kind: "error", text: e.message }));
  }, []);

  const changed = rows ? Object.keys(edits).filter((k) => edits[k] !== rows.find((r) => r.key === k)?.value) : [];
  useLeaveGuard(() =>
    changed.length ? `Leave the settings? ${changed.length} unsaved change${changed.length > 1 ? "s" : ""} (${changed.join(", ")}) will be lost.` : "",
  );

  const save = async (e: Event) => {
    e.preventDefault();
    if (!changed.length) return;
    setBusy(true);
    setMessage(null);
    const values: Record<string, string> = {};
    for (const k of changed) values[k] = edits[k];
    try {
      const r = await api("PUT", "/settings", { values });
      setRows(r.settings);
      setEdits({});
      setErrors({});
      const restart = (r.settings as SettingRow[]).filter((s) => changed.includes(s.key) && s.restart);
      setMessage({
        kind: "ok",
        text:
          `Saved ${changed.join(", ")} to ${r.file}.` +
          (restart.length ? ` Restart the server to apply ${restart.map((s) => s.key).join(", ")}.` : " New recordings use the new values."),
      });
    } catch (err) {
      const ae = err as ApiError;
      setErrors(ae.errors || {});
      setMessage({ kind: "error", text: ae.status === 422 ? "Nothing was saved: fix the values marked below. The settings file is unchanged." : ae.message });
    } finally {
      setBusy(false);
    }
  };

  const field = (r: SettingRow) => {
    const value = edits[r.key] ?? r.value;
    const set = (v: string) => {
      setEdits({ ...edits, [r.key]: v });
      if (errors[r.key]) {
        const { [r.key]: _, ...rest } = errors;
        setErrors(rest);
      }
    };
    const opts = options(r);
    const id = `set-${r.key}`;
    const common = {
      id,
      name: r.key,
      "aria-invalid": errors[r.key] ? ("true" as const) : undefined,
      "aria-describedby": `${id}-help${errors[r.key] ? ` ${id}-err` : ""}`,
    };
    return (
      <div class={`setting ${errors[r.key] ? "invalid" : ""} ${changed.includes(r.key) ? "changed" : ""}`} key={r.key} data-key={r.key}>
        <div class="setting-label">
          <label for={id} class="mono">
            {r.key}
          </label>
          {r.restart && <span class="badge restart">restart</span>}
          {r.pending && (
            <span class="badge pending" title="Saved, but the running server still uses the value it started with">
              saved · restart to apply
            </span>
          )}
        </div>
        <div class="setting-input">
          {opts ? (
            <select {...common} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
              {(opts.includes(value) ? opts : [value, ...opts]).map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          ) : r.secret ? (
            <input
              {...common}
              type="password"
              autoComplete="new-password"
              placeholder={r.set ? "•••••••• (set; type a new one to change it)" : "not set"}
              value={value}
              onInput={(e) => set((e.target as HTMLInputElement).value)}
            />
          ) : (
            <input {...common} type="text" spellcheck={false} value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} />
          )}
          {errors[r.key] && (
            <div id={`${id}-err`} class="field-error" role="alert">
              {errors[r.key]}
            </div>
          )}
        </div>
        <div class="setting-help" id={`${id}-help`}>
          {r.help}
          <span class="default">
            default: <code>{r.secret ? "(generated)" : r.default === "" ? "(empty)" : r.default}</code>
          </span>
        </div>
      </div>
    );
  };

  return (
    <form onSubmit={save} class="settings-form">
      <PageHead
        title="Settings"
        sticky
        below={
          message && (
            <Banner kind={message.kind} onClose={() => setMessage(null)}>
              {message.text}
            </Banner>
          )
        }
      >
        <span class="muted small">{changed.length ? `${changed.length} unsaved change${changed.length > 1 ? "s" : ""}` : "No changes"}</span>
        <button class="btn" type="button" disabled={!changed.length || busy} onClick={() => (setEdits({}), setErrors({}), setMessage(null))}>
          Discard
        </button>
        <button class="btn primary" type="submit" disabled={!changed.length || busy}>
          {busy ? "Saving…" : "Save"}
        </button>
      </PageHead>
      {rows === null ? (
        <Empty>Loading settings…</Empty>
      ) : (
        sections.map((s) => (
          <section class="panel" key={s.title}>
            <h2>{s.title}</h2>
            <p class="muted small">{s.note}</p>
            {rows.filter(s.pick).map(field)}
          </section>
        ))
      )}
      {file && (
        <p class="footnote">
          Saved to <code>{file}</code>; comments, order and settings streamrec does not know are kept. A value that does not parse is
          refused with the reason, and then nothing is written.
        </p>
      )}
    </form>
  );
}
