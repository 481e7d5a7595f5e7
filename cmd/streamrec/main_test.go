package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testVersion is stamped into the binary the tests build, as make build stamps the real one.
const testVersion = "9.8.7-test"

// build builds the binary into a temporary folder as make build does.
func build(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go") // go test runs with the go command's PATH
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "streamrec")
	cmd := exec.Command(gobin, "build", "-o", bin,
		"-ldflags", "-X github.com/streamrec/streamrec/internal/server.Version="+testVersion, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// streamrec -version prints the version the build stamped into server.Version and exits 0,
// without creating a home or opening a port.
func TestVersionFlag(t *testing.T) {
	bin := build(t)
	home := t.TempDir()
	cmd := exec.Command(bin, "-version", "-home", home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("streamrec -version: %v (exit code %d)", err, cmd.ProcessState.ExitCode())
	}
	if got := string(out); got != "streamrec "+testVersion+"\n" {
		t.Errorf("streamrec -version printed %q", got)
	}
	if m, _ := filepath.Glob(filepath.Join(home, "*")); len(m) != 0 {
		t.Errorf("-version created %v", m)
	}
	if out, err := exec.Command(bin, "-no-such-flag").CombinedOutput(); err == nil || !strings.Contains(string(out), "-version") {
		t.Errorf("an unknown flag: %v, usage %q should list -version", err, out)
	}
}

// The systemd unit runs the server as its own user with its home as the working directory,
// restarts it on failure, and is a unit systemd accepts (systemd-analyze verify, when present,
// with ExecStart pointing at a binary built now).
func TestServiceUnit(t *testing.T) {
	b, err := os.ReadFile("../../packaging/streamrec.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, line := range []string{"User=streamrec", "Restart=on-failure", "WorkingDirectory=/var/lib/streamrec",
		"ExecStart=/usr/local/bin/streamrec -home /var/lib/streamrec", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ReadWritePaths=/var/lib/streamrec", "PrivateTmp=yes", "KillMode=mixed"} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("the unit lacks %s", line)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze to verify the unit with")
	}
	bin := build(t)
	path := filepath.Join(t.TempDir(), "streamrec.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/streamrec", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
