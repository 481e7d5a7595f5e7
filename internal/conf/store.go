package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/streamrec/streamrec/internal/atomicfile"
)

// Store owns the settings file. All methods are safe for concurrent use: readers get the
// current snapshot without locking, updates are serialized.
type Store struct {
	path string
	mu   sync.Mutex // serializes the read-modify-write of Update and Reload
	cur  atomic.Pointer[snapshot]
	// opened is the file as Open read it: Watch takes an edit made since then too.
	opened fileStamp
}

// newFilePerm is the mode of a settings file this package creates: it may hold admin.password.
const newFilePerm fs.FileMode = 0o600

// Open reads the settings file at path. A missing file is created (with its directory) holding
// every setting at its default, each under a comment with its help. A file with a bad value is
// refused with a *ValidationError naming the file, line and key of each.
func Open(path string) (*Store, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data = renderFresh(defaultValues())
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create settings file: %w", err)
		}
		if err := atomicfile.Write(path, data, newFilePerm); err != nil {
			return nil, fmt.Errorf("create settings file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	snap, err := parseFile(data, path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path}
	s.opened = s.stat()
	s.cur.Store(snap)
	return s, nil
}

// hasSecret tells whether any secret setting (passwords, tokens, keys) has a value.
func hasSecret(values map[string]string) bool {
	for _, st := range table {
		if st.Secret && values[st.Key] != "" {
			return true
		}
	}
	return false
}

// Exposed says whether the file holds a secret and other users may read it (its mode lets
// group or others read): the server warns, and the next save makes it 0600.
func (s *Store) Exposed() bool {
	fi, err := os.Stat(s.target())
	return err == nil && fi.Mode().Perm()&0o077 != 0 && hasSecret(s.cur.Load().values)
}

// Path is the settings file's path as given to Open.
func (s *Store) Path() string { return s.path }

// Current gives the current settings. The snapshot never changes; a later Update makes a new
// one. Callers must not modify it (nor its RecordFormats map).
func (s *Store) Current() *Settings { return s.cur.Load().settings }

// Values gives the current value of every known key as text (defaults filled in; surrounding
// whitespace trimmed except for exclude_record_name_characters). The map is the caller's.
func (s *Store) Values() map[string]string { return maps.Clone(s.cur.Load().values) }

// Unknown lists the keys of the file this package does not know (kept in the file, ignored),
// in file order, so the server can warn about them.
func (s *Store) Unknown() []string { return slices.Clone(s.cur.Load().unknown) }

// Update validates changes (key → new value as text) and, when all are good, saves them and
// makes them current. The file is first read again, so edits made to it by hand since Open are
// kept; they then take effect too. Changed keys are rewritten in place (keeping the key's
// spelling and separator), keys the file lacks are appended with their help as a comment, and
// every other byte of the file stays as it was. The file is replaced atomically (temporary file
// in the same directory, fsync, rename). A change equal to the value in effect is a no-op.
//
// Bad values and unknown keys give a *ValidationError naming each; then nothing is written and
// the snapshot stays. Surrounding whitespace is trimmed from values, except for
// exclude_record_name_characters.
func (s *Store) Update(changes map[string]string) error {
	if len(changes) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	norm := make(map[string]string, len(changes))
	var errs []FieldError
	for k, v := range changes {
		st := byKey[k]
		switch {
		case st == nil:
			errs = append(errs, FieldError{Key: k, Value: v, Msg: "unknown setting"})
		case !utf8.ValidString(v):
			errs = append(errs, FieldError{Key: k, Value: v, Msg: "value is not valid UTF-8"})
		default:
			if !st.raw {
				v = strings.TrimSpace(v)
			}
			norm[k] = v
		}
	}

	target := s.target()
	data, perm, err := readFile(target)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case missing: // deleted under us: start again from what is in effect
		cur := s.cur.Load()
		data, perm = renderFresh(cur.values), newFilePerm
	case err != nil:
		return fmt.Errorf("read settings: %w", err)
	}
	doc, synErrs := parseDocument(data)
	if len(synErrs) > 0 {
		for i := range synErrs {
			synErrs[i].File = s.path
		}
		return &ValidationError{Errors: synErrs}
	}

	raw, lines := doc.values()
	set := map[string]string{}
	var add []appended
	for _, st := range table {
		v, ok := norm[st.Key]
		if !ok {
			continue
		}
		old, inFile := raw[st.Key]
		if !inFile {
			old = st.Default
		}
		if !st.raw {
			old = strings.TrimSpace(old)
		}
		if v == old {
			continue
		}
		raw[st.Key] = v
		delete(lines, st.Key) // an error about it concerns the update, not a line
		if inFile {
			set[st.Key] = v
		} else {
			add = append(add, appended{key: st.Key, value: v, help: fileHelp(st.Spec)})
		}
	}
	_, values, err := build(raw, lines, s.path)
	if ve, ok := err.(*ValidationError); ok {
		errs = append(errs, ve.Errors...)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return &ValidationError{Errors: errs}
	}
	out := doc.render(set, add)
	snap, err := parseFile(out, s.path)
	if err != nil {
		return fmt.Errorf("save settings: rewritten file does not read back: %w", err)
	}
	if !maps.Equal(snap.values, values) {
		return errors.New("save settings: rewritten file does not read back the same values")
	}
	if missing || !bytes.Equal(out, data) {
		if hasSecret(values) {
			perm &= 0o600 // a password or key in it: readable by the server's user alone
		}
		if err := atomicfile.Write(target, out, perm); err != nil {
			return fmt.Errorf("save settings: %w", err)
		}
	}
	s.cur.Store(snap)
	return nil
}

