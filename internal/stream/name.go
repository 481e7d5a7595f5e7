package stream

import "strings"

// NameFromPath is the stream name an ingest URL path gives: its last element, without a query
// string ("live/cam1?key=x" → "cam1", "/live/cam1/" → "cam1"). RTMP publishing names and RTSP
// publish paths both name streams this way, so a publisher can switch protocol and keep its name.
func NameFromPath(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimRight(path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	return path
}
