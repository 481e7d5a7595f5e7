package admin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/objstore"
	"github.com/streamrec/streamrec/internal/records"
)

// The library lists what the records store finds in the folder at every listing (so it is always
// what is really there and survives restarts), with what its index knows of each file (stream,
// part, start), grouped into recordings. Container headers are probed once per file and cached
// by name, size and modification time.

const (
	defaultPageSize = 50
	maxPageSize     = 200
	maxDelete       = 1000
)

// partName matches a rotated part: NAME-N.EXT (the store lists recordings only, so EXT is a
// recording's extension).
var partName = regexp.MustCompile(`^(.+)-([0-9]+)\.([^.]+)$`)

type cached struct {
	size int64
	mod  time.Time
	info MediaInfo
}

type library struct {
	store  *records.Store
	probe  func(path string) MediaInfo // reads a file's container headers
	bucket *bucketView                 // nil when upload is off
	node   func() string               // this node's name (node_name)
	// uploads says a local file's upload state and why it failed (nil: no uploader).
	uploads func(name string) (state, reason string)
	// objectOf is the name of a local file's object in the bucket.
	objectOf func(name string) string

	mu    sync.Mutex
	cache map[string]cached
}

func newLibrary(cfg Config) *library {
	l := &library{store: cfg.Records, probe: Probe, cache: map[string]cached{},
		node: func() string { return cfg.Settings.Current().Node() }, objectOf: func(name string) string {
			if as := cfg.Uploads.queue().UploadedAs(name); as != "" {
				return as
			}
			return name
		}}
	if cfg.Uploads != nil {
		l.uploads = func(name string) (string, string) { st := cfg.Uploads.queue().Status(name); return st.State, st.Error }
	}
	if cfg.Bucket != nil {
		l.bucket = newBucketView(cfg.Bucket)
	}
	return l
}

// Where a library file is.
const (
	onDisk   = "local"  // only in this node's records folder
	inBucket = "bucket" // only in the bucket: another node's, or its local copy was deleted
	onBoth   = "both"
)

// LibraryFile is one finished recording file.
type LibraryFile struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Start    time.Time `json:"start"`
	Part     int       `json:"part,omitempty"`
	// Error is why the file ended early (a write error: a full disk), "" for a clean finish.
	// Such a file plays, up to its last complete fragment.
	Error string `json:"error,omitempty"`
	// Node is the node that recorded it (node_name; "" for an object put without metadata).
	Node string `json:"node"`
	// Location is where the file is: "local", "bucket" or "both".
	Location string `json:"location"`
	// Status is the file's upload state: "local" (upload off), "queued", "uploading",
	// "uploaded" or "failed" (StatusReason says why).
	Status       string `json:"status"`
	StatusReason string `json:"statusReason,omitempty"`
	// URL is where this node serves the file: /client/records/NAME, with ?node=NODE for
	// another node's (this node may have a file of the same name).
	URL string `json:"url"`
	MediaInfo

	clash bool // another node's object named like one of this node's files
}

// LibraryGroup is one recording: a single file, or the parts of a rotated recording in order.
type LibraryGroup struct {
	ID             string        `json:"id"`
	Node           string        `json:"node"`
	Stream         string        `json:"stream"` // "" when no index entry says
	MediaSessionID string        `json:"mediaSessionId,omitempty"`
	Start          time.Time     `json:"start"`
	Duration       float64       `json:"duration"`
	Size           int64         `json:"size"`
	Parts          []LibraryFile `json:"parts"`
}

// view is one listing of the library: the groups, and what the bucket said.
type view struct {
	groups []LibraryGroup
	bucket *bucketListing // nil when upload is off
}

// scan lists the finished recordings, grouped: this node's files, and the bucket's objects
// (refreshed when the cached listing is old, or when refresh).
func (l *library) scan(refresh bool) (view, error) {
	recs, err := l.store.List()
	if err != nil {
		return view{}, err
	}
	files, present := l.local(recs)
	var v view
	if l.bucket != nil {
		listing := l.bucket.listing(refresh)
		v.bucket = &listing
		var more []LibraryFile
		more, recs = l.merge(files, recs, present, listing.Objects)
		files = append(files, more...)
	}
	node := l.node()
	for i := range files {
		l.describe(&files[i], node)
	}
	v.groups = group(files, recs, present)
	return v, nil
}

