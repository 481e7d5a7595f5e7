// Package s3test runs a real S3-compatible store for tests: SeaweedFS's `weed server` with its
// S3 gateway on loopback, requests signed with an identity of its own. The binary comes from
// scripts/seaweedfs.sh (built from the Go module proxy once per machine); make test passes its
// path in STREAMREC_WEED. Without it a test skips, unless CI is set: there it fails.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The identity the store accepts, and nothing else.
const (
	AccessKey = "streamrec-test"
	SecretKey = "s3cr3t-streamrec-test-key"
)

// grpcOffset is how far above each HTTP port weed puts its gRPC port.
const grpcOffset = 10000

// Store is one running weed server.
type Store struct {
	Endpoint string // http://127.0.0.1:PORT, the S3 gateway
	Client   *minio.Client

	dir  string
	args []string
	cmd  *exec.Cmd
	log  *os.File
}

// Start runs a store of the test's own, which it may Stop, Resume or Pause, and ends it at the
// test's end. A store takes about 10 s to come up: tests that only need a bucket use Shared.
func Start(t testing.TB) *Store {
	t.Helper()
	s := start(t, weed(t), t.TempDir())
	t.Cleanup(s.Stop)
	return s
}

var shared struct {
	sync.Mutex
	s *Store
}

// Shared returns the store shared by the tests of this test binary, started at the first call;
// it ends with the process. Each test takes a bucket of its own (Bucket); it must not stop it.
func Shared(t testing.TB) *Store {
	t.Helper()
	bin := weed(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.s == nil {
		dir, err := os.MkdirTemp("", "s3test-")
		if err != nil {
			t.Fatal(err)
		}
		shared.s = start(t, bin, dir)
	}
	return shared.s
}

// weed is the path of the weed binary, or skips (fails under CI) when there is none.
func weed(t testing.TB) string {
	bin := os.Getenv("STREAMREC_WEED")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("STREAMREC_WEED is not set: run the tests with make test (it builds SeaweedFS with scripts/seaweedfs.sh)")
		}
		t.Skip("no S3 store: STREAMREC_WEED is not set (make test sets it)")
	}
	return bin
}

func start(t testing.TB, bin, dir string) *Store {
	t.Helper()
	ident := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(ident, []byte(fmt.Sprintf(`{"identities":[{"name":"streamrec","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, AccessKey, SecretKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 4)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Store{dir: dir, Endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[3])}
	// Every bucket is a collection of its own, which takes 7 volumes at its first write: 8 at
	// most (as before) left room for one bucket besides the probe's, and the next bucket's
	// writes failed with 500 ("no free volumes left"). Volumes are sparse files: 256 cost nothing.
	s.args = []string{"server", "-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + strconv.Itoa(ports[0]), "-volume.port=" + strconv.Itoa(ports[1]),
		"-filer.port=" + strconv.Itoa(ports[2]), "-s3", "-s3.port=" + strconv.Itoa(ports[3]),
		"-s3.config=" + ident, "-master.volumeSizeLimitMB=64", "-volume.max=256",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.preStopSeconds=0"}
	s.args = append([]string{bin}, s.args...)
	c, err := minio.New("127.0.0.1:"+strconv.Itoa(ports[3]), &minio.Options{
		Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	s.Client = c
	s.Resume(t)
	return s
}

var buckets atomic.Int64

// Bucket creates a new bucket and returns its name (name with a number, unique in the process).
func (s *Store) Bucket(t testing.TB, name string) string {
	t.Helper()
	name = fmt.Sprintf("%s-%d", name, buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

// Stop ends the store (its data stays for Resume): the S3 port refuses connections.
func (s *Store) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
	s.log.Close()
}

// Resume starts the store (again, on the same ports and data) and waits until it answers
// signed requests.
func (s *Store) Resume(t testing.TB) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "weed.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s.log = log
	if err := s.launch(); err != nil {
		t.Fatalf("weed: %v", err)
	}
	began := time.Now()
	deadline := began.Add(90 * time.Second)
	var first error
	for {
		// A bucket made and written: the gateway answers only once master, volume and filer
		// are up, and the first write is the slow one (it allocates a volume).
		err := s.probe()
		if err == nil {
			t.Logf("weed up in %s (%v)", time.Since(began).Round(time.Millisecond), first)
			return
		}
		if first == nil {
			first = err
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("weed did not come up in 90 s: %v\n%s", err, tail(b, 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// launch starts weed from a goroutine locked to its OS thread for good: the kernel kills weed
// when the thread that started it ends (Pdeathsig), so it must be a thread that lives as long
// as the test process, and a store is never left running after the tests.
func (s *Store) launch() error {
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the goroutine blocks forever, its thread stays
		errc <- s.cmd.Start()
		select {}
	}()
	return <-errc
}

// probe writes and reads back a small object in a bucket of its own.
func (s *Store) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const bucket = "s3test-probe"
	if ok, err := s.Client.BucketExists(ctx, bucket); err != nil {
		return err
	} else if !ok {
		if err := s.Client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
			return err
		}
	}
	_, err := s.Client.PutObject(ctx, bucket, "probe", strings.NewReader("ok"), 2, minio.PutObjectOptions{})
	return err
}

// Pause freezes the store (SIGSTOP): connections open, no answers, as a store that hangs.
func (s *Store) Pause() { s.cmd.Process.Signal(syscall.SIGSTOP) }

// Continue thaws a paused store.
func (s *Store) Continue() { s.cmd.Process.Signal(syscall.SIGCONT) }

// freePorts returns n loopback ports that are free, each with its gRPC port (+10000) free too.
func freePorts(t testing.TB, n int) []int {
	var out []int
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+grpcOffset > 65535 || !free(p+grpcOffset) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func free(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
