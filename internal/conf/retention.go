package conf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Space is an amount of disk space: a number of bytes, or a share of the file system's size.
// The zero Space is "not set".
type Space struct {
	Bytes   int64   // > 0 when given as a size (10G)
	Percent float64 // > 0 when given as a share (5%): of the records file system's size
}

// IsZero reports whether no amount is set.
func (s Space) IsZero() bool { return s.Bytes == 0 && s.Percent == 0 }

// Of gives the amount in bytes on a file system of total bytes.
func (s Space) Of(total uint64) uint64 {
	if s.Percent > 0 {
		return uint64(float64(total) * s.Percent / 100)
	}
	return uint64(s.Bytes)
}

// String spells the amount as the settings file does ("10G", "5%"); "" when not set.
func (s Space) String() string {
	switch {
	case s.Percent > 0:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	case s.Bytes > 0:
		return FormatSize(s.Bytes)
	}
	return ""
}

// sizeUnits are the binary multiples a size may end with.
var sizeUnits = []struct {
	suffix byte
	shift  uint
}{{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}}

// FormatSize spells bytes with the largest unit that divides it ("10G", "1536M").
func FormatSize(n int64) string {
	for i := len(sizeUnits) - 1; i >= 0; i-- {
		u := sizeUnits[i]
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + string(u.suffix)
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// ParseSize reads a size: a whole number with a binary unit, K, M, G or T (10G = 10 × 2^30
// bytes; a trailing B, as in 10GB, is allowed). A bare number is refused: "10" as bytes is
// never what was meant. "" and "0" give 0, not set.
func ParseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a size (a whole number with K, M, G or T, e.g. 500M or 10G; empty = not set)", v)
	digits := strings.TrimSuffix(strings.TrimSuffix(v, "B"), "b")
	if digits == "" {
		return 0, bad
	}
	unit := strings.ToUpper(digits[len(digits)-1:])[0]
	digits = digits[:len(digits)-1]
	for _, u := range sizeUnits {
		if u.suffix != unit {
			continue
		}
		if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
			return 0, bad
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n > math.MaxInt64>>u.shift {
			return 0, fmt.Errorf("%q is too large", v)
		}
		return n << u.shift, nil
	}
	return 0, bad
}

// ParseSpace reads a size (ParseSize) or a share of the file system: "5%", "2.5%" (above 0,
// below 100). "" gives the zero Space.
func ParseSpace(v string) (Space, error) {
	v = strings.TrimSpace(v)
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || math.IsNaN(p) || p <= 0 || p >= 100 {
			return Space{}, fmt.Errorf("%q is not a share of the disk (above 0%% and below 100%%, e.g. 5%%)", v)
		}
		return Space{Percent: p}, nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return Space{}, fmt.Errorf("%w, or a share of the disk such as 5%%", err)
	}
	return Space{Bytes: n}, nil
}

// maxDeleteAfter bounds record_delete_after (about 100 years: far beyond any real retention,
// well within time.Duration).
const maxDeleteAfter = 36500 * 24 * time.Hour

// ParseAge reads record_delete_after: a whole number of seconds (s), minutes (m), hours (h),
// days (d) or weeks (w), such as 30s, 12h, 7d; at least 1 s. "" and "0" give 0: keep.
func ParseAge(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not an age (a whole number with s, m, h, d or w, e.g. 30s, 12h, 7d; empty = keep)", v)
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	unit, ok := units[strings.ToLower(v[len(v)-1:])[0]]
	digits := v[:len(v)-1]
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > int64(maxDeleteAfter/unit) {
		return 0, fmt.Errorf("%q is too long (at most %d days)", v, maxDeleteAfter/(24*time.Hour))
	}
	if n == 0 {
		return 0, nil
	}
	return time.Duration(n) * unit, nil
}

// FormatAge spells d with the largest unit that divides it ("7d", "90m"); "" for 0.
func FormatAge(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	for _, u := range []struct {
		s string
		d time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