// local is this node's finished files with their media facts (probed once per name, size and
// modification time), and the set of their names.
func (l *library) local(recs []records.Recording) ([]LibraryFile, map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	present := map[string]bool{}
	files := make([]LibraryFile, 0, len(recs))
	for _, r := range recs {
		present[r.Name] = true
		c, ok := l.cache[r.Name]
		if !ok || c.size != r.Size || !c.mod.Equal(r.Modified) {
			c = cached{size: r.Size, mod: r.Modified, info: l.probe(r.Path)}
			l.cache[r.Name] = c
		}
		f := LibraryFile{Name: r.Name, Size: r.Size, Modified: r.Modified, MediaInfo: c.info, Error: r.Meta.Err, Location: onDisk}
		switch {
		case r.Indexed && !r.Meta.Start.IsZero():
			f.Start = r.Meta.Start
		case !c.info.Created.IsZero():
			f.Start = c.info.Created
		default:
			f.Start = r.Modified.Add(-time.Duration(c.info.Duration * float64(time.Second)))
		}
		files = append(files, f)
	}
	for name := range l.cache {
		if !present[name] {
			delete(l.cache, name)
		}
	}
	return files, present
}

// merge marks the local files the bucket holds too (the object of the file's upload, made by
// this node), and returns the other objects as files, with recs extended by their metadata (as
// the index would give it) and present by their names, so that their parts group like local
// ones. Another node's object named like a local file is listed apart (clash).
func (l *library) merge(files []LibraryFile, recs []records.Recording, present map[string]bool, objs []objstore.Object) ([]LibraryFile, []records.Recording) {
	self := l.node()
	at := make(map[string]int, len(files))
	for i, f := range files {
		at[l.objectOf(f.Name)] = i
	}
	var more []LibraryFile
	for _, o := range objs {
		m := o.Meta
		if i, ok := at[o.Name]; ok && (m.Node == self || m.Node == "") {
			files[i].Location = onBoth
			continue
		}
		if !records.IsRecording(o.Name) {
			continue // not a recording's name: nothing /client/records would serve
		}
		start := m.Start
		if start.IsZero() {
			start = o.Modified.Add(-m.Duration)
		}
		more = append(more, LibraryFile{Name: o.Name, Size: o.Size, Modified: o.Modified, Start: start, Part: m.Part,
			Node: m.Node, Location: inBucket, MediaInfo: mediaOf(m), clash: present[o.Name]})
		present[o.Name] = true
		recs = append(recs, records.Recording{Name: o.Name, Size: o.Size, Modified: o.Modified, Indexed: true,
			Meta: records.Meta{Name: o.Name, Stream: m.Stream, MediaSessionID: m.MediaSessionID, Part: m.Part, Start: m.Start}})
	}
	return more, recs
}

// videoCodecs are the codecs that an object's "codecs" metadata lists as its video.
var videoCodecs = map[string]bool{"H264": true, "H265": true, "VP8": true, "VP9": true, "AV1": true}

// mediaOf is what the library can tell of an object's media without reading it: its metadata.
func mediaOf(m objstore.Meta) MediaInfo {
	info := MediaInfo{Duration: m.Duration.Seconds()}
	for _, c := range strings.Split(m.Codecs, ",") {
		c = strings.ToUpper(strings.TrimSpace(c))
		switch {
		case c == "":
		case videoCodecs[c] && info.Video == nil:
			info.Video = &Track{Codec: c}
		case !videoCodecs[c] && info.Audio == nil:
			info.Audio = &Track{Codec: c}
		}
	}
	return info
}

// describe sets a file's node (a local file is this node's) and upload status: the uploader's
// word for a local file when there is an uploader, else what its location says.
func (l *library) describe(f *LibraryFile, node string) {
	f.URL = "/client/records/" + url.PathEscape(f.Name)
	if f.Node != "" && f.Node != node && f.Location == inBucket {
		f.URL += "?node=" + url.QueryEscape(f.Node)
	}
	if f.Location != inBucket {
		f.Node = node
		if l.uploads != nil {
			// "local" from the uploader means it never queued the file: the bucket may still
			// hold it (uploaded before, by hand), which the location then says.
			if state, reason := l.uploads(f.Name); state != "" && (state != "local" || f.Location == onDisk) {
				f.Status, f.StatusReason = state, reason
				return
			}
		}
	}
	f.Status = "uploaded"
	if f.Location == onDisk {
		f.Status = "local"
	}
}

