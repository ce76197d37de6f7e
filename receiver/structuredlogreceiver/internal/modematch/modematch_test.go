package modematch

import (
	"slices"
	"strings"
	"testing"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

func TestParse(t *testing.T) {
	sources := map[structuredlog.Mode]string{
		structuredlog.ModeProd: "user@example",
		structuredlog.ModeDev:  "user@example (dev)",
		structuredlog.ModeTest: "user@example (test)",
	}
	for _, tc := range []struct {
		spec string
		own  structuredlog.Mode
		want string // matched modes
	}{
		{"all", structuredlog.ModeProd, "test,dev,prod"},
		{"ALL", structuredlog.ModeTest, "test,dev,prod"},
		{"matching", structuredlog.ModeProd, "prod"},
		{"matching", structuredlog.ModeDev, "dev"},
		{"matching+", structuredlog.ModeTest, "test,dev,prod"},
		{"matching+", structuredlog.ModeDev, "dev,prod"},
		{"matching+", structuredlog.ModeProd, "prod"},
		{"test", structuredlog.ModeProd, "test"},
		{"dev", structuredlog.ModeProd, "dev"},
		{"prod", structuredlog.ModeDev, "prod"},
		{"dev, prod", structuredlog.ModeProd, "dev,prod"},
		{"test,prod", structuredlog.ModeProd, "test,prod"},
	} {
		m, err := Parse(tc.spec, tc.own)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.spec, err)
		}
		if got := m.String(); got != tc.want {
			t.Errorf("Parse(%q, %s) = %s, want %s", tc.spec, tc.own, got, tc.want)
		}
		for mode, src := range sources {
			want := slices.Contains(strings.Split(tc.want, ","), string(mode))
			if got := m.Match(src); got != want {
				t.Errorf("Parse(%q, %s).Match(%q) = %v, want %v", tc.spec, tc.own, src, got, want)
			}
		}
		if m.All() != (tc.want == "test,dev,prod") {
			t.Errorf("Parse(%q).All() = %v", tc.spec, m.All())
		}
	}
	for _, bad := range []string{"", "none", "matching,prod", "prod,", "production"} {
		if _, err := Parse(bad, structuredlog.ModeProd); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
