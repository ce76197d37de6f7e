package schemavalidationprocessor

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

// TestREADMEExample checks that the README's example configures this
// component validly.
func TestREADMEExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(b)
	require.NotNil(t, m, "README has a yaml example")
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(m[1], &doc))
	sub, err := confmap.NewFromStringMap(doc).Sub("processors::schema_validation")
	require.NoError(t, err)
	require.NotEmpty(t, sub.AllKeys(), "the example configures the component")
	cfg := createDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
}