// group gathers rotated parts. files[i] is recs[i] with its media facts. A file is a part when
// the index says so, or, for files the index does not know, when it is named NAME-N.EXT and
// NAME-1.EXT exists too.
func group(files []LibraryFile, recs []records.Recording, present map[string]bool) []LibraryGroup {
	byKey := map[string]*LibraryGroup{}
	var order []string
	for i, f := range files {
		key := f.Name
		e, indexed := recs[i].Meta, recs[i].Indexed
		if m := partName.FindStringSubmatch(f.Name); m != nil {
			n, _ := strconv.Atoi(m[2])
			first := m[1] + "-1." + m[3]
			if (indexed && e.Part > 0) || (!indexed && present[first]) {
				key, f.Part = m[1]+"."+strings.ToLower(m[3]), n
			}
		}
		if f.clash {
			key += "@" + f.Node // another node's recording of the same name: a group of its own
		}
		g, ok := byKey[key]
		if !ok {
			g = &LibraryGroup{ID: key}
			byKey[key] = g
			order = append(order, key)
		}
		if indexed && g.Stream == "" {
			g.Stream, g.MediaSessionID = e.Stream, e.MediaSessionID
		}
		if g.Node == "" {
			g.Node = f.Node
		}
		g.Parts = append(g.Parts, f)
	}
	out := make([]LibraryGroup, 0, len(order))
	for _, key := range order {
		g := byKey[key]
		sort.Slice(g.Parts, func(i, j int) bool { return g.Parts[i].Part < g.Parts[j].Part })
		for i, p := range g.Parts {
			if i == 0 || p.Start.Before(g.Start) {
				g.Start = p.Start
			}
			g.Duration += p.Duration
			g.Size += p.Size
		}
		out = append(out, *g)
	}
	return out
}

// hasVideo says whether the last listing found a video track in the named local file.
func (l *library) hasVideo(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cache[name]
	return ok && c.info.Video != nil
}

// forget drops a deleted file from the caches.
func (l *library) forget(name string) {
	l.mu.Lock()
	delete(l.cache, name)
	l.mu.Unlock()
	if l.bucket != nil {
		l.bucket.forget(name)
	}
}

// deleteFile removes a recording from everywhere this node may: its local copy, and the
// bucket's copy when this node made it. Another node's object is refused (that node's library
// and retention count on it): it is deleted from its own node. It says where the file went from.
func (a *Admin) deleteFile(name string) (string, error) {
	_, err := a.cfg.Records.Resolve(name)
	local := err == nil
	if a.cfg.Bucket == nil || !records.IsRecording(name) || a.cfg.Records.Writing(name) {
		return onDisk, a.cfg.Records.Delete(name)
	}
	if local {
		if err := a.cfg.Records.Delete(name); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bucketWait)
	defer cancel()
	object := name
	if local {
		object = a.library.objectOf(name)
	}
	o, err := a.cfg.Bucket.Stat(ctx, object)
	switch node := a.library.node(); {
	case errors.Is(err, objstore.ErrNotFound) && local:
		return onDisk, nil
	case errors.Is(err, objstore.ErrNotFound):
		return "", fmt.Errorf("no recording %q on this node nor in the bucket", name)
	case err != nil && local:
		return onDisk, fmt.Errorf("the local copy is deleted; the bucket's could not be: %v", err)
	case err != nil:
		return "", fmt.Errorf("the bucket did not answer: %v", err)
	case o.Meta.Node != node && local:
		return onDisk, nil // a name another node's object has too: that one stays
	case o.Meta.Node == "":
		return "", errors.New("the bucket's object says no node (not put there by a streamrec node): delete it with the store's own tools")
	case o.Meta.Node != node:
		return "", fmt.Errorf("recorded by node %q, not this one (%q): delete it on that node", o.Meta.Node, node)
	}
	if err := a.cfg.Bucket.Delete(ctx, object); err != nil {
		return onDisk, fmt.Errorf("the bucket's copy could not be deleted: %v", err)
	}
	if local {
		return onBoth, nil
	}
	return inBucket, nil
}

