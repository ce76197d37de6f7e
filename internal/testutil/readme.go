package testutil

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// READMEExamples checks that every component of the factory's type (named
// or not) configured under kind ("receivers", "processors", "exporters",
// "extensions") in the YAML examples of the component's README.md
// unmarshals into the factory's config and validates, and that there is at
// least one.
func READMEExamples(t *testing.T, kind string, factory component.Factory) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := factory.Type().String()
	found := 0
	for i, m := range yamlBlock.FindAllSubmatch(b, -1) {
		var doc map[string]any
		if err := yaml.Unmarshal(m[1], &doc); err != nil {
			t.Fatalf("README example %d is not YAML: %v", i+1, err)
		}
		section, _ := doc[kind].(map[string]any)
		for name, raw := range section {
			if name != typ && !strings.HasPrefix(name, typ+"/") {
				continue
			}
			found++
			m, _ := raw.(map[string]any)
			cfg := factory.CreateDefaultConfig()
			if err := confmap.NewFromStringMap(m).Unmarshal(cfg); err != nil {
				t.Fatalf("README example %d, %s: %v", i+1, name, err)
			}
			if err := confmap.Validate(cfg); err != nil {
				t.Fatalf("README example %d, %s: %v", i+1, name, err)
			}
		}
	}
	if found == 0 {
		t.Fatalf("README.md has no YAML example configuring %s under %s", typ, kind)
	}
}
