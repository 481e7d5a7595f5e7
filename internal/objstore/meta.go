package objstore

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The user metadata keys (x-amz-meta-NAME). Values are ASCII: a stream name that is not is
// percent-encoded, as S3 keeps header values to printable ASCII.
const (
	metaNode     = "Node"
	metaStream   = "Stream"
	metaSession  = "Media-Session-Id"
	metaPart     = "Part"
	metaStart    = "Start"
	metaDuration = "Duration-Ms"
	metaCodecs   = "Codecs"
	metaSHA256   = "Sha256"
)

// headers is m as user metadata.
func (m Meta) headers() map[string]string {
	h := map[string]string{
		metaNode:     escape(m.Node),
		metaStream:   escape(m.Stream),
		metaSession:  escape(m.MediaSessionID),
		metaPart:     strconv.Itoa(m.Part),
		metaDuration: strconv.FormatInt(m.Duration.Milliseconds(), 10),
		metaCodecs:   escape(m.Codecs),
		metaSHA256:   m.SHA256,
	}
	if !m.Start.IsZero() {
		h[metaStart] = m.Start.UTC().Format(time.RFC3339Nano)
	}
	return h
}

// metaOf reads the metadata the client returns (keys in any case, with or without the
// x-amz-meta- prefix, depending on the store); what is missing or malformed stays zero.
func metaOf(user map[string]string) Meta {
	get := func(key string) string {
		for k, v := range user {
			k = strings.TrimPrefix(http.CanonicalHeaderKey(k), "X-Amz-Meta-")
			if strings.EqualFold(k, key) {
				return v
			}
		}
		return ""
	}
	m := Meta{
		Node:           unescape(get(metaNode)),
		Stream:         unescape(get(metaStream)),
		MediaSessionID: unescape(get(metaSession)),
		Codecs:         unescape(get(metaCodecs)),
		SHA256:         get(metaSHA256),
	}
	m.Part, _ = strconv.Atoi(get(metaPart))
	if ms, err := strconv.ParseInt(get(metaDuration), 10, 64); err == nil {
		m.Duration = time.Duration(ms) * time.Millisecond
	}
	m.Start, _ = time.Parse(time.RFC3339Nano, get(metaStart))
	return m
}

// escape keeps a value within printable ASCII (S3 refuses or mangles anything else): such a
// value is stored percent-encoded behind a "~" (as is a value that begins with one).
func escape(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e || (i == 0 && v[i] == '~') {
			return "~" + url.PathEscape(v)
		}
	}
	return v
}

// unescape reverses escape.
func unescape(v string) string {
	if s, ok := strings.CutPrefix(v, "~"); ok {
		if u, err := url.PathUnescape(s); err == nil {
			return u
		}
	}
	return v
}
