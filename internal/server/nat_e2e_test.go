package server_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	st "github.com/streamrec/streamrec/internal/servertest"
)

// The NAT tests put the publisher in a network namespace of their own, joined to the test's by a
// veth pair: the server is at natServer, and natPublic is the "public" address the publisher's
// namespace forwards to it (DNAT), like a cloud VM's public IP in front of its private one. The
// publisher is this test binary again, run in the namespace (TestNATPublisherProcess).
const (
	natServer    = "10.199.0.1"
	natPublisher = "10.199.0.2"
	natPublic    = "10.199.1.1"
)

// netns makes the namespace and its rules; rules are iptables argument lists run inside it.
func netns(t *testing.T, rules ...[]string) string {
	t.Helper()
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: install iproute2 and iptables (.ci/run does)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	ns := fmt.Sprintf("srnat%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ip netns add: %v %s", err, out)
		}
		t.Skipf("no network namespaces here: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", ns+"a").Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	in := func(args ...string) { t.Helper(); run(append([]string{"ip", "netns", "exec", ns}, args...)...) }
	run("ip", "link", "add", ns+"a", "type", "veth", "peer", "name", ns+"b")
	run("ip", "link", "set", ns+"b", "netns", ns)
	run("ip", "addr", "add", natServer+"/24", "dev", ns+"a")
	run("ip", "link", "set", ns+"a", "up")
	in("ip", "addr", "add", natPublisher+"/24", "dev", ns+"b")
	in("ip", "link", "set", ns+"b", "up")
	in("ip", "link", "set", "lo", "up")
	in("ip", "route", "add", "default", "via", natServer)
	// The public address leads to the server, as a 1:1 NAT does.
	in("iptables", "-t", "nat", "-A", "OUTPUT", "-d", natPublic, "-j", "DNAT", "--to-destination", natServer)
	for _, r := range rules {
		in(append([]string{"iptables"}, r...)...)
	}
	return ns
}

// publishFromNetns runs the publisher process in ns against the server's WCS signalling and
// returns the recording's file name.
func publishFromNetns(t *testing.T, e *st.Env, ns, name string, tcp bool) string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNATPublisherProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "STREAMREC_NAT_PUBLISH="+fmt.Sprintf("ws://%s:%d/nat", natServer, e.Ports["ws.port"]),
		"STREAMREC_NAT_NAME="+name, fmt.Sprintf("STREAMREC_NAT_TCP=%v", tcp))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("publisher in %s: %v\n%s", ns, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "PAIR ") {
			t.Log("publisher's candidate pair: " + line[5:])
		}
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "RECORDED "); ok {
			return f
		}
	}
	t.Fatalf("publisher said no file:\n%s", out)
	return ""
}

// TestNATPublisherProcess is the publisher of the NAT tests, run by them in their namespace; on
// its own it does nothing.
func TestNATPublisherProcess(t *testing.T) {
	url := os.Getenv("STREAMREC_NAT_PUBLISH")
	if url == "" {
		t.Skip("run by the NAT tests")
	}
	name, tcp := os.Getenv("STREAMREC_NAT_NAME"), os.Getenv("STREAMREC_NAT_TCP") == "true"
	h264, ogg := syncSources(t)
	aus, opus := accessUnits(t, h264), oggPackets(t, ogg)
	w := dialWCS(t, url)
	w.send("connection", map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}})
	if _, err := w.next("getUserData", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p := newPionPublisherWith(t, webrtc.MimeTypeH264, func(se *webrtc.SettingEngine) {
		if tcp {
			se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
		}
	})
	id := "7a7a0000-0000-4000-8000-000000000001"
	if err := p.publish(t, w, id, name); err != nil {
		t.Fatal(err)
	}
	if pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
		fmt.Println("PAIR", pair.Local.Protocol, pair.Local.Address, "->", pair.Remote.Protocol, pair.Remote.Address, pair.Remote.Port)
	}
	if err := p.send(aus, opus, sendOptions{senderReports: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	file, err := w.unpublish(id, name)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("RECORDED " + file)
}

// checkNATRecording judges the file the namespace's publisher made: 6 s of H.264 + AAC, clean.
func checkNATRecording(t *testing.T, e *st.Env, file string) {
	t.Helper()
	path := filepath.Join(e.Records, file)
	p := st.ProbeFile(t, path)
	if v := p.Video(t); v.CodecName != "h264" || st.Count(v.Frames) < clipSeconds*30-2 {
		t.Errorf("video %s, %s frames; want h264, %d", v.CodecName, v.Frames, clipSeconds*30)
	}
	if a := p.Audio(t); a.CodecName != "aac" {
		t.Errorf("audio %s, want aac", a.CodecName)
	}
	if out := st.Decodes(t, path); out != "" {
		t.Errorf("decoding: %s", out)
	}
}

// A server behind 1:1 NAT: the publisher reaches it only through the public address (UDP to
// any other address of the server is dropped), which the server announces (ip, ip_local).
func TestWebRTCBehindNAT(t *testing.T) {
	ns := netns(t, []string{"-A", "OUTPUT", "-p", "udp", "-m", "conntrack", "!", "--ctstate", "DNAT", "-j", "DROP"})
	e := st.Start(t, map[string]string{"ip": natPublic, "ip_local": natServer})
	file := publishFromNetns(t, e, ns, "natcam", false)
	checkNATRecording(t, e, file)
	if l := e.LogLines("webrtc behind NAT", "ip=["+natPublic+"]"); len(l) != 1 {
		t.Errorf("no log line of the NAT settings")
	}
}

// A publisher whose network drops UDP altogether connects over ICE-TCP (ice_tcp_port), through
// the public address too.
func TestWebRTCOverTCPOnly(t *testing.T) {
	ns := netns(t, []string{"-A", "OUTPUT", "-p", "udp", "-j", "DROP"})
	e := st.Start(t, map[string]string{"ip": natPublic, "ip_local": natServer, "ice_tcp_port": fmt.Sprint(st.FreePort(t))})
	file := publishFromNetns(t, e, ns, "tcpcam", true)
	checkNATRecording(t, e, file)
}

// WHIP publishers get the STUN and TURN servers of the settings in Link headers (RFC 9725 4.6),
// the TURN one with its credentials.
func TestWHIPAdvertisesICEServers(t *testing.T) {
	t.Parallel() // mostly waiting on real time and peers: see Makefile, -parallel
	e := st.Start(t, map[string]string{"stun_servers": "stun:stun.example.net:3478, stun:10.0.0.9",
		"turn_server": "turn:turn.example.net:3478?transport=udp", "turn_username": "pub", "turn_password": "tp4ss"})
	resp, _ := whipRequest(t, http.MethodOptions, e.HTTP+"/whip/x", "", "", "", "Origin", "https://studio.example.com",
		"Access-Control-Request-Method", "POST")
	want := []string{`<stun:stun.example.net:3478>; rel="ice-server"`, `<stun:10.0.0.9>; rel="ice-server"`,
		`<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="pub"; credential="tp4ss"; credential-type="password"`}
	if got := resp.Header.Values("Link"); !slices.Equal(got, want) {
		t.Errorf("Link headers\n got %q\nwant %q", got, want)
	}
	for _, l := range e.LogLines() {
		if strings.Contains(l, "tp4ss") {
			t.Errorf("the TURN password is in the log: %s", l)
		}
	}
}
