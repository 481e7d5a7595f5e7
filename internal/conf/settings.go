package conf

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamrec/streamrec/internal/media"
	"github.com/streamrec/streamrec/internal/naming"
)

// Settings is one validated snapshot of the settings file. A *Settings handed out by this
// package is never changed afterwards and must not be changed by its users (that includes the
// RecordFormats map): it is shared by every goroutine that holds it.
type Settings struct {
	RecordStreams bool // record_streams
	RecordFlash   bool // record_flash_published_streams
	RecordRTSP    bool // record_rtsp_streams

	// RecordFormats maps a lower-case video codec ("h264", "vp8") to its container
	// ("mp4", "webm"); a codec absent from it is not recorded. Never empty.
	RecordFormats map[string]string

	Policy   naming.Mode     // stream_record_policy: naming.ModeTemplate or naming.ModeStreamName
	Template string          // stream_record_policy_template; checked by CheckTemplate
	Encode   naming.Encoding // encode_record_name: naming.EncodeNone, EncodeHex or EncodeBase64
	Exclude  string          // exclude_record_name_characters, exactly as given (spaces included)

	// Rotation: at most one is non-zero; both zero = off.
	RotationSeconds int
	RotationBytes   int64

	HookScript  string        // on_record_hook_script as written; see HookScriptPath. "" = no script
	HookTimeout time.Duration // on_record_hook_timeout
	// Webhooks (README, "Webhooks"): events POSTed to WebhookURL, signed with WebhookSecret.
	WebhookURL    string // on_record_webhook_url; "" = off
	WebhookSecret string // on_record_webhook_secret; "" = unsigned
	SampleRate    int    // record_audio_codec_sample_rate, Hz

	// Listener ports; 0 = that listener is off.
	WSPort, WSSPort, HTTPPort, HTTPSPort, RTMPPort, RTSPPort int
	// UDP port range for WebRTC media, 1–65535, MediaPortFrom <= MediaPortTo.
	MediaPortFrom, MediaPortTo int
	// WebRTC behind NAT (README, "WebRTC behind NAT").
	PublicIPs  []string // ip: announced instead of the host addresses; empty = host addresses
	LocalIP    string   // ip_local: the one local address media uses (the one ip stands for)
	ICETCPPort int      // ice_tcp_port: ICE over TCP on this port; 0 = off
	STUN       []string // stun_servers: stun: URLs for the server's own reflexive candidates
	// TURN (turn_server, turn_username, turn_password): a relay offered to WHIP publishers.
	TURN struct{ URL, Username, Password string }

	CertFile, KeyFile string // https.cert / https.key as written; both empty = self-signed
	AdminPassword     string // "" = the server generates one at first start

	// Bind addresses of the listeners (an IP address, or "" = every interface).
	WSAddress, WSSAddress, HTTPAddress, HTTPSAddress, RTMPAddress, RTSPAddress string

	// Limits on what peers can make the server hold (README, "Limits").
	MaxConnections           int // connections open at once on each listener (RTMP, RTSP, HTTP, HTTPS, WS, WSS)
	MaxConnectionsPerAddress int // of those, from one source IP address
	MaxPendingWebRTC         int // WebRTC publishers negotiating (offer answered, media not yet flowing)
	MaxRTSPCameras           int // RTSP cameras pulled at once

	// REST API protection (README, "Security").
	RESTToken          string   // rest_token: "" = REST needs no token
	MetricsToken       string   // metrics_token: "" = GET /metrics needs no token
	RESTAllowedOrigins []string // rest_allowed_origins: foreign Origins allowed to call REST ("*" = any)

	// WHIP ingest protection (README, "Publishing with OBS (WHIP)").
	WHIPToken          string   // whip_token: "" = anyone may publish over WHIP
	WHIPAllowedOrigins []string // whip_allowed_origins: Origins whose pages may call /whip ("*" = any)

	// Retention (package retention): zero values are off.
	RecordDeleteAfter  time.Duration // record_delete_after: finished recordings older than this are deleted
	RecordMinFreeSpace Space         // record_min_free_space: free space kept on the records disk
	RecordMaxTotalSize int64         // record_max_total_size: bytes of finished recordings kept at most

	// MediaTimeout (media_timeout): a publication whose media (RTP carrying frames, not RTCP
	// nor keep-alives) stops for that long ends: a stalled camera is reconnected.
	MediaTimeout time.Duration

	// Object storage (README, "Storage"): every finished file is uploaded when S3.Bucket is set.
	S3 S3
	// NodeName (node_name) marks this server's recordings in a bucket shared by several nodes;
	// "" = the host name (see Node).
	NodeName string
}

