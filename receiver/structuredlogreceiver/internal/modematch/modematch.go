// Package modematch selects events by the transmission mode their source
// carries, as the Omniverse transmitter's messageMatchMode does (SPEC.md B.7).
package modematch

import (
	"fmt"
	"strings"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

// rank orders the modes test < dev < prod, for matching+.
func rank(m structuredlog.Mode) int {
	switch m {
	case structuredlog.ModeTest:
		return 0
	case structuredlog.ModeDev:
		return 1
	}
	return 2
}

var modes = [...]structuredlog.Mode{structuredlog.ModeTest, structuredlog.ModeDev, structuredlog.ModeProd}

// Matcher decides whether an event's source mode is wanted. The zero Matcher
// matches nothing; use Parse.
type Matcher struct {
	allow [3]bool // indexed by rank
}

// Parse reads a message_match_mode value: "all", "matching" (the receiver's
// own mode only), "matching+" (its own mode or a higher one, test < dev <
// prod), or one or more of "test", "dev", "prod" separated by commas. own is
// the receiver's mode.
func Parse(spec string, own structuredlog.Mode) (Matcher, error) {
	var m Matcher
	s := strings.ToLower(strings.TrimSpace(spec))
	switch s {
	case "all":
		m.allow = [3]bool{true, true, true}
		return m, nil
	case "matching":
		m.allow[rank(own)] = true
		return m, nil
	case "matching+":
		for r := rank(own); r < len(m.allow); r++ {
			m.allow[r] = true
		}
		return m, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		switch p := strings.TrimSpace(part); p {
		case "test", "dev", "prod":
			m.allow[rank(structuredlog.Mode(p))] = true
		default:
			return Matcher{}, fmt.Errorf("%q: want all, matching, matching+, or a comma-separated list of test, dev and prod", spec)
		}
	}
	return m, nil
}

// All reports whether every mode matches, so callers can skip the check.
func (m Matcher) All() bool { return m.allow == [3]bool{true, true, true} }

// Match reports whether an event with this source is wanted.
func (m Matcher) Match(source string) bool {
	return m.allow[rank(structuredlog.SourceMode(source))]
}

// String lists the matched modes, for logs.
func (m Matcher) String() string {
	var names []string
	for i, ok := range m.allow {
		if ok {
			names = append(names, string(modes[i]))
		}
	}
	return strings.Join(names, ",")
}
