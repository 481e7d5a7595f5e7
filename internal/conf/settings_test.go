package conf

import (
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/naming"
)

func parseString(t *testing.T, s string) (*Settings, error) {
	t.Helper()
	return Parse(strings.NewReader(s))
}

func TestDefaults(t *testing.T) {
	want := &Settings{
		RecordStreams: true,
		RecordFormats: map[string]string{"h264": "mp4", "vp8": "webm"},
		Policy:        "template",
		Template:      "stream-{mediaSessionId}-{login}",
		Exclude:       "/",
		HookScript:    "bin/on_record_hook.sh",
		HookTimeout:   30 * time.Second,
		SampleRate:    44100,
		WSPort:        8080, WSSPort: 8443, HTTPPort: 8081, HTTPSPort: 8444, RTMPPort: 1935, RTSPPort: 8554,
		MediaPortFrom: 31001, MediaPortTo: 32000,
		MaxConnections: 1000, MaxConnectionsPerAddress: 100, MaxPendingWebRTC: 50, MaxRTSPCameras: 100,
		MediaTimeout:       10 * time.Second,
		WHIPAllowedOrigins: []string{"*"},
	}
	if got := Defaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("Defaults() =\n%+v\nwant\n%+v", got, want)
	}
	// An empty file means the defaults.
	got, err := parseString(t, "")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(\"\") = %+v, %v", got, err)
	}
	// Each call gives its own copy.
	Defaults().RecordFormats["h264"] = "changed"
	if Defaults().RecordFormats["h264"] != "mp4" {
		t.Error("Defaults shares its map")
	}
}

func TestSpecs(t *testing.T) {
	want := []string{
		"record_streams", "record_flash_published_streams", "record_rtsp_streams", "record_formats",
		"stream_record_policy", "stream_record_policy_template", "encode_record_name",
		"exclude_record_name_characters", "record_rotation", "on_record_hook_script",
		"on_record_hook_timeout", "on_record_webhook_url", "on_record_webhook_secret", "record_audio_codec_sample_rate",
		"record_delete_after", "record_min_free_space", "record_max_total_size",
		"ws.port", "wss.port", "http.port", "https.port", "rtmp.port", "rtsp.port",
		"media_port_from", "media_port_to", "ip", "ip_local", "ice_tcp_port", "stun_servers", "turn_server", "turn_username", "turn_password", "https.cert", "https.key", "admin.password",
		"ws.address", "wss.address", "http.address", "https.address", "rtmp.address", "rtsp.address",
		"max_connections", "max_connections_per_address", "max_pending_webrtc_sessions", "max_rtsp_cameras",
		"rest_token", "metrics_token", "rest_allowed_origins", "whip_token", "whip_allowed_origins", "media_timeout",
		"record_s3_endpoint", "record_s3_region", "record_s3_bucket", "record_s3_prefix",
		"record_s3_access_key", "record_s3_secret_key", "record_s3_path_style", "record_s3_delete_local",
		"node_name",
	}
	specs := Specs()
	var keys []string
	restart := map[string]bool{}
	for _, sp := range specs {
		keys = append(keys, sp.Key)
		restart[sp.Key] = sp.Restart
		// Help goes into the file as a comment: one line, ASCII (right in UTF-8 and Latin-1 files).
		if sp.Help == "" || strings.ContainsAny(sp.Help, "\r\n") || !isASCII(sp.Help) {
			t.Errorf("%s: help must be one non-empty line: %q", sp.Key, sp.Help)
		}
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q", keys)
	}
	for _, k := range []string{"ws.port", "wss.port", "http.port", "https.port", "rtmp.port", "rtsp.port",
		"media_port_from", "media_port_to", "https.cert", "https.key",
		"http.address", "rtmp.address", "max_connections", "max_connections_per_address"} {
		if !restart[k] {
			t.Errorf("%s should need a restart", k)
		}
	}
	for _, k := range []string{"record_streams", "record_formats", "record_rotation", "on_record_hook_script",
		"record_audio_codec_sample_rate", "admin.password", "encode_record_name",
		"rest_token", "metrics_token", "rest_allowed_origins", "whip_token", "whip_allowed_origins", "max_rtsp_cameras", "max_pending_webrtc_sessions", "media_timeout",
		"record_delete_after", "record_min_free_space", "record_max_total_size"} {
		if restart[k] {
			t.Errorf("%s should not need a restart", k)
		}
	}
	specs[0].Key = "mutated"
	if Specs()[0].Key != "record_streams" {
		t.Error("Specs shares its slice")
	}
}

