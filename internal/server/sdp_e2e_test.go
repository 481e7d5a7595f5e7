package server_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/sdplimit"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// announce sends one raw RTSP ANNOUNCE of sdp for stream name and returns the status line.
func announce(t *testing.T, port int, name, sdp string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/live/%s", port, name)
	fmt.Fprintf(c, "ANNOUNCE %s RTSP/1.0\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", url, len(sdp), sdp)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("ANNOUNCE %s: no response: %v", name, err)
	}
	return strings.TrimSpace(line)
}

// Hostile ANNOUNCEs (issue 10, case 7): 2000 media sections, and an SDP over sdplimit.MaxBytes,
// are refused with a status saying why while an honest recording runs beside them; a camera's
// ordinary ANNOUNCE still gets 200.
func TestHostileAnnounce(t *testing.T) {
	e := st.Start(t, st.BystanderSettings)
	b := st.StartBystander(e, "bystander_announce")
	port := e.Ports["rtsp.port"]
	head := "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=hostile\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	pcmu := "m=audio 0 RTP/AVP 0\r\n"
	for _, tc := range []struct {
		name, sdp, want string
	}{
		{"sections2000", head + strings.Repeat(pcmu, 2000), "RTSP/1.0 400 SDP has too many media sections: 2000"},
		{"sections9", head + strings.Repeat(pcmu, sdplimit.MaxMedias+1), "RTSP/1.0 400 SDP has too many media sections: 9"},
		{"large", head + "a=x:" + strings.Repeat("y", 100<<10) + "\r\n" + pcmu, "RTSP/1.0 413 SDP too large"},
	} {
		if got := announce(t, port, tc.name, tc.sdp); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %q...", tc.name, got, tc.want)
		}
	}
	if got := announce(t, port, "camera", head+pcmu); !strings.HasPrefix(got, "RTSP/1.0 200") {
		t.Errorf("an ordinary ANNOUNCE: %q, want 200", got)
	}
	for _, s := range e.Streams() {
		if s.Name != "bystander_announce" && s.Name != "camera" {
			t.Errorf("a hostile ANNOUNCE left stream %q (%s)", s.Name, s.Status)
		}
	}
	b.Check()
}
