package structuredlog

import (
	"fmt"
	"strings"
)

// Mode is the transmission mode of an event: production, development or test.
// It travels as a tag at the end of the event's source so that a transmitter
// can select events by mode (messageMatchMode).
type Mode string

// The modes. The zero Mode is treated as ModeProd.
const (
	ModeProd Mode = "prod"
	ModeDev  Mode = "dev"
	ModeTest Mode = "test"
)

// ParseMode parses "prod" (or "production"), "dev" or "test", ignoring case and
// surrounding spaces.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "prod", "production":
		return ModeProd, nil
	case "dev":
		return ModeDev, nil
	case "test":
		return ModeTest, nil
	}
	return "", fmt.Errorf("unknown mode %q: want prod, dev or test", s)
}

// String returns the mode's name; the zero Mode is "prod".
func (m Mode) String() string {
	if m == "" {
		return string(ModeProd)
	}
	return string(m)
}

// sourceTag is what a writer appends to the source in this mode.
func (m Mode) sourceTag() string {
	switch m {
	case ModeDev:
		return " (dev)"
	case ModeTest:
		return " (test)"
	}
	return ""
}

// SourceMode returns the mode an event's source carries: ModeDev or ModeTest
// when it ends with "(dev)" or "(test)" (with or without a preceding space),
// ModeProd otherwise.
func SourceMode(source string) Mode {
	switch {
	case strings.HasSuffix(source, "(dev)"):
		return ModeDev
	case strings.HasSuffix(source, "(test)"):
		return ModeTest
	}
	return ModeProd
}
