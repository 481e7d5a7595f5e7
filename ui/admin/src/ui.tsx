import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get } from "./api";

export function Banner({ kind, children, onClose }: { kind: "error" | "ok" | "info" | "warn"; children: ComponentChildren; onClose?: () => void }) {
  return (
    <div class={`banner ${kind}`} role={kind === "error" ? "alert" : "status"}>
      <div class="banner-text">{children}</div>
      {onClose && (
        <button class="icon" aria-label="Dismiss" onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}

export interface ConfirmState {
  title: string;
  body: ComponentChildren;
  action: string;
  danger?: boolean;
  run: () => Promise<void> | void;
}

// Confirm is a modal dialog asking before something that cannot be undone.
export function Confirm({ state, onClose }: { state: ConfirmState | null; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!state) return;
    setBusy(false);
    ok.current?.focus();
    const key = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [state]);
  if (!state) return null;
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dlg-title">
        <h2 id="dlg-title">{state.title}</h2>
        <div class="dialog-body">{state.body}</div>
        <div class="dialog-actions">
          <button class="btn" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            ref={ok}
            class={`btn ${state.danger ? "danger" : "primary"}`}
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await state.run();
              } finally {
                onClose();
              }
            }}
          >
            {state.action}
          </button>
        </div>
      </div>
    </div>
  );
}

// PageHead is a page's title and tools; below holds what belongs to the tools but needs a line
// of its own (the result of Save, kept in sight with the sticky bar).
export function PageHead({ title, children, sticky, below }: { title: string; children?: ComponentChildren; sticky?: boolean; below?: ComponentChildren }) {
  return (
    <div class={`page-head${sticky ? " sticky" : ""}`}>
      <h1>{title}</h1>
      <div class="page-tools">{children}</div>
      {below && <div class="page-below">{below}</div>}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

// useNow re-renders every interval ms with the current time.
export function useNow(interval = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), interval);
    return () => clearInterval(t);
  }, [interval]);
  return now;
}

// usePoll reads GET /admin/api<path> now and every interval ms, keeping the last answer while a
// later call fails (error then says why).
export function usePoll<T>(path: string, interval = 5000): { data: T | null; error: string } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () =>
      get<T>(path)
        .then((d) => {
          setData(d);
          setError("");
        })
        .catch((e) => setError(e.message));
    load();
    const t = setInterval(load, interval);
    return () => clearInterval(t);
  }, [path, interval]);
  return { data, error };
}

// A page with unsaved edits registers a guard: leaving it (another page of the dashboard, or
// closing, reloading or leaving the tab) asks first.
let guard: (() => string) | null = null;

// leaveOK says whether the current page may be left: true when nothing is unsaved, or the user
// agrees to lose it.
export function leaveOK(): boolean {
  const reason = guard?.();
  return !reason || window.confirm(reason);
}

// useLeaveGuard asks before leaving while message() returns a text ("" = nothing unsaved).
export function useLeaveGuard(message: () => string) {
  const current = useRef(message);
  current.current = message;
  useEffect(() => {
    const g = () => current.current();
    guard = g;
    const unload = (e: BeforeUnloadEvent) => {
      if (!g()) return;
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", unload);
    return () => {
      if (guard === g) guard = null;
      window.removeEventListener("beforeunload", unload);
    };
  }, []);
}
