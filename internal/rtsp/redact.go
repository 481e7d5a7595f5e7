package rtsp

import (
	"net/url"
	"regexp"
	"strings"
)

// Redact returns uri with its credentials hidden ("rtsp://***@host/path"), so a camera's
// address can be logged and shown without its user name and password. Something that does
// not parse as a URL is hidden whole after the scheme.
func Redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return redactText(uri)
	}
	if u.User == nil {
		return u.String()
	}
	u.User = nil
	s := u.String()
	if i := strings.Index(s, "://"); i >= 0 {
		return s[:i+3] + "***@" + s[i+3:]
	}
	return s
}

// userinfo matches the credentials part of any URL in a text.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// redactText hides the credentials of every URL in a text (an error message, say).
func redactText(s string) string {
	return userinfo.ReplaceAllString(s, "${1}***@")
}

// scrub removes credentials from an error message: URLs with user info, and the user's
// password and user name wherever else they appear.
func scrub(msg string, secrets ...string) string {
	msg = redactText(msg)
	for _, sec := range secrets {
		if len(sec) >= 3 {
			msg = strings.ReplaceAll(msg, sec, "***")
		}
	}
	return msg
}

// StripCredentials returns uri without user info; the stream name a camera gets by default.
func StripCredentials(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	u.User = nil
	return u.String()
}

// credentials returns the user name and password of a URI.
func credentials(uri string) (user, pass string) {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return "", ""
	}
	p, _ := u.User.Password()
	return u.User.Username(), p
}