// S3 is the record_s3_* settings: the bucket finished recordings are uploaded to.
type S3 struct {
	Endpoint    string // record_s3_endpoint: http(s)://host[:port]; "" = AWS
	Region      string // record_s3_region
	Bucket      string // record_s3_bucket; "" = no upload
	Prefix      string // record_s3_prefix: object key = Prefix + file name
	AccessKey   string // record_s3_access_key
	SecretKey   string // record_s3_secret_key
	PathStyle   bool   // record_s3_path_style
	DeleteLocal bool   // record_s3_delete_local: remove the local copy once its upload is verified
}

// Node is node_name, or the host name when it is empty.
func (s *Settings) Node() string {
	if s.NodeName != "" {
		return s.NodeName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "streamrec"
}

// HookScriptPath gives the absolute path of the hook script; a relative on_record_hook_script
// is taken relative to home (the server's home directory). "" when no script is set.
func (s *Settings) HookScriptPath(home string) string { return resolve(home, s.HookScript) }

// CertPaths gives the absolute paths of https.cert and https.key, relative ones taken relative
// to home; both "" when the server must use its self-signed certificate.
func (s *Settings) CertPaths(home string) (cert, key string) {
	return resolve(home, s.CertFile), resolve(home, s.KeyFile)
}

func resolve(home, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(home, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// Spec describes one setting, for the default file and the dashboard.
type Spec struct {
	Key     string
	Default string // as written in the file
	Help    string // one line
	Restart bool   // a change takes effect only after a server restart
	Secret  bool   // the value is a secret: show it masked
}

// setting is a Spec with its parser.
type setting struct {
	Spec
	raw   bool                              // value used exactly as given (else surrounding whitespace is trimmed)
	apply func(s *Settings, v string) error // v is valid UTF-8; the error names the value, not the key
}

// DefaultTemplate is the default of stream_record_policy_template.
const DefaultTemplate = naming.DefaultTemplate

// templateElements are the elements a file name template may use, without braces.
var templateElements = naming.Elements()

// sampleRates are the rates an AAC encoder accepts (and Vorbis too) between 8 and 96 kHz.
var sampleRates = []int{8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}

// maxHookTimeout bounds on_record_hook_timeout.
const maxHookTimeout = 24 * time.Hour

// table lists every setting in file order.
var table = []setting{
	{Spec: Spec{Key: "record_streams", Default: "true",
		Help: "Master switch for all recording: false turns every recording off"},
		apply: func(s *Settings, v string) (err error) { s.RecordStreams, err = parseBool(v); return }},
	{Spec: Spec{Key: "record_flash_published_streams", Default: "false",
		Help: "Record streams published over RTMP automatically"},
		apply: func(s *Settings, v string) (err error) { s.RecordFlash, err = parseBool(v); return }},
	{Spec: Spec{Key: "record_rtsp_streams", Default: "false",
		Help: "Record RTSP camera and RTSP-published streams automatically"},
		apply: func(s *Settings, v string) (err error) { s.RecordRTSP, err = parseBool(v); return }},
	{Spec: Spec{Key: "record_formats", Default: strings.Join(formatItems(), ","),
		Help: "Container per video codec, comma-separated codec-container items: " + strings.Join(formatItems(), ", ") + "; a codec not listed is not recorded"},
		apply: func(s *Settings, v string) (err error) { s.RecordFormats, err = parseFormats(v); return }},
	{Spec: Spec{Key: "stream_record_policy", Default: "template",
		Help: "How a recording is named: template (stream_record_policy_template) or streamName (the stream's name)"},
		apply: func(s *Settings, v string) (err error) { s.Policy, err = parsePolicy(v); return }},
	{Spec: Spec{Key: "stream_record_policy_template", Default: DefaultTemplate,
		Help: "File name template; elements: {" + strings.Join(templateElements, "} {") + "}"},
		apply: func(s *Settings, v string) error {
			if v == "" {
				s.Template = ""
				return nil // an error only with the template policy: checked in build
			}
			if err := CheckTemplate(v); err != nil {
				return fmt.Errorf("%q: %w", v, err)
			}
			s.Template = v
			return nil
		}},
	{Spec: Spec{Key: "encode_record_name", Default: "false",
		Help: "Encode record names: false, true,HEX or true,BASE64 (true alone means HEX)"},
		apply: func(s *Settings, v string) (err error) { s.Encode, err = parseEncode(v); return }},
	{Spec: Spec{Key: "exclude_record_name_characters", Default: "/",
		Help: "Characters deleted from record names, taken exactly (spaces count); e.g. :., / deletes colon, dot, comma, space and slash"},
		raw:   true,
		apply: func(s *Settings, v string) error { s.Exclude = v; return nil }},
	{Spec: Spec{Key: "record_rotation", Default: "",
		Help: "Record in parts: N seconds (e.g. 20) or N megabytes (e.g. 10M) per part; empty, 0 or off = one file"},
		apply: func(s *Settings, v string) (err error) {
			s.RotationSeconds, s.RotationBytes, err = ParseRotation(v)
			return
		}},
	{Spec: Spec{Key: "on_record_hook_script", Default: "bin/on_record_hook.sh",
		Help: "Script run for each finished recording file with $1 = stream name, $2 = absolute file path; relative to the server home; empty = none"},
		apply: func(s *Settings, v string) error { s.HookScript = v; return nil }},
	{Spec: Spec{Key: "on_record_hook_timeout", Default: "30",
		Help: "Seconds the hook script may run before it is killed (1-86400)"},
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 1, int(maxHookTimeout/time.Second), "seconds")
			s.HookTimeout = time.Duration(n) * time.Second
			return err
		}},
	{Spec: Spec{Key: "on_record_webhook_url", Default: "",
		Help: "URL (http or https) that gets an HTTP POST with a JSON body for every recording started, file finished, recording failed and file uploaded; empty = none"},
		apply: func(s *Settings, v string) (err error) { s.WebhookURL, err = parseWebhookURL(v); return }},
	{Spec: Spec{Key: "on_record_webhook_secret", Default: "", Secret: true,
		Help: "Key of the HMAC-SHA256 signature of each webhook body (header X-Streamrec-Signature-256); empty = unsigned"},
		apply: func(s *Settings, v string) error { s.WebhookSecret = v; return nil }},
	{Spec: Spec{Key: "record_audio_codec_sample_rate", Default: "44100",
		Help: "Sample rate of recorded audio in Hz, 8000-96000: 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200 or 96000"},
		apply: func(s *Settings, v string) (err error) {
			s.SampleRate, err = parseInt(v, 8000, 96000, "")
			if err == nil && !slices.Contains(sampleRates, s.SampleRate) {
				err = fmt.Errorf("%d Hz is not a rate AAC can encode (%s)", s.SampleRate, joinInts(sampleRates))
			}
			return err
		}},
	// Retention (package retention; parsers in retention.go).
	{Spec: Spec{Key: "record_delete_after", Default: "",
		Help: "Delete finished recordings older than this: 30s, 12h, 7d, 2w; empty = keep them"},
		apply: func(s *Settings, v string) (err error) { s.RecordDeleteAfter, err = ParseAge(v); return }},
	{Spec: Spec{Key: "record_min_free_space", Default: "",
		Help: "Keep at least this much free on the records disk (10G, 500M, 5%) by deleting the oldest finished recordings; when nothing is left to delete new recordings are refused; empty = only the 64 MB a recording needs to start"},
		apply: func(s *Settings, v string) (err error) { s.RecordMinFreeSpace, err = ParseSpace(v); return }},
	{Spec: Spec{Key: "record_max_total_size", Default: "",
		Help: "The finished recordings in the records folder never take more than this (500G; K, M, G, T): the oldest are deleted first; empty = no bound"},
		apply: func(s *Settings, v string) (err error) { s.RecordMaxTotalSize, err = ParseSize(v); return }},
	port("ws.port", 8080, "WebSocket signalling port (ws://)", func(s *Settings) *int { return &s.WSPort }),
	port("wss.port", 8443, "Secure WebSocket signalling port (wss://)", func(s *Settings) *int { return &s.WSSPort }),
	port("http.port", 8081, "HTTP port: web pages, REST API (/rest-api), downloads", func(s *Settings) *int { return &s.HTTPPort }),
	port("https.port", 8444, "HTTPS port: web pages, REST API (/rest-api), downloads", func(s *Settings) *int { return &s.HTTPSPort }),
	port("rtmp.port", 1935, "RTMP ingest port", func(s *Settings) *int { return &s.RTMPPort }),
	port("rtsp.port", 8554, "RTSP publish (ANNOUNCE/RECORD) ingest port", func(s *Settings) *int { return &s.RTSPPort }),
	{Spec: Spec{Key: "media_port_from", Default: "31001", Restart: true,
		Help: "First UDP port for WebRTC media (1-65535)"},
		apply: func(s *Settings, v string) (err error) { s.MediaPortFrom, err = parseInt(v, 1, 65535, ""); return }},
	{Spec: Spec{Key: "media_port_to", Default: "32000", Restart: true,
		Help: "Last UDP port for WebRTC media (1-65535, not below media_port_from)"},
		apply: func(s *Settings, v string) (err error) { s.MediaPortTo, err = parseInt(v, 1, 65535, ""); return }},
	{Spec: Spec{Key: "ip", Default: "", Restart: true,
		Help: "Public IP address(es), comma-separated, that WebRTC candidates announce instead of the host addresses (a server behind 1:1 NAT, a cloud VM); empty = the host addresses"},
		apply: func(s *Settings, v string) (err error) { s.PublicIPs, err = parseIPs(v); return }},
	{Spec: Spec{Key: "ip_local", Default: "", Restart: true,
		Help: "The local IP address WebRTC media uses, the one ip forwards to; empty = every interface"},
		apply: func(s *Settings, v string) error {
			if v != "" && net.ParseIP(v) == nil {
				return fmt.Errorf("%q is not an IP address", v)
			}
			s.LocalIP = v
			return nil
		}},
	{Spec: Spec{Key: "ice_tcp_port", Default: "0", Restart: true,
		Help: "TCP port for WebRTC media over ICE-TCP, for publishers whose network drops UDP; 0 = off"},
		apply: func(s *Settings, v string) (err error) { s.ICETCPPort, err = parseInt(v, 0, 65535, "port"); return }},
	{Spec: Spec{Key: "stun_servers", Default: "", Restart: true,
		Help: "STUN servers (stun:host:port, comma-separated) the server asks for its public address; empty = none"},
		apply: func(s *Settings, v string) (err error) { s.STUN, err = parseSTUN(v); return }},
	{Spec: Spec{Key: "turn_server", Default: "", Restart: true,
		Help: "TURN relay offered to WHIP publishers in their ICE servers (turn:host:port?transport=udp or turns:...); empty = none"},
		apply: func(s *Settings, v string) (err error) { s.TURN.URL, err = parseTURN(v); return }},
	{Spec: Spec{Key: "turn_username", Default: "", Restart: true,
		Help: "User name on turn_server"},
		apply: func(s *Settings, v string) error { s.TURN.Username = v; return nil }},
	{Spec: Spec{Key: "turn_password", Default: "", Restart: true, Secret: true,
		Help: "Password on turn_server (given to WHIP publishers, never logged)"},
		apply: func(s *Settings, v string) error { s.TURN.Password = v; return nil }},
	{Spec: Spec{Key: "https.cert", Default: "", Restart: true,
		Help: "TLS certificate (PEM) for https and wss, relative to the server home; empty = a self-signed certificate generated into conf/ at first start"},
		apply: func(s *Settings, v string) error { s.CertFile = v; return nil }},
	{Spec: Spec{Key: "https.key", Default: "", Restart: true,
		Help: "TLS private key (PEM) of https.cert, relative to the server home; empty together with https.cert"},
		apply: func(s *Settings, v string) error { s.KeyFile = v; return nil }},
	{Spec: Spec{Key: "admin.password", Default: "", Secret: true,
		Help: "Dashboard administrator password; empty = generated by the server at first start"},
		apply: func(s *Settings, v string) error { s.AdminPassword = v; return nil }},
	address("ws.address", func(s *Settings) *string { return &s.WSAddress }),
	address("wss.address", func(s *Settings) *string { return &s.WSSAddress }),
	address("http.address", func(s *Settings) *string { return &s.HTTPAddress }),
	address("https.address", func(s *Settings) *string { return &s.HTTPSAddress }),
	address("rtmp.address", func(s *Settings) *string { return &s.RTMPAddress }),
	address("rtsp.address", func(s *Settings) *string { return &s.RTSPAddress }),
	limit("max_connections", 1000, 1_000_000, true,
		"Connections open at once on each listener (RTMP, RTSP, HTTP, HTTPS, WS, WSS); past it new ones are refused",
		func(s *Settings) *int { return &s.MaxConnections }),
	limit("max_connections_per_address", 100, 1_000_000, true,
		"Connections open at once on each listener from one source IP address (behind a reverse proxy everyone shares one)",
		func(s *Settings) *int { return &s.MaxConnectionsPerAddress }),
	limit("max_pending_webrtc_sessions", 50, 100_000, false,
		"WebRTC publishers negotiating at once (offer answered, media not yet flowing); past it a publish is refused",
		func(s *Settings) *int { return &s.MaxPendingWebRTC }),
	limit("max_rtsp_cameras", 100, 100_000, false,
		"RTSP cameras pulled at once; REST /rtsp/startup refuses more",
		func(s *Settings) *int { return &s.MaxRTSPCameras }),
	{Spec: Spec{Key: "rest_token", Default: "", Secret: true,
		Help: "Token every REST call must carry (Authorization: Bearer TOKEN, or as the HTTP Basic password); empty = REST is open to anyone who reaches http.port"},
		apply: func(s *Settings, v string) error { s.RESTToken = v; return nil }},
	{Spec: Spec{Key: "metrics_token", Default: "", Secret: true,
		Help: "Token GET /metrics needs (Authorization: Bearer TOKEN, or as the HTTP Basic password); empty = metrics are open to anyone who reaches http.port"},
		apply: func(s *Settings, v string) error { s.MetricsToken = v; return nil }},
	{Spec: Spec{Key: "rest_allowed_origins", Default: "",
		Help: "Comma-separated web origins (https://app.example.com) whose pages may call REST from a browser; * = any; empty = none but the server's own pages"},
		apply: func(s *Settings, v string) (err error) { s.RESTAllowedOrigins, err = parseOrigins(v); return }},
	{Spec: Spec{Key: "whip_token", Default: "", Secret: true,
		Help: "Bearer token a WHIP publisher must send (OBS: Bearer Token); empty = anyone who reaches http.port or https.port may publish over WHIP"},
		apply: func(s *Settings, v string) error { s.WHIPToken = v; return nil }},
	{Spec: Spec{Key: "whip_allowed_origins", Default: "*",
		Help: "Comma-separated web origins whose pages may publish over WHIP from a browser; * = any (the token protects WHIP, not the origin)"},
		apply: func(s *Settings, v string) (err error) { s.WHIPAllowedOrigins, err = parseOrigins(v); return }},
	{Spec: Spec{Key: "media_timeout", Default: "10",
		Help: "Seconds without media (RTCP and keep-alives do not count) after which an RTSP camera is reconnected and an RTSP or WebRTC publisher dropped (1-3600)"},
		apply: func(s *Settings, v string) error {
			n, err := parseInt(v, 1, 3600, "seconds")
			s.MediaTimeout = time.Duration(n) * time.Second
			return err
		}},
	{Spec: Spec{Key: "record_s3_endpoint", Default: "", Restart: true,
		Help: "S3-compatible service finished recordings are uploaded to, http(s)://host[:port] (SeaweedFS, MinIO, Ceph...); empty = AWS S3"},
		apply: func(s *Settings, v string) (err error) { s.S3.Endpoint, err = parseEndpoint(v); return }},
	{Spec: Spec{Key: "record_s3_region", Default: "", Restart: true,
		Help: "Region of the bucket (us-east-1, ...); empty = the service's default"},
		apply: func(s *Settings, v string) error { s.S3.Region = v; return nil }},
	{Spec: Spec{Key: "record_s3_bucket", Default: "", Restart: true,
		Help: "Bucket every finished recording (each rotated part too) is uploaded to; empty = no upload"},
		apply: func(s *Settings, v string) (err error) { s.S3.Bucket, err = parseBucket(v); return }},
	{Spec: Spec{Key: "record_s3_prefix", Default: "", Restart: true,
		Help: "Prefix of the object keys: key = prefix + file name (records/ for a folder)"},
		apply: func(s *Settings, v string) error { s.S3.Prefix = v; return nil }},
	{Spec: Spec{Key: "record_s3_access_key", Default: "", Restart: true,
		Help: "Access key of the S3 identity that uploads"},
		apply: func(s *Settings, v string) error { s.S3.AccessKey = v; return nil }},
	{Spec: Spec{Key: "record_s3_secret_key", Default: "", Restart: true, Secret: true,
		Help: "Secret key of that identity (never logged nor shown)"},
		apply: func(s *Settings, v string) error { s.S3.SecretKey = v; return nil }},
	{Spec: Spec{Key: "record_s3_path_style", Default: "false", Restart: true,
		Help: "true: the bucket is in the URL path (most self-hosted stores); false: in the host name (AWS)"},
		apply: func(s *Settings, v string) (err error) { s.S3.PathStyle, err = parseBool(v); return }},
	{Spec: Spec{Key: "record_s3_delete_local", Default: "false",
		Help: "true: delete the local copy of a recording once its upload is verified (downloads are then served from the bucket)"},
		apply: func(s *Settings, v string) (err error) { s.S3.DeleteLocal, err = parseBool(v); return }},
	{Spec: Spec{Key: "node_name", Default: "", Restart: true,
		Help: "This server's name in a library shared through one bucket by several servers; empty = the host name"},
		apply: func(s *Settings, v string) (err error) { s.NodeName, err = parseNodeName(v); return }},
}

// parseIPs reads ip: IP addresses, comma-separated.
func parseIPs(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if net.ParseIP(f) == nil {
			return nil, fmt.Errorf("%q is not an IP address", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// parseSTUN reads stun_servers: stun: or stuns: URLs with a host, comma-separated.
func parseSTUN(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !iceURL(f, "stun", false) {
			return nil, fmt.Errorf("%q is not a stun:host[:port] URL", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// parseTURN reads turn_server: empty, or one turn: or turns: URL with a host.
func parseTURN(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if !iceURL(v, "turn", true) {
		return "", fmt.Errorf("%q is not a turn:host[:port][?transport=udp|tcp] URL", v)
	}
	return v, nil
}

// iceURL tells whether v is an ICE server URL (RFC 7064, 7065): scheme or its TLS form
// (scheme+"s"), then host[:port], with a ?transport= query only where query allows it.
func iceURL(v, scheme string, query bool) bool {
	s, rest, _ := strings.Cut(v, ":")
	bad := "/@ "
	if !query {
		bad += "?"
	}
	return (s == scheme || s == scheme+"s") && rest != "" && !strings.ContainsAny(rest, bad)
}

// parseWebhookURL reads on_record_webhook_url: empty, or an absolute http(s) URL.
func parseWebhookURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not an http(s):// URL", v)
	}
	return v, nil
}

// parseEndpoint reads record_s3_endpoint: empty, or an http(s) URL with a host and no path.
func parseEndpoint(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("%q is not http(s)://host[:port]", v)
	}
	return strings.TrimSuffix(v, "/"), nil
}

// parseBucket reads record_s3_bucket: S3's rules for names, 3-63 of a-z 0-9 . - (empty: off).
func parseBucket(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	ok := len(v) >= 3 && len(v) <= 63
	for _, c := range v {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-')
	}
	if !ok {
		return "", fmt.Errorf("%q is not a bucket name (3-63 characters of a-z, 0-9, '.', '-')", v)
	}
	return v, nil
}

// parseNodeName reads node_name: what it marks objects with is kept to printable ASCII without
// spaces, so it stays readable in every store's metadata.
func parseNodeName(v string) (string, error) {
	for _, c := range v {
		if c <= ' ' || c > '~' {
			return "", fmt.Errorf("%q: use letters, digits and punctuation, no spaces", v)
		}
	}
	if len(v) > 64 {
		return "", fmt.Errorf("%q is longer than 64 characters", v)
	}
	return v, nil
}

var byKey = func() map[string]*setting {
	m := make(map[string]*setting, len(table))
	for i := range table {
		m[table[i].Key] = &table[i]
	}
	return m
}()

func port(key string, def int, help string, field func(*Settings) *int) setting {
	return setting{
		Spec: Spec{Key: key, Default: strconv.Itoa(def), Restart: true, Help: help + "; 0 = off"},
		apply: func(s *Settings, v string) (err error) {
			*field(s), err = parseInt(v, 0, 65535, "0 turns the listener off")
			return err
		},
	}
}

// address is the bind address of a listener: an IP address, or empty for every interface.
func address(key string, field func(*Settings) *string) setting {
	listener, _, _ := strings.Cut(key, ".")
	return setting{
		Spec: Spec{Key: key, Default: "", Restart: true,
			Help: "IP address the " + listener + " listener binds to (e.g. 127.0.0.1); empty = every interface"},
		apply: func(s *Settings, v string) error {
			if v != "" && net.ParseIP(v) == nil {
				return fmt.Errorf("%q is not an IP address (e.g. 127.0.0.1 or ::1; empty = every interface)", v)
			}
			*field(s) = v
			return nil
		},
	}
}

// limit is a count limit of at least 1.
func limit(key string, def, hi int, restart bool, help string, field func(*Settings) *int) setting {
	return setting{
		Spec: Spec{Key: key, Default: strconv.Itoa(def), Restart: restart, Help: help},
		apply: func(s *Settings, v string) (err error) {
			*field(s), err = parseInt(v, 1, hi, "")
			return err
		},
	}
}

// parseOrigins reads rest_allowed_origins: "*" or scheme://host[:port] items, kept lower-case.
func parseOrigins(v string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		if item == "" {
			continue
		}
		if item != "*" {
			u, err := url.Parse(item)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return nil, fmt.Errorf("%q: %q is not an origin (scheme://host[:port], e.g. https://app.example.com, or *)", v, item)
			}
			item = u.Scheme + "://" + u.Host
		}
		out = append(out, item)
	}
	return out, nil
}

// Specs lists every setting in the order of the default file. The slice is a copy.
func Specs() []Spec {
	out := make([]Spec, len(table))
	for i, st := range table {
		out[i] = st.Spec
	}
	return out
}

// Defaults gives the settings of a file that sets nothing.
func Defaults() *Settings {
	s, _, err := build(nil, nil, "")
	if err != nil {
		panic("conf: invalid defaults: " + err.Error())
	}
	return s
}

// Parse reads a settings file in Java properties syntax. Unknown keys are ignored; a key given
// twice counts with its last value, as in Java. Errors are a *ValidationError naming the line
// and key of every bad value, as "flashphoner.properties:12: key: message".
func Parse(r io.Reader) (*Settings, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	st, err := parseFile(data, "flashphoner.properties")
	if err != nil {
		return nil, err
	}
	return st.settings, nil
}

// snapshot is what one version of the file gives.
type snapshot struct {
	settings *Settings
	values   map[string]string // every known key → its value (defaults filled, trimmed)
	unknown  []string          // keys of the file this package does not know, in file order
}

func parseFile(data []byte, file string) (*snapshot, error) {
	doc, errs := parseDocument(data)
	if len(errs) > 0 {
		for i := range errs {
			errs[i].File = file
		}
		return nil, &ValidationError{Errors: errs}
	}
	raw, lines := doc.values()
	s, values, err := build(raw, lines, file)
	if err != nil {
		return nil, err
	}
	return &snapshot{settings: s, values: values, unknown: doc.unknown()}, nil
}

func (d *document) unknown() []string {
	var out []string
	for _, e := range d.entries {
		if byKey[e.key] == nil && !slices.Contains(out, e.key) {
			out = append(out, e.key)
		}
	}
	return out
}

// build checks raw values (key → value; a missing key takes its default) and makes Settings
// of them. lines gives the line of a key in file (0: not from the file). values holds the value
// of every known key as used (trimmed unless the setting is taken raw).
func build(raw map[string]string, lines map[string]int, file string) (*Settings, map[string]string, error) {
	s := &Settings{}
	values := make(map[string]string, len(table))
	var errs []FieldError
	fail := func(key, value, msg string) {
		fe := FieldError{Key: key, Value: value, Msg: msg}
		if ln := lines[key]; ln > 0 {
			fe.File, fe.Line = file, ln
		}
		errs = append(errs, fe)
	}
	for _, st := range table {
		v, ok := raw[st.Key]
		if !ok {
			v = st.Default
		}
		if !st.raw {
			v = strings.TrimSpace(v)
		}
		values[st.Key] = v
		if err := st.apply(s, v); err != nil {
			fail(st.Key, v, err.Error())
		}
	}
	if s.Policy == naming.ModeTemplate && values["stream_record_policy_template"] == "" {
		fail("stream_record_policy_template", "", "must not be empty when stream_record_policy is template")
	}
	if s.MediaPortFrom > 0 && s.MediaPortTo > 0 && s.MediaPortFrom > s.MediaPortTo {
		fail("media_port_to", values["media_port_to"],
			fmt.Sprintf("%d is below media_port_from (%d)", s.MediaPortTo, s.MediaPortFrom))
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		missing, other := "https.key", "https.cert"
		if s.CertFile == "" {
			missing, other = other, missing
		}
		fail(missing, "", "must be set when "+other+" is set (or leave both empty for a self-signed certificate)")
	}
	if len(errs) > 0 {
		return nil, nil, &ValidationError{Errors: errs}
	}
	return s, values, nil
}

func parseBool(v string) (bool, error) {
	switch {
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", v)
}

// parseInt reads a decimal integer in [lo, hi]; note is added to the range in messages.
func parseInt(v string, lo, hi int, note string) (int, error) {
	rng := fmt.Sprintf("%d–%d", lo, hi)
	if note != "" {
		rng += ", " + note
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%q is out of range (%s)", v, rng)
		}
		return 0, fmt.Errorf("%q is not a number (%s)", v, rng)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range (%s)", n, rng)
	}
	return n, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// formatItems are the record_formats items of every container (media.Containers): "h264-mp4", ...
func formatItems() []string {
	var items []string
	for _, c := range media.Containers() {
		items = append(items, media.FormatKey(c.Video)+"-"+c.Name)
	}
	return items
}

// parseFormats reads record_formats: codec-container items, each codec to the one container
// that holds it (media.ContainerFor).
func parseFormats(v string) (map[string]string, error) {
	if v == "" {
		return nil, fmt.Errorf(`"" lists no format (use %s; record_streams=false turns recording off)`, strings.Join(formatItems(), ","))
	}
	byCodec := map[string]media.Container{}
	var codecs, names []string
	for _, c := range media.Containers() {
		byCodec[media.FormatKey(c.Video)] = c
		codecs, names = append(codecs, media.FormatKey(c.Video)), append(names, c.Name)
	}
	m := map[string]string{}
	for item := range strings.SplitSeq(v, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		codec, container, ok := strings.Cut(item, "-")
		if !ok || codec == "" || container == "" {
			return nil, fmt.Errorf("%q: item %q is not codec-container (e.g. h264-mp4)", v, item)
		}
		want, known := byCodec[codec]
		if !known {
			return nil, fmt.Errorf("%q: unknown codec %q (%s)", v, codec, strings.Join(codecs, " or "))
		}
		if !slices.Contains(names, container) {
			return nil, fmt.Errorf("%q: unknown container %q (%s)", v, container, strings.Join(names, " or "))
		}
		if container != want.Name {
			return nil, fmt.Errorf("%q: %s can only be recorded to %s", v, codec, want.Name)
		}
		if _, dup := m[codec]; dup {
			return nil, fmt.Errorf("%q: %s is listed twice", v, codec)
		}
		m[codec] = container
	}
	return m, nil
}

// parsePolicy reads stream_record_policy, in any case, into its canonical spelling.
func parsePolicy(v string) (naming.Mode, error) {
	for _, m := range []naming.Mode{naming.ModeTemplate, naming.ModeStreamName} {
		if strings.EqualFold(v, string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("%q is not a policy (template or streamName)", v)
}

// parseEncode reads encode_record_name: false, true (HEX), true,HEX or true,BASE64.
func parseEncode(v string) (naming.Encoding, error) {
	on, enc, hasEnc := strings.Cut(v, ",")
	on, enc = strings.TrimSpace(on), strings.ToUpper(strings.TrimSpace(enc))
	bad := fmt.Errorf("%q is not valid (false, true,HEX or true,BASE64)", v)
	encoding := naming.Encoding(enc)
	if hasEnc && encoding != naming.EncodeHex && encoding != naming.EncodeBase64 {
		return naming.EncodeNone, bad
	}
	switch {
	case strings.EqualFold(on, "false"):
		return naming.EncodeNone, nil
	case strings.EqualFold(on, "true"):
		if !hasEnc {
			return naming.EncodeHex, nil
		}
		return encoding, nil
	}
	return naming.EncodeNone, bad
}

// ParseRotation reads a record_rotation value: "N" = parts of N seconds, "NM" = parts of N
// megabytes (N × 1 MiB); "", "0", "0M" and "off" = no rotation (both results zero).
func ParseRotation(v string) (seconds int, bytes int64, err error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "off") {
		return 0, 0, nil
	}
	bad := fmt.Errorf("%q is not a rotation (N seconds such as 20, N megabytes such as 10M, or off)", v)
	digits, mega := v, false
	if last := v[len(v)-1]; last == 'M' || last == 'm' {
		digits, mega = v[:len(v)-1], true
	}
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, 0, bad
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is too large", v)
	}
	if mega {
		if n > math.MaxInt64>>20 {
			return 0, 0, fmt.Errorf("%q is too large", v)
		}
		return 0, n << 20, nil
	}
	if n > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%q is too large", v)
	}
	return int(n), 0, nil
}

// CheckTemplate checks a file name template: every {element} must be a known one (names are
// case-sensitive) and every '{' closed. Text outside braces is free. It does not reject "".
func CheckTemplate(t string) error {
	rest := t
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			return nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return fmt.Errorf("unclosed %q", rest[open:])
		}
		name := rest[open+1 : open+end]
		if !slices.Contains(templateElements, name) {
			return fmt.Errorf("unknown element {%s} (known: {%s})", name, strings.Join(templateElements, "}, {"))
		}
		rest = rest[open+end+1:]
	}
}
