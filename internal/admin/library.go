package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/streamrec/streamrec/internal/recorder"
	"github.com/streamrec/streamrec/internal/web"
)

// The library is read from the records folder on disk at every listing, so it is always what is
// really there and survives restarts: a file copied in shows up, a file a hook moved away is gone.
// What a file cannot tell by itself (the stream it recorded, its part number, when recording
// started) comes from IndexName, a small append-only JSON-lines file in the records folder with
// one line per finished recording; files it does not know are listed from their headers alone.
// Container headers are probed once per file and cached by name, size and modification time.

// IndexName is the library's index file in the records folder (hidden: never listed or served).
const IndexName = ".streamrec-library.jsonl"

const (
	defaultPageSize = 50
	maxPageSize     = 200
	maxDelete       = 1000
)

// partName matches a rotated part: NAME-N.EXT.
var partName = regexp.MustCompile(`(?i)^(.+)-([0-9]+)\.(mp4|webm)$`)

type indexEntry struct {
	Name           string    `json:"name"`
	Stream         string    `json:"stream"`
	MediaSessionID string    `json:"mediaSessionId,omitempty"`
	Part           int       `json:"part,omitempty"`
	Start          time.Time `json:"start,omitzero"`
	End            time.Time `json:"end,omitzero"`
	Err            string    `json:"error,omitempty"` // the write error that cut the file short
}

type cached struct {
	size int64
	mod  time.Time
	info MediaInfo
}

type library struct {
	rec *web.Records
	log *slog.Logger

	mu         sync.Mutex
	loaded     bool
	index      map[string]indexEntry
	indexLines int
	cache      map[string]cached
}

func newLibrary(rec *web.Records, log *slog.Logger) *library {
	return &library{rec: rec, log: log, index: map[string]indexEntry{}, cache: map[string]cached{}}
}

func (l *library) indexPath() string { return filepath.Join(l.rec.Dir, IndexName) }

// load reads the index once. Caller holds l.mu.
func (l *library) load() {
	if l.loaded {
		return
	}
	l.loaded = true
	f, err := os.Open(l.indexPath())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			l.log.Warn("library index unreadable", "file", l.indexPath(), "err", err)
		}
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e indexEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Name != "" {
			l.index[e.Name] = e
			l.indexLines++
		}
	}
}

// add appends a finished file to the index.
func (l *library) add(f recorder.File) {
	e := indexEntry{Name: f.Name, Stream: f.StreamName, MediaSessionID: f.MediaSessionID, Part: f.Part, Start: f.Start, End: f.End, Err: f.Err}
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.load()
	l.index[e.Name] = e
	l.indexLines++
	out, err := os.OpenFile(l.indexPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = out.Write(append(line, '\n'))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		l.log.Warn("library index not updated", "file", l.indexPath(), "err", err)
	}
}

// compact rewrites the index with the entries of files still on disk. Caller holds l.mu.
func (l *library) compact(present map[string]bool) {
	var b strings.Builder
	n := 0
	for name, e := range l.index {
		if !present[name] {
			delete(l.index, name)
			continue
		}
		line, _ := json.Marshal(e)
		b.Write(line)
		b.WriteByte('\n')
		n++
	}
	tmp := l.indexPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return
	}
	if err := os.Rename(tmp, l.indexPath()); err != nil {
		os.Remove(tmp)
		return
	}
	l.indexLines = n
}

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
	MediaInfo
}

// LibraryGroup is one recording: a single file, or the parts of a rotated recording in order.
type LibraryGroup struct {
	ID             string        `json:"id"`
	Stream         string        `json:"stream"` // "" when no index entry says
	MediaSessionID string        `json:"mediaSessionId,omitempty"`
	Start          time.Time     `json:"start"`
	Duration       float64       `json:"duration"`
	Size           int64         `json:"size"`
	Parts          []LibraryFile `json:"parts"`
}

