// Calls to /admin/api. Every call sends the X-Streamrec header the server requires on changes
// (a cross-site form cannot send it); a 401 anywhere sends the user back to the login page.

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public errors: Record<string, string> = {},
    public data: any = undefined,
  ) {
    super(message);
  }
}

let unauthorized: () => void = () => {};
export function onUnauthorized(fn: () => void) {
  unauthorized = fn;
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch("/admin/api" + path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { "X-Streamrec": "1" } : { "X-Streamrec": "1", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("The server does not answer. Is streamrec running?", 0);
  }
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== "/login") unauthorized();
  if (!res.ok) throw new ApiError(data.message || `${res.status} ${res.statusText}`, res.status, data.errors || {}, data);
  return data as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body: unknown = {}) => api<T>("POST", path, body);

export interface Track {
  codec: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
}

export interface StreamRow {
  name: string;
  mediaSessionId: string;
  mediaProvider: string;
  status: string;
  info: string | null;
  audioCodec?: string;
  videoCodec?: string;
  width?: number;
  height?: number;
  bitrate: number;
  started: string;
  recording: boolean;
  recordName?: string;
  recordSince?: string;
  recordError?: string;
  notRecorded?: string;
  login?: string;
}

export interface LibraryFile {
  name: string;
  size: number;
  modified: string;
  start: string;
  part?: number;
  duration: number;
  video?: Track;
  audio?: Track;
  problem?: string;
  // the write error (a full disk) that cut the file short, or "recovered after a crash: ..." for a
  // file a crash left open; it plays up to its last complete fragment
  error?: string;
  node: string; // the node that recorded it (node_name)
  location: "local" | "bucket" | "both"; // this node's records folder, the bucket, or both
  status: string; // local | queued | uploading | uploaded | failed
  statusReason?: string; // why the upload failed
  url: string; // where this node serves it
}

export interface LibraryGroup {
  id: string;
  node: string;
  stream: string;
  mediaSessionId?: string;
  start: string;
  duration: number;
  size: number;
  parts: LibraryFile[];
}

// A file being recorded now: listed apart, with the bytes written so far.
export interface WritingFile {
  name: string;
  stream: string;
  part?: number;
  start: string;
  size: number;
}

export interface Library {
  groups: LibraryGroup[];
  writing: WritingFile[];
  total: number;
  page: number;
  pages: number;
  size: number;
  files: number; // the files of the recordings matching the filter
  bytes: number;
  streams: string[];
  nodes: string[];
  node: string; // this node
  folder: string;
  // the bucket shared by the nodes; null when upload is off
  bucket: { name: string; objects: number; cut: boolean; max: number; listed?: string; error?: string } | null;
}

export interface SettingRow {
  key: string;
  value: string;
  default: string;
  help: string;
  restart: boolean;
  secret: boolean;
  set: boolean;
  pending: boolean;
}

export interface HookRun {
  script: string;
  streamName: string;
  file: string;
  part?: number;
  started: string;
  tookMs: number;
  exitCode: number;
  timedOut?: boolean;
  error?: string;
  fileError?: string; // the file the hook ran for was cut short by this write error
  recovered?: boolean; // the file was left open by a crash and finished at the next start
  stdout?: string;
  stderr?: string;
}
