package recorder

import "sync"

// Files is the set of recording files still being written, shared by every recorder of a server.
// A file in it is neither listed nor served as a finished recording.
type Files struct {
	mu      sync.Mutex
	writing map[string]bool
}

// NewFiles returns an empty set.
func NewFiles() *Files { return &Files{writing: map[string]bool{}} }

func (fs *Files) open(name string) {
	fs.mu.Lock()
	fs.writing[name] = true
	fs.mu.Unlock()
}

func (fs *Files) done(name string) {
	fs.mu.Lock()
	delete(fs.writing, name)
	fs.mu.Unlock()
}

// Writing reports whether the named file (a base name inside the records folder) is still being written.
func (fs *Files) Writing(name string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.writing[name]
}
