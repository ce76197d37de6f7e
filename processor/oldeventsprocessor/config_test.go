package oldeventsprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/processor/oldeventsprocessor/internal/metadata"
)

func id(name string) component.ID { return component.MustNewIDWithName(metadata.Type.String(), name) }

func TestConfigDefault(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, id("default"), NewFactory())
	require.NoError(t, err)
	assert.Equal(t, &Config{}, cfg)
}

func TestConfigFull(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, id("full"), NewFactory())
	require.NoError(t, err)
	assert.Equal(t, &Config{
		ThresholdDays:         30,
		PseudonymizeOldEvents: true,
		PseudonymizeKey:       configopaque.String("0123456789abcdef0123456789abcdef"),
		IdentifyingFields:     []string{"hostname", "appname"},
		Registry:              component.MustNewID("schema_registry"),
	}, cfg)

	cfg, err = testutil.LoadConfig(t, id("key_file"), NewFactory())
	require.NoError(t, err)
	assert.Equal(t, "/etc/courier/pseudonymize.key", cfg.(*Config).PseudonymizeKeyFile)
}

func TestConfigInvalid(t *testing.T) {
	for name, want := range map[string]string{
		"negative_threshold":       "threshold_days: must be 0 (off) to 36500 days, not -1",
		"huge_threshold":           "threshold_days: must be 0 (off) to 36500 days, not 40000",
		"both_keys":                "pseudonymize_key, pseudonymize_key_file: set one, not both",
		"pseudonymize_without_key": "pseudonymize_key: required when pseudonymize_old_events is true",
		"short_key":                "pseudonymize_key: must be at least 16 bytes",
		"empty_field":              "identifying_fields[1]: empty name",
		"reserved_field":           `identifying_fields[0]: "source" is an envelope member`,
		"duplicate_field":          `identifying_fields[1]: "hostname" is listed twice`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := testutil.LoadConfig(t, id(name), NewFactory())
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
			assert.NotContains(t, err.Error(), "0123456789abcdef", "the key is never printed")
		})
	}
}