// Reloaded is what a Reload found in the file.
type Reloaded struct {
	// Changed lists the keys whose value in effect changed, in settings order.
	Changed []string
	// Restart lists those of Changed that take effect only after a restart.
	Restart []string
	// Refused lists the values that do not parse, with their lines: each of those keys keeps
	// the value it had.
	Refused []FieldError
}

// Reload reads the file again (after an edit by hand) and makes it current. A value that does
// not parse is refused alone: its key keeps the value in effect and the other edits apply. A
// file that cannot be read or is not a settings file at all (a line that is not key=value)
// leaves everything as it was and gives the error.
func (s *Store) Reload() (Reloaded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, _, err := readFile(s.target())
	if err != nil {
		return Reloaded{}, fmt.Errorf("read settings: %w", err)
	}
	doc, synErrs := parseDocument(data)
	if len(synErrs) > 0 {
		for i := range synErrs {
			synErrs[i].File = s.path
		}
		return Reloaded{}, &ValidationError{Errors: synErrs}
	}
	cur := s.cur.Load()
	raw, lines := doc.values()
	var r Reloaded
	// Each round puts the refused keys back to their values in effect; a refusal that comes
	// from two keys together (policy and template) may need a second round. The values in
	// effect build, so this ends within one round per key.
	for range len(table) + 1 {
		sets, values, err := build(raw, lines, s.path)
		if err == nil {
			next := &snapshot{settings: sets, values: values, unknown: doc.unknown()}
			r.Changed, r.Restart = changes(cur.values, values)
			s.cur.Store(next)
			return r, nil
		}
		ve, ok := err.(*ValidationError)
		if !ok {
			return Reloaded{}, err
		}
		for _, fe := range ve.Errors {
			r.Refused = append(r.Refused, fe)
			raw[fe.Key] = cur.values[fe.Key]
			delete(lines, fe.Key)
		}
	}
	return Reloaded{}, errors.New("settings: the values in effect do not build")
}

// changes lists the keys whose values differ between two snapshots' values, and of those the
// ones that need a restart.
func changes(old, next map[string]string) (changed, restart []string) {
	for _, st := range table {
		if old[st.Key] == next[st.Key] {
			continue
		}
		changed = append(changed, st.Key)
		if st.Restart {
			restart = append(restart, st.Key)
		}
	}
	return changed, restart
}

// target is the file to replace: the file a symbolic link points to, so saving keeps the link.
func (s *Store) target() string {
	if p, err := filepath.EvalSymlinks(s.path); err == nil {
		return p
	}
	return s.path
}

func readFile(path string) ([]byte, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(f); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), fi.Mode().Perm(), nil
}

// sortErrors puts errors in settings order, unknown keys last in name order.
func sortErrors(errs []FieldError) {
	index := func(k string) int {
		for i, st := range table {
			if st.Key == k {
				return i
			}
		}
		return len(table)
	}
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		if ia, ib := index(a.Key), index(b.Key); ia != ib {
			return ia - ib
		}
		return strings.Compare(a.Key, b.Key)
	})
}

func defaultValues() map[string]string {
	m := make(map[string]string, len(table))
	for _, st := range table {
		m[st.Key] = st.Default
	}
	return m
}

func fileHelp(sp Spec) string {
	if sp.Restart {
		return sp.Help + " [restart]"
	}
	return sp.Help
}

const fileHeader = `# streamrec settings: Java properties syntax (key=value; lines starting with # or ! are comments).
# Written at first start with every setting at its default. Edit it by hand or in the dashboard:
# saving from the dashboard keeps comments, order and keys streamrec does not know.
# Settings marked [restart] take effect when the server restarts; the others apply to
# recordings that start after the change.
`

// renderFresh writes a complete settings file with the given values.
func renderFresh(values map[string]string) []byte {
	var b strings.Builder
	b.WriteString(fileHeader)
	for _, st := range table {
		b.WriteString("\n# " + fileHelp(st.Spec) + "\n")
		b.WriteString(st.Key + "=" + escapeValue(values[st.Key], false) + "\n")
	}
	return []byte(b.String())
}
