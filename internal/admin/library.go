package admin

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

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
	store *records.Store
	probe func(path string) MediaInfo // reads a file's container headers

	mu    sync.Mutex
	cache map[string]cached
}

func newLibrary(store *records.Store) *library {
	return &library{store: store, probe: Probe, cache: map[string]cached{}}
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
	recs, err := l.store.List()
	if err != nil {
		return nil, err
	}
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
		f := LibraryFile{Name: r.Name, Size: r.Size, Modified: r.Modified, MediaInfo: c.info, Error: r.Meta.Err}
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
	return group(files, recs, present), nil
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

// forget drops a deleted file from the cache.
func (l *library) forget(name string) {
	l.mu.Lock()
	delete(l.cache, name)
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
		"folder":  a.cfg.Records.Dir(),
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
		if err := a.cfg.Records.Delete(name); err != nil {
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
