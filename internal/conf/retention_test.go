package conf

import (
	"strings"
	"testing"
	"time"
)

func TestRetentionSettings(t *testing.T) {
	got, err := parseString(t, "record_delete_after=7d\nrecord_min_free_space=10G\nrecord_max_total_size=500G\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.RecordDeleteAfter != 7*24*time.Hour || got.RecordMinFreeSpace != (Space{Bytes: 10 << 30}) || got.RecordMaxTotalSize != 500<<30 {
		t.Errorf("got %v, %+v, %d", got.RecordDeleteAfter, got.RecordMinFreeSpace, got.RecordMaxTotalSize)
	}
	d := Defaults()
	if d.RecordDeleteAfter != 0 || !d.RecordMinFreeSpace.IsZero() || d.RecordMaxTotalSize != 0 {
		t.Errorf("defaults keep everything: %+v", d)
	}
	_, err = parseString(t, "\nrecord_min_free_space=10\n")
	assertFieldError(t, err, "record_min_free_space", 2,
		`flashphoner.properties:2: record_min_free_space: "10" is not a size (a whole number with K, M, G or T, e.g. 500M or 10G; empty = not set), or a share of the disk such as 5%`)
	_, err = parseString(t, "record_delete_after=7 days")
	if err == nil || !strings.Contains(err.Error(), `record_delete_after: "7 days" is not an age`) {
		t.Errorf("record_delete_after=7 days: %v", err)
	}
}

func TestParseAge(t *testing.T) {
	good := map[string]time.Duration{
		"": 0, "0": 0, "0s": 0, "30s": 30 * time.Second, "90m": 90 * time.Minute, "12h": 12 * time.Hour,
		"7d": 7 * 24 * time.Hour, "7D": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, " 3s ": 3 * time.Second,
	}
	for in, want := range good {
		if d, err := ParseAge(in); err != nil || d != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"30", "-1d", "1.5h", "d", "7 d", "1h30m", "7y", "99999999999999999999d", "40000d", "abc"} {
		if d, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) = %v accepted", in, d)
		}
	}
	for _, d := range []time.Duration{3 * time.Second, 90 * time.Minute, 12 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour} {
		if back, err := ParseAge(FormatAge(d)); err != nil || back != d {
			t.Errorf("FormatAge(%v) = %q does not read back", d, FormatAge(d))
		}
	}
}

func TestParseSpace(t *testing.T) {
	good := map[string]Space{
		"": {}, "0": {}, "10G": {Bytes: 10 << 30}, "500M": {Bytes: 500 << 20}, "500m": {Bytes: 500 << 20},
		"64K": {Bytes: 64 << 10}, "2T": {Bytes: 2 << 40}, "10GB": {Bytes: 10 << 30},
		"5%": {Percent: 5}, "2.5%": {Percent: 2.5}, " 5 %": {Percent: 5},
	}
	for in, want := range good {
		if sp, err := ParseSpace(in); err != nil || sp != want {
			t.Errorf("ParseSpace(%q) = %+v, %v; want %+v", in, sp, err, want)
		}
	}
	for _, in := range []string{"10", "G", "-5G", "1.5G", "10X", "0%", "100%", "150%", "-1%", "NaN%", "%", "9999999999T", "5%%", "ten G"} {
		if sp, err := ParseSpace(in); err == nil {
			t.Errorf("ParseSpace(%q) = %+v accepted", in, sp)
		}
	}
	if got := (Space{Percent: 5}).Of(1000); got != 50 {
		t.Errorf("5%% of 1000 = %d", got)
	}
	if got := (Space{Bytes: 7}).Of(1000); got != 7 {
		t.Errorf("7 bytes of 1000 = %d", got)
	}
	for _, sp := range []Space{{Bytes: 10 << 30}, {Bytes: 1536 << 20}, {Percent: 2.5}} {
		if back, err := ParseSpace(sp.String()); err != nil || back != sp {
			t.Errorf("%+v spelled %q does not read back: %+v, %v", sp, sp.String(), back, err)
		}
	}
}
