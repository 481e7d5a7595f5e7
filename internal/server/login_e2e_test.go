package server_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/admin"
	st "github.com/streamrec/streamrec/internal/servertest"
)

// openFDs counts the file descriptors this process (the test and its in-process server) holds.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// login posts a password to the dashboard's login as its page does.
func login(client *http.Client, base, password string) (*http.Response, error) {
	req, err := http.NewRequest("POST", base+"/admin/api/login", strings.NewReader(fmt.Sprintf(`{"password":%q}`, password)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(admin.CSRFHeader, "1")
	return client.Do(req)
}

// TestLoginThrottleHoldsNothing is issue 10's case 4: 40 wrong logins from clients that close at
// once must not leave the server holding their connections, and the right password from the same
// address must log in as soon as the delay is over.
func TestLoginThrottleHoldsNothing(t *testing.T) {
	const password = "right-horse-battery"
	e := st.Start(t, withBystander(map[string]string{"admin.password": password}))
	b := st.StartBystander(e, "bystander")
	defer b.Check() // an honest recording beside the attack ends complete
	addr := strings.TrimPrefix(e.HTTP, "http://")
	before := openFDs(t)

	body := `{"password":"wrong"}`
	req := "POST /admin/api/login HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
		admin.CSRFHeader + ": 1\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	for i := 0; i < 40; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}

	// Every connection is gone within moments: nothing sleeps with one.
	var after int
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if after = openFDs(t); after <= before+3 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("open file descriptors: %d before the 40 wrong logins, %d after", before, after)
	if after > before+3 {
		t.Errorf("%d file descriptors before the wrong logins, %d three seconds after: connections held", before, after)
	}

	// The address is delayed now: another attempt is refused at once, saying for how long.
	quick := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 3 * time.Second}
	start := time.Now()
	retry := 1
	if resp, err := login(quick, e.HTTP, "wrong again"); err != nil {
		t.Errorf("login while delayed: %v (after %v)", err, time.Since(start))
	} else {
		resp.Body.Close()
		retry, _ = strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || retry > int(admin.MaxFailDelay/time.Second) {
			t.Errorf("login while delayed: %d Retry-After %q, want 429 with 1..%d seconds",
				resp.StatusCode, resp.Header.Get("Retry-After"), int(admin.MaxFailDelay/time.Second))
		}
	}

	time.Sleep(time.Duration(max(retry, 1)) * time.Second)
	start = time.Now()
	resp, err := login(quick, e.HTTP, password)
	if err != nil {
		t.Fatalf("right password after the delay: %v (after %v)", err, time.Since(start))
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || time.Since(start) > time.Second {
		t.Fatalf("right password after the delay: %d after %v, want 200 at once", resp.StatusCode, time.Since(start))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == admin.CookieName {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("login set no session cookie")
	}
	sreq, _ := http.NewRequest("GET", e.HTTP+"/admin/api/session", nil)
	sreq.AddCookie(cookie)
	sresp, err := quick.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	sresp.Body.Close()
	if sresp.StatusCode != 200 {
		t.Errorf("session after login: %d, want 200", sresp.StatusCode)
	}
}
