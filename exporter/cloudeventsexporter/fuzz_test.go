package cloudeventsexporter

import (
	"testing"
	"time"
)

// FuzzParseRetryAfter: any header value gives a non-negative delay or none,
// never a panic.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", " 7 ", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "9223372036854775807", "1e3", "", "\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 7, 14, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}
