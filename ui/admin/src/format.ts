export function bytes(n: number): string {
  if (!isFinite(n) || n < 0) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

export function bitrate(bps: number): string {
  if (!bps) return "—";
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  return `${Math.round(bps / 1e3)} kbit/s`;
}

export function duration(seconds: number): string {
  if (!seconds || seconds < 0) return "—";
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h ${m} min`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${Math.floor(seconds % 60)} s`;
}

// Times show seconds and the time zone, so that what the dashboard says matches the logs of
// another machine.
const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });

export function dateTime(iso?: string): string {
  if (!iso || iso.startsWith("0001-")) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? "—" : dateFmt.format(d);
}

export function clock(iso?: string): string {
  if (!iso || iso.startsWith("0001-")) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? "—" : timeFmt.format(d);
}

export function since(iso: string | undefined, now: number): number {
  if (!iso) return 0;
  return Math.max(0, (now - new Date(iso).getTime()) / 1000);
}

export function protocol(provider: string): string {
  return provider === "Flash" ? "RTMP" : provider;
}

// codec names the registry uses (WCS style) as people know them.
export function codec(c?: string): string {
  if (!c) return "";
  return c === "mpeg4-generic" ? "AAC" : c;
}