func (a *Admin) recordings(c *fiber.Ctx) error {
	v, err := a.library.scan(c.QueryBool("refresh"))
	if err != nil {
		return fail(c, fiber.StatusInternalServerError, "read the records folder: "+err.Error())
	}
	from, to, err := period(c.Query("from"), c.Query("to"))
	if err != nil {
		return fail(c, fiber.StatusBadRequest, err.Error())
	}
	streamSet, nodeSet := map[string]bool{}, map[string]bool{}
	for _, g := range v.groups {
		if g.Stream != "" {
			streamSet[g.Stream] = true
		}
		nodeSet[g.Node] = true
	}
	q := strings.ToLower(strings.TrimSpace(c.Query("q")))
	node, byNode := c.Queries()["node"]
	groups := v.groups[:0]
	var files int
	var bytes int64
	for _, g := range v.groups {
		if !matches(g, q) || (byNode && g.Node != node) || (!from.IsZero() && g.Start.Before(from)) || (!to.IsZero() && !g.Start.Before(to)) {
			continue
		}
		groups = append(groups, g)
		files += len(g.Parts)
		bytes += g.Size
	}
	sortGroups(groups, c.Query("sort", "start"), c.Query("order", "desc") != "asc")
	size := min(max(c.QueryInt("size", defaultPageSize), 1), maxPageSize)
	pages := max((len(groups)+size-1)/size, 1)
	page := min(max(c.QueryInt("page", 1), 1), pages)
	lo := min((page-1)*size, len(groups))
	hi := min(lo+size, len(groups))
	return c.JSON(fiber.Map{
		"groups":  groups[lo:hi],
		"total":   len(groups), // groups matching the filter
		"page":    page,
		"pages":   pages,
		"size":    size,
		"files":   files, // the files of the groups matching the filter
		"bytes":   bytes,
		"writing": a.inProgress(),
		"streams": sorted(streamSet),
		"nodes":   sorted(nodeSet),
		"node":    a.library.node(),
		"folder":  a.cfg.Records.Dir(),
		"bucket":  bucketNote(a.cfg.Bucket, v.bucket),
	})
}

// period reads the date filter: from (inclusive) and to (exclusive), RFC 3339 times, "" = open.
func period(from, to string) (f, t time.Time, err error) {
	if from != "" {
		if f, err = time.Parse(time.RFC3339, from); err != nil {
			return f, t, fmt.Errorf("from: not an RFC 3339 time: %q", from)
		}
	}
	if to != "" {
		if t, err = time.Parse(time.RFC3339, to); err != nil {
			return f, t, fmt.Errorf("to: not an RFC 3339 time: %q", to)
		}
	}
	return f, t, nil
}

// Writing is a file being recorded now, as the library shows it.
type Writing struct {
	Name   string    `json:"name"`
	Stream string    `json:"stream"`
	Part   int       `json:"part,omitempty"`
	Start  time.Time `json:"start"`
	Size   int64     `json:"size"` // bytes written so far
}

// inProgress lists this node's files being written, with their size now.
func (a *Admin) inProgress() []Writing {
	out := []Writing{}
	for _, w := range a.cfg.Records.InProgress() {
		row := Writing{Name: w.Name, Stream: w.StreamName, Part: w.Part, Start: w.Start}
		if fi, err := os.Stat(a.cfg.Records.Path(w.Name)); err == nil {
			row.Size = fi.Size()
		}
		out = append(out, row)
	}
	return out
}