// scan lists the finished recordings, grouped.
func (l *library) scan() ([]LibraryGroup, error) {
	ents, err := os.ReadDir(l.rec.Dir)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.load()
	present := map[string]bool{}
	var files []LibraryFile
	for _, de := range ents {
		name := de.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.HasPrefix(name, ".") || (ext != ".mp4" && ext != ".webm") || !de.Type().IsRegular() {
			continue
		}
		if l.rec.Files != nil && l.rec.Files.Writing(name) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		present[name] = true
		c, ok := l.cache[name]
		if !ok || c.size != fi.Size() || !c.mod.Equal(fi.ModTime()) {
			c = cached{size: fi.Size(), mod: fi.ModTime(), info: Probe(filepath.Join(l.rec.Dir, name))}
			l.cache[name] = c
		}
		f := LibraryFile{Name: name, Size: fi.Size(), Modified: fi.ModTime(), MediaInfo: c.info}
		f.Error = l.index[name].Err
		switch e, ok := l.index[name]; {
		case ok && !e.Start.IsZero():
			f.Start = e.Start
		case !c.info.Created.IsZero():
			f.Start = c.info.Created
		default:
			f.Start = fi.ModTime().Add(-time.Duration(c.info.Duration * float64(time.Second)))
		}
		files = append(files, f)
	}
	for name := range l.cache {
		if !present[name] {
			delete(l.cache, name)
		}
	}
	live := 0
	for name := range l.index {
		if present[name] {
			live++
		}
	}
	if l.indexLines > 2*live+500 {
		l.compact(present)
	}
	return l.group(files, present), nil
}

// group gathers rotated parts. A file is a part when the index says so, or, for files the index
// does not know, when it is named NAME-N.EXT and NAME-1.EXT exists too. Caller holds l.mu.
func (l *library) group(files []LibraryFile, present map[string]bool) []LibraryGroup {
	byKey := map[string]*LibraryGroup{}
	var order []string
	for _, f := range files {
		key := f.Name
		e, indexed := l.index[f.Name]
		if m := partName.FindStringSubmatch(f.Name); m != nil {
			n, _ := strconv.Atoi(m[2])
			first := m[1] + "-1." + m[3]
			if (indexed && e.Part > 0) || (!indexed && present[first]) {
				key, f.Part = m[1]+"."+strings.ToLower(m[3]), n
			}
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

// forget drops a deleted file from the cache and the index map.
func (l *library) forget(name string) {
	l.mu.Lock()
	delete(l.cache, name)
	delete(l.index, name)
	l.mu.Unlock()
}

func (a *Admin) recordings(c *fiber.Ctx) error {
	groups, err := a.library.scan()
	if err != nil {
		return fail(c, fiber.StatusInternalServerError, "read the records folder: "+err.Error())
	}
	streamSet := map[string]bool{}
	var files int
	var bytes int64
	for _, g := range groups {
		if g.Stream != "" {
			streamSet[g.Stream] = true
		}
		files += len(g.Parts)
		bytes += g.Size
	}
	if q := strings.ToLower(strings.TrimSpace(c.Query("q"))); q != "" {
		kept := groups[:0]
		for _, g := range groups {
			if matches(g, q) {
				kept = append(kept, g)
			}
		}
		groups = kept
	}
	sortGroups(groups, c.Query("sort", "start"), c.Query("order", "desc") != "asc")
	size := min(max(c.QueryInt("size", defaultPageSize), 1), maxPageSize)
	pages := max((len(groups)+size-1)/size, 1)
	page := min(max(c.QueryInt("page", 1), 1), pages)
	lo := min((page-1)*size, len(groups))
	hi := min(lo+size, len(groups))
	streams := make([]string, 0, len(streamSet))
	for s := range streamSet {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	return c.JSON(fiber.Map{
		"groups":  groups[lo:hi],
		"total":   len(groups), // groups matching the filter
		"page":    page,
		"pages":   pages,
		"size":    size,
		"files":   files, // all finished files in the folder
		"bytes":   bytes,
		"streams": streams,
		"folder":  a.cfg.Records.Dir,
	})
}

func matches(g LibraryGroup, q string) bool {
	if strings.Contains(strings.ToLower(g.Stream), q) {
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
		path, err := a.cfg.Records.Path(name)
		if err == nil {
			err = os.Remove(path)
		}
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		a.library.forget(name)
		deleted = append(deleted, name)
		a.log.Info("recording deleted from the dashboard", "file", name, "ip", c.IP())
	}
	status := fiber.StatusOK
	if len(deleted) == 0 {
		status = fiber.StatusBadRequest
	}
	return c.Status(status).JSON(fiber.Map{"deleted": deleted, "errors": problems})
}
