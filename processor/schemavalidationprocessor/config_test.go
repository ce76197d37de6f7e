package schemavalidationprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/processor/schemavalidationprocessor/internal/metadata"
)

func id(name string) component.ID { return component.MustNewIDWithName(metadata.Type.String(), name) }

func TestConfigDefault(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	cfg, err := testutil.LoadConfig(t, id("default"), NewFactory())
	require.NoError(t, err)
	c := cfg.(*Config)
	assert.Equal(t, component.MustNewID("schema_registry"), c.Registry)
	assert.Equal(t, OnInvalidDrop, c.OnInvalid)
	assert.Equal(t, filepath.Join("/home/tester", ".nvidia-omniverse", "config", "privacy.toml"), c.Consent.PrivacyFile)
	assert.Equal(t, 10*time.Second, c.Consent.PollInterval)
	assert.Nil(t, c.Consent.Usage)
	assert.Nil(t, c.Consent.Performance)
	assert.Nil(t, c.Consent.Personalization)
}

func TestConfigFull(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, id("full"), NewFactory())
	require.NoError(t, err)
	c := cfg.(*Config)
	assert.Equal(t, component.MustNewIDWithName("schema_registry", "omniverse"), c.Registry)
	assert.Equal(t, OnInvalidKeep, c.OnInvalid)
	assert.Equal(t, "/home/jdoe/.nvidia-omniverse/config/privacy.toml", c.Consent.PrivacyFile)
	assert.Equal(t, 30*time.Second, c.Consent.PollInterval)
	require.NotNil(t, c.Consent.Usage)
	assert.True(t, *c.Consent.Usage)
	require.NotNil(t, c.Consent.Performance)
	assert.False(t, *c.Consent.Performance)
	assert.Nil(t, c.Consent.Personalization)
}

func TestConfigExplicitOnly(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, id("explicit_only"), NewFactory())
	require.NoError(t, err)
	assert.Empty(t, cfg.(*Config).Consent.PrivacyFile)
}

func TestConfigInvalid(t *testing.T) {
	for name, want := range map[string]string{
		"no_registry":       "registry: required",
		"bad_on_invalid":    `on_invalid: must be "drop" or "keep", not "quarantine"`,
		"negative_poll":     "consent::poll_interval: must not be negative",
		"short_poll":        "consent::poll_interval: 1ms is too short",
		"no_consent_source": "consent: privacy_file is empty and none of usage, performance, personalization is set",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := testutil.LoadConfig(t, id(name), NewFactory())
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}