func TestParseValues(t *testing.T) {
	in := `# a WCS-style file
record_streams = FALSE
record_flash_published_streams: true
record_rtsp_streams true
record_formats = H264-MP4
stream_record_policy=streamname
stream_record_policy_template={streamName}_{startTime}_{endTime}_{startTimeMillis}_{endTimeMillis}_{sessionId}_{mediaSessionId}_{login}_{audioCodec}_{videoCodec}
encode_record_name=true,base64
exclude_record_name_characters=:., /
record_rotation=10M
on_record_hook_script=/opt/on_record.sh
on_record_hook_timeout=5
record_audio_codec_sample_rate=48000
ws.port=0
wss.port=1
http.port=65535
https.port=8444
rtmp.port=1936
rtsp.port=554
media_port_from=40000
media_port_to=40000
https.cert=conf/my.crt
https.key=/etc/ssl/my.key
admin.password=  s3cret  
rtmp.address=127.0.0.1
http.address=::1
max_connections=20
max_connections_per_address=3
max_pending_webrtc_sessions=7
max_rtsp_cameras=2
rest_token=t0ken
rest_allowed_origins=https://App.example.com, http://localhost:3000/
whip_token=wh1p
whip_allowed_origins=https://Studio.example.com
media_timeout=3
unknown.key=whatever
`
	got, err := parseString(t, in)
	if err != nil {
		t.Fatal(err)
	}
	want := &Settings{
		RecordStreams: false, RecordFlash: true, RecordRTSP: true,
		RecordFormats: map[string]string{"h264": "mp4"},
		Policy:        "streamName",
		Template:      "{streamName}_{startTime}_{endTime}_{startTimeMillis}_{endTimeMillis}_{sessionId}_{mediaSessionId}_{login}_{audioCodec}_{videoCodec}",
		Encode:        "BASE64",
		Exclude:       ":., /",
		RotationBytes: 10 * 1024 * 1024,
		HookScript:    "/opt/on_record.sh",
		HookTimeout:   5 * time.Second,
		SampleRate:    48000,
		WSPort:        0, WSSPort: 1, HTTPPort: 65535, HTTPSPort: 8444, RTMPPort: 1936, RTSPPort: 554,
		MediaPortFrom: 40000, MediaPortTo: 40000,
		CertFile: "conf/my.crt", KeyFile: "/etc/ssl/my.key",
		AdminPassword: "s3cret",
		RTMPAddress:   "127.0.0.1", HTTPAddress: "::1",
		MaxConnections: 20, MaxConnectionsPerAddress: 3, MaxPendingWebRTC: 7, MaxRTSPCameras: 2,
		RESTToken:          "t0ken",
		RESTAllowedOrigins: []string{"https://app.example.com", "http://localhost:3000"},
		WHIPToken:          "wh1p",
		WHIPAllowedOrigins: []string{"https://studio.example.com"},
		MediaTimeout:       3 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestExcludeKeepsSpaces(t *testing.T) {
	for in, want := range map[string]string{
		"exclude_record_name_characters=:., /\n":       ":., /",
		"exclude_record_name_characters = :., / \n":    ":., / ", // Java keeps trailing spaces
		"exclude_record_name_characters=\\ :\n":        " :",
		"exclude_record_name_characters=\n":            "",
		"exclude_record_name_characters=a\\\\b\\u0020": "a\\b ",
	} {
		got, err := parseString(t, in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Exclude != want {
			t.Errorf("%q: Exclude = %q, want %q", in, got.Exclude, want)
		}
	}
	got, _ := parseString(t, "exclude_record_name_characters=:., /")
	if len(got.Exclude) != 5 {
		t.Errorf("want the 5 characters, got %q", got.Exclude)
	}
}

func TestRotation(t *testing.T) {
	good := map[string][2]int64{
		"": {0, 0}, "0": {0, 0}, "off": {0, 0}, "OFF": {0, 0}, "0M": {0, 0},
		"20": {20, 0}, " 20 ": {20, 0}, "1": {1, 0},
		"10M": {0, 10 * 1024 * 1024}, "10m": {0, 10 << 20}, "1M": {0, 1 << 20}, "4096M": {0, 4096 << 20},
	}
	for in, want := range good {
		s, b, err := ParseRotation(in)
		if err != nil || int64(s) != want[0] || b != want[1] {
			t.Errorf("ParseRotation(%q) = %d, %d, %v; want %v", in, s, b, err, want)
		}
		got, err := parseString(t, "record_rotation="+in)
		if err != nil || int64(got.RotationSeconds) != want[0] || got.RotationBytes != want[1] {
			t.Errorf("record_rotation=%s: %d s, %d B, %v", in, got.RotationSeconds, got.RotationBytes, err)
		}
	}
	for _, in := range []string{"-5", "20s", "M", "10MB", "1.5", "abc", "10 M", "+5", "99999999999999999999",
		"9999999999999M", "0x10", "on"} {
		if _, _, err := ParseRotation(in); err == nil {
			t.Errorf("ParseRotation(%q) accepted", in)
		}
	}
	_, err := parseString(t, "\n\nrecord_rotation=20s\n")
	assertFieldError(t, err, "record_rotation", 3,
		`flashphoner.properties:3: record_rotation: "20s" is not a rotation (N seconds such as 20, N megabytes such as 10M, or off)`)
}

func TestSampleRate(t *testing.T) {
	for _, ok := range []int{8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000} {
		got, err := parseString(t, "record_audio_codec_sample_rate="+strconv.Itoa(ok))
		if err != nil || got.SampleRate != ok {
			t.Errorf("%d: %v %v", ok, got, err)
		}
	}
	cases := map[string]string{
		"abc":    `"abc" is not a number (8000–96000)`,
		"":       `"" is not a number (8000–96000)`,
		"7999":   `7999 is out of range (8000–96000)`,
		"96001":  `96001 is out of range (8000–96000)`,
		"0":      `0 is out of range (8000–96000)`,
		"-48000": `-48000 is out of range (8000–96000)`,
		"44101":  `44101 Hz is not a rate AAC can encode (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)`,
	}
	for in, msg := range cases {
		_, err := parseString(t, "# x\n# y\n# z\n# w\n# v\n\n# c\n\n\n\n\nrecord_audio_codec_sample_rate="+in+"\n")
		assertFieldError(t, err, "record_audio_codec_sample_rate", 12,
			"flashphoner.properties:12: record_audio_codec_sample_rate: "+msg)
	}
}

func TestPorts(t *testing.T) {
	keys := []string{"ws.port", "wss.port", "http.port", "https.port", "rtmp.port", "rtsp.port"}
	for _, k := range keys {
		for _, ok := range []string{"0", "1", "65535"} {
			if _, err := parseString(t, k+"="+ok); err != nil {
				t.Errorf("%s=%s: %v", k, ok, err)
			}
		}
		for in, msg := range map[string]string{
			"65536": "65536 is out of range (0–65535, 0 turns the listener off)",
			"-1":    "-1 is out of range (0–65535, 0 turns the listener off)",
			"http":  `"http" is not a number (0–65535, 0 turns the listener off)`,
			"80.5":  `"80.5" is not a number (0–65535, 0 turns the listener off)`,
		} {
			_, err := parseString(t, "# c\n"+k+"="+in)
			assertFieldError(t, err, k, 2, "flashphoner.properties:2: "+k+": "+msg)
		}
	}
	got, _ := parseString(t, "rtmp.port=0\nws.port = 9000")
	if got.RTMPPort != 0 || got.WSPort != 9000 {
		t.Errorf("got %+v", got)
	}
}

func TestMediaPorts(t *testing.T) {
	_, err := parseString(t, "media_port_from=0\n")
	assertFieldError(t, err, "media_port_from", 1,
		"flashphoner.properties:1: media_port_from: 0 is out of range (1–65535)")
	_, err = parseString(t, "media_port_to=70000\n")
	assertFieldError(t, err, "media_port_to", 1,
		"flashphoner.properties:1: media_port_to: 70000 is out of range (1–65535)")
	_, err = parseString(t, "media_port_from=40001\nmedia_port_to=40000\n")
	assertFieldError(t, err, "media_port_to", 2,
		"flashphoner.properties:2: media_port_to: 40000 is below media_port_from (40001)")
	// media_port_to at its default (not in the file): the error names no line.
	_, err = parseString(t, "media_port_from=32001\n")
	assertFieldError(t, err, "media_port_to", 0, "media_port_to: 32000 is below media_port_from (32001)")
}

func TestRecordFormats(t *testing.T) {
	good := map[string]map[string]string{
		"h264-mp4,vp8-webm":     {"h264": "mp4", "vp8": "webm"},
		" vp8-webm , h264-mp4 ": {"h264": "mp4", "vp8": "webm"},
		"h264-mp4":              {"h264": "mp4"},
		"VP8-WebM":              {"vp8": "webm"},
	}
	for in, want := range good {
		got, err := parseString(t, "record_formats="+in)
		if err != nil || !maps.Equal(got.RecordFormats, want) {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	bad := map[string]string{
		"":                  `"" lists no format`,
		"h265-mp4":          `unknown codec "h265" (h264 or vp8)`,
		"h264-mkv":          `unknown container "mkv" (mp4 or webm)`,
		"h264-webm":         `h264 can only be recorded to mp4`,
		"vp8-mp4":           `vp8 can only be recorded to webm`,
		"h264":              `item "h264" is not codec-container`,
		"h264-mp4,":         `item "" is not codec-container`,
		"h264-mp4,h264-mp4": `h264 is listed twice`,
		"h264-mp4;vp8-webm": `unknown container "mp4;vp8-webm"`,
	}
	for in, msg := range bad {
		_, err := parseString(t, "record_formats="+in)
		fe := assertFieldError(t, err, "record_formats", 1, "")
		if !strings.Contains(fe.Msg, msg) {
			t.Errorf("%q: message %q lacks %q", in, fe.Msg, msg)
		}
	}
}

func TestPolicyAndTemplate(t *testing.T) {
	got, err := parseString(t, "stream_record_policy=STREAMNAME\nstream_record_policy_template=")
	if err != nil || got.Policy != "streamName" || got.Template != "" {
		t.Errorf("got %+v, %v", got, err)
	}
	_, err = parseString(t, "stream_record_policy=byName")
	assertFieldError(t, err, "stream_record_policy", 1,
		`flashphoner.properties:1: stream_record_policy: "byName" is not a policy (template or streamName)`)

	_, err = parseString(t, "stream_record_policy_template=  ")
	assertFieldError(t, err, "stream_record_policy_template", 1,
		"flashphoner.properties:1: stream_record_policy_template: must not be empty when stream_record_policy is template")

	_, err = parseString(t, "# c\nstream_record_policy_template=rec-{streamName}-{date}")
	fe := assertFieldError(t, err, "stream_record_policy_template", 2, "")
	if !strings.HasPrefix(fe.Msg, `"rec-{streamName}-{date}": unknown element {date} (known: {streamName}, `) {
		t.Errorf("message %q", fe.Msg)
	}
	for _, bad := range []string{"{Login}", "{}", "a-{login", "{login}}{x}", "{ login }"} {
		if err := CheckTemplate(bad); err == nil {
			t.Errorf("CheckTemplate(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"plain", "", "{login}}", "a}b", "{streamName}{streamName}"} {
		if err := CheckTemplate(ok); err != nil {
			t.Errorf("CheckTemplate(%q): %v", ok, err)
		}
	}
}

func TestEncode(t *testing.T) {
	for in, want := range map[string]naming.Encoding{
		"false": "", "FALSE": "", "true": "HEX", "True": "HEX", "true,HEX": "HEX", "true,hex": "HEX",
		"true,BASE64": "BASE64", "true, base64": "BASE64", " true,Base64 ": "BASE64", "false,HEX": "",
	} {
		got, err := parseString(t, "encode_record_name="+in)
		if err != nil || got.Encode != want {
			t.Errorf("%q: %q, %v", in, got.Encode, err)
		}
	}
	for _, in := range []string{"", "yes", "true,ROT13", "true,", "HEX", "true,HEX,BASE64", "false,x"} {
		_, err := parseString(t, "encode_record_name="+in)
		fe := assertFieldError(t, err, "encode_record_name", 1, "")
		if !strings.Contains(fe.Msg, "(false, true,HEX or true,BASE64)") {
			t.Errorf("%q: message %q", in, fe.Msg)
		}
	}
}

func TestBooleans(t *testing.T) {
	for _, k := range []string{"record_streams", "record_flash_published_streams", "record_rtsp_streams"} {
		for _, in := range []string{"yes", "1", "", "t"} {
			_, err := parseString(t, k+"="+in)
			assertFieldError(t, err, k, 1, "flashphoner.properties:1: "+k+": \""+in+"\" is not a boolean (true or false)")
		}
	}
}

func TestHook(t *testing.T) {
	s := Defaults()
	if got := s.HookScriptPath("/srv/streamrec"); got != "/srv/streamrec/bin/on_record_hook.sh" {
		t.Errorf("relative: %q", got)
	}
	s.HookScript = "/opt/on_record.sh"
	if got := s.HookScriptPath("/srv/streamrec"); got != "/opt/on_record.sh" {
		t.Errorf("absolute: %q", got)
	}
	s.HookScript = ""
	if got := s.HookScriptPath("/srv/streamrec"); got != "" {
		t.Errorf("none: %q", got)
	}
	s.HookScript = "hook.sh"
	if got := s.HookScriptPath("home"); !filepath.IsAbs(got) || !strings.HasSuffix(got, "/home/hook.sh") {
		t.Errorf("relative home: %q", got)
	}
	for in, msg := range map[string]string{
		"0":                     "0 is out of range (1–86400, seconds)",
		"86401":                 "86401 is out of range (1–86400, seconds)",
		"30s":                   `"30s" is not a number (1–86400, seconds)`,
		"-1":                    "-1 is out of range (1–86400, seconds)",
		"":                      `"" is not a number (1–86400, seconds)`,
		"999999999999999999999": `"999999999999999999999" is out of range (1–86400, seconds)`,
	} {
		_, err := parseString(t, "on_record_hook_timeout="+in)
		assertFieldError(t, err, "on_record_hook_timeout", 1, "flashphoner.properties:1: on_record_hook_timeout: "+msg)
	}
}

func TestCertPair(t *testing.T) {
	_, err := parseString(t, "https.cert=a.crt")
	assertFieldError(t, err, "https.key", 0,
		"https.key: must be set when https.cert is set (or leave both empty for a self-signed certificate)")
	_, err = parseString(t, "https.cert=\nhttps.key=a.key")
	assertFieldError(t, err, "https.cert", 1,
		"flashphoner.properties:1: https.cert: must be set when https.key is set (or leave both empty for a self-signed certificate)")
	s, err := parseString(t, "https.cert=conf/a.crt\nhttps.key=/k/a.key")
	if err != nil {
		t.Fatal(err)
	}
	c, k := s.CertPaths("/home/x")
	if c != "/home/x/conf/a.crt" || k != "/k/a.key" {
		t.Errorf("CertPaths = %q, %q", c, k)
	}
}

func TestParseAllErrorsReported(t *testing.T) {
	in := "record_streams=maybe\n# comment\nrecord_rotation=x\nws.port=99999\nunknown=1\n"
	_, err := parseString(t, in)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %T %v", err, err)
	}
	want := `flashphoner.properties:1: record_streams: "maybe" is not a boolean (true or false); ` +
		`flashphoner.properties:3: record_rotation: "x" is not a rotation (N seconds such as 20, N megabytes such as 10M, or off); ` +
		`flashphoner.properties:4: ws.port: 99999 is out of range (0–65535, 0 turns the listener off)`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	byKey := ve.ByKey()
	if len(byKey) != 3 || byKey["record_rotation"] == "" || !strings.Contains(byKey["ws.port"], "(line 4)") {
		t.Errorf("ByKey %q", byKey)
	}
}

func TestParseDuplicateKeyLastWins(t *testing.T) {
	got, err := parseString(t, "record_rotation=abc\nrecord_rotation=20\n")
	if err != nil || got.RotationSeconds != 20 {
		t.Errorf("%+v %v", got, err)
	}
	_, err = parseString(t, "record_rotation=20\nrecord_rotation=abc\n")
	assertFieldError(t, err, "record_rotation", 2, "")
}

func TestParseMalformedEscapeNamesLine(t *testing.T) {
	_, err := parseString(t, "# c\nrecord_rotation=\\u00G1\n")
	assertFieldError(t, err, "record_rotation", 2,
		`flashphoner.properties:2: record_rotation: malformed \uXXXX escape "\u00G1"`)
}

// assertFieldError checks that err is a *ValidationError whose only error is about key at
// line, with text full (when given); it returns that error.
func assertFieldError(t *testing.T, err error, key string, line int, full string) FieldError {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError about %s, got %T %v", key, err, err)
	}
	if len(ve.Errors) != 1 {
		t.Fatalf("want one error, got %v", ve)
	}
	fe := ve.Errors[0]
	if fe.Key != key || fe.Line != line {
		t.Errorf("error about %s line %d, want %s line %d: %v", fe.Key, fe.Line, key, line, fe)
	}
	if full != "" && err.Error() != full {
		t.Errorf("got  %s\nwant %s", err, full)
	}
	return fe
}

func TestLimitAndSecurityValuesRefused(t *testing.T) {
	for _, line := range []string{
		"rtmp.address=example.com", "http.address=1.2.3", "max_connections=0", "max_connections_per_address=-1",
		"max_rtsp_cameras=lots", "rest_allowed_origins=example.com", "rest_allowed_origins=ftp://x",
		"rest_allowed_origins=https://x/path", "media_timeout=0", "media_timeout=3601", "media_timeout=2.5",
	} {
		if _, err := parseString(t, line+"\n"); err == nil {
			t.Errorf("%s accepted", line)
		}
	}
	s, err := parseString(t, "rest_allowed_origins=*\n")
	if err != nil || !reflect.DeepEqual(s.RESTAllowedOrigins, []string{"*"}) {
		t.Errorf("rest_allowed_origins=* gives %q, %v", s.RESTAllowedOrigins, err)
	}
}

func TestObjectStorage(t *testing.T) {
	got, err := parseString(t, "record_s3_endpoint=http://127.0.0.1:8333/\nrecord_s3_bucket=rec.ords-1\nrecord_s3_prefix=a/\n"+
		"record_s3_secret_key=k\nrecord_s3_path_style=true\nrecord_s3_delete_local=true\nnode_name=node-1")
	want := S3{Endpoint: "http://127.0.0.1:8333", Bucket: "rec.ords-1", Prefix: "a/", SecretKey: "k", PathStyle: true, DeleteLocal: true}
	if err != nil || got.S3 != want || got.Node() != "node-1" {
		t.Errorf("got %+v %q, %v", got.S3, got.Node(), err)
	}
	if def, _ := parseString(t, ""); def.S3.Bucket != "" || def.Node() == "" {
		t.Errorf("defaults: upload on, or no node name: %+v %q", def.S3, def.Node())
	}
	for line, msg := range map[string]string{
		"record_s3_endpoint=127.0.0.1:8333":  "is not http(s)://host[:port]",
		"record_s3_endpoint=http://h/bucket": "is not http(s)://host[:port]",
		"record_s3_endpoint=http://u:p@h":    "is not http(s)://host[:port]",
		"record_s3_bucket=Records":           "is not a bucket name",
		"record_s3_bucket=ab":                "is not a bucket name",
		"record_s3_bucket=a/b":               "is not a bucket name",
		"node_name=node 1":                   "no spaces",
		"on_record_webhook_url=ftp://h/x":    "is not an http(s):// URL",
		"on_record_webhook_url=/hook":        "is not an http(s):// URL",
		"record_s3_delete_local=sometimes":   "",
	} {
		key, _, _ := strings.Cut(line, "=")
		_, err := parseString(t, line)
		if fe := assertFieldError(t, err, key, 1, ""); !strings.Contains(fe.Msg, msg) {
			t.Errorf("%s: message %q lacks %q", line, fe.Msg, msg)
		}
	}
}