// bucketNote says what the library's bucket listing is: nil when upload is off.
func bucketNote(store *objstore.Store, l *bucketListing) fiber.Map {
	if l == nil {
		return nil
	}
	note := fiber.Map{"name": store.Bucket(), "objects": len(l.Objects), "cut": l.Cut, "max": l.Max}
	if !l.At.IsZero() {
		note["listed"] = l.At
	}
	if l.Err != nil {
		note["error"] = "the bucket did not answer: " + l.Err.Error()
	}
	return note
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func matches(g LibraryGroup, q string) bool {
	if q == "" || strings.Contains(strings.ToLower(g.Stream), q) {
		return true
	}
	for _, p := range g.Parts {
		if strings.Contains(strings.ToLower(p.Name), q) {
			return true
		}
	}
	return false
}

func sortGroups(groups []LibraryGroup, by string, desc bool) {
	less := func(a, b LibraryGroup) int {
		switch by {
		case "name":
			return strings.Compare(a.ID, b.ID)
		case "stream":
			if c := strings.Compare(a.Stream, b.Stream); c != 0 {
				return c
			}
		case "size":
			if a.Size != b.Size {
				return cmp(a.Size < b.Size)
			}
		case "duration":
			if a.Duration != b.Duration {
				return cmp(a.Duration < b.Duration)
			}
		}
		if !a.Start.Equal(b.Start) {
			return cmp(a.Start.Before(b.Start))
		}
		return strings.Compare(a.ID, b.ID)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		c := less(groups[i], groups[j])
		if desc {
			return c > 0
		}
		return c < 0
	})
}

func cmp(lt bool) int {
	if lt {
		return -1
	}
	return 1
}

// deleteRecordings removes finished recording files: {"names":[...]} → {"deleted":[...],"errors":{name:reason}}.
// Each name goes through the same check as a download (one plain name, a recording, finished).
func (a *Admin) deleteRecordings(c *fiber.Ctx) error {
	var body struct {
		Names []string `json:"names"`
	}
	if err := bind(c, &body); err != nil {
		return fail(c, fiber.StatusBadRequest, err.Error())
	}
	if len(body.Names) == 0 || len(body.Names) > maxDelete {
		return fail(c, fiber.StatusBadRequest, `"names" must list 1 to 1000 recordings`)
	}
	deleted := []string{}
	problems := map[string]string{}
	for _, name := range body.Names {
		where, err := a.deleteFile(name)
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		a.library.forget(name)
		deleted = append(deleted, name)
		a.log.Info("recording deleted from the dashboard", "file", name, "from", where, "ip", c.IP())
	}
	status := fiber.StatusOK
	if len(deleted) == 0 {
		status = fiber.StatusBadRequest
	}
	return c.Status(status).JSON(fiber.Map{"deleted": deleted, "errors": problems})
}

// RecordFile is one file as GET /rest-api/records lists it.
type RecordFile struct {
	Name           string    `json:"name"`
	Size           int64     `json:"size"`
	Node           string    `json:"node"`
	Location       string    `json:"location"` // "local", "bucket" or "both"
	Status         string    `json:"status"`   // "local", "queued", "uploading", "uploaded", "failed"
	StatusReason   string    `json:"statusReason,omitempty"`
	Start          time.Time `json:"start"`
	Duration       float64   `json:"duration"` // seconds
	Stream         string    `json:"stream"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	Part           int       `json:"part,omitempty"`
	Error          string    `json:"error,omitempty"`
	URL            string    `json:"url"` // where this node serves it: base + /client/records/NAME
}

// Files lists every file of the library, this node's and the bucket's, newest first, for the
// REST listing: {"node", "bucket", "files"}. base is the server's URL as the client called it.
func (a *Admin) Files(base string, refresh bool) (any, error) {
	v, err := a.library.scan(refresh)
	if err != nil {
		return nil, fmt.Errorf("read the records folder: %w", err)
	}
	sortGroups(v.groups, "start", true)
	files := []RecordFile{}
	for _, g := range v.groups {
		for _, p := range g.Parts {
			files = append(files, RecordFile{Name: p.Name, Size: p.Size, Node: p.Node, Location: p.Location,
				Status: p.Status, StatusReason: p.StatusReason, Start: p.Start, Duration: p.Duration,
				Stream: g.Stream, MediaSessionID: g.MediaSessionID, Part: p.Part, Error: p.Error,
				URL: base + p.URL})
		}
	}
	return fiber.Map{"node": a.library.node(), "bucket": bucketNote(a.cfg.Bucket, v.bucket), "files": files}, nil
}
