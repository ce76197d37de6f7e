package schemaregistryextension

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/courier-otel/courier/extension/schemaregistryextension/internal/metadata"
	"github.com/courier-otel/courier/internal/testutil"
)

func TestConfigDefault(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, component.MustNewIDWithName(metadata.Type.String(), "default"), NewFactory())
	require.NoError(t, err)
	c := cfg.(*Config)
	assert.Equal(t, []string{"/opt/omniverse/schemas"}, c.Sources)
	assert.Zero(t, c.RefreshInterval)
	assert.Empty(t, c.CacheDir)
	assert.EqualValues(t, 64<<20, c.MaxDownloadSize)
	assert.EqualValues(t, 256<<20, c.MaxExpandedSize)
	assert.Equal(t, 30*time.Second, c.ClientConfig.Timeout)
}

func TestConfigFull(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, component.MustNewIDWithName(metadata.Type.String(), "full"), NewFactory())
	require.NoError(t, err)
	c := cfg.(*Config)
	assert.Equal(t, []string{
		"https://schemas.example.com/omniverse/approved.zip",
		"file:///opt/omniverse/schemas.zip",
		"/opt/omniverse/schemas",
	}, c.Sources)
	assert.Equal(t, time.Hour, c.RefreshInterval)
	assert.Equal(t, "/var/lib/courier/schemas", c.CacheDir)
	assert.EqualValues(t, 16<<20, c.MaxDownloadSize)
	assert.EqualValues(t, 64<<20, c.MaxExpandedSize)
	assert.Equal(t, 10*time.Second, c.ClientConfig.Timeout)
	assert.Equal(t, "/etc/courier/ca.pem", c.ClientConfig.TLS.CAFile)
	v, ok := c.ClientConfig.Headers.Get("X-Client")
	require.True(t, ok)
	assert.Equal(t, configopaque.String("courier"), v)
}

func TestConfigInvalid(t *testing.T) {
	for name, want := range map[string]string{
		"no_sources":       "sources: at least one source is required",
		"empty_source":     "sources[1]: empty source",
		"bad_scheme":       `sources[0]: unsupported URL scheme "ftp"`,
		"no_host":          "sources[0]: URL \"https:///approved.zip\" has no host",
		"negative_refresh": "refresh_interval: must be 0",
		"short_refresh":    "refresh_interval: 10ms is too short",
		"zero_download":    "max_download_size: must be a positive number of bytes",
		"zero_expanded":    "max_expanded_size: must be a positive number of bytes",
		"endpoint":         "endpoint: not used by schema_registry",
		"negative_timeout": "timeout: must not be negative",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := testutil.LoadConfig(t, component.MustNewIDWithName(metadata.Type.String(), name), NewFactory())
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind sourceKind
		path string
	}{
		{"https://h/x.zip", sourceHTTP, "https://h/x.zip"},
		{"HTTP://h/x.zip", sourceHTTP, "HTTP://h/x.zip"},
		{"file:///opt/s.zip", sourcePath, "/opt/s.zip"},
		{"file://rel/dir", sourcePath, "rel/dir"},
		{"file:///opt/with%20space", sourcePath, "/opt/with space"},
		{"/opt/schemas", sourcePath, "/opt/schemas"},
		{"schemas/x.json", sourcePath, "schemas/x.json"},
		{`C:\schemas`, sourcePath, `C:\schemas`},
	} {
		kind, p, err := parseSource(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.kind, kind, tc.in)
		assert.Equal(t, tc.path, p, tc.in)
	}
}

func TestRedact(t *testing.T) {
	assert.Equal(t, "https://user:xxxxx@h/x.zip?redacted", redact("https://user:secret@h/x.zip?sig=token"))
	assert.Equal(t, "/opt/x", redact("/opt/x"))
}
