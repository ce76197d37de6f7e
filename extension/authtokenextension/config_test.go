package authtokenextension

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/courier-otel/courier/extension/authtokenextension/internal/metadata"
	"github.com/courier-otel/courier/internal/testutil"
)

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestConfig(t *testing.T) {
	def := createDefaultConfig().(*Config)
	def.URL = "https://auth.example.com/token"

	full := &Config{
		URL:             "file:///var/run/omniverse/token.json",
		KeyName:         "accessToken",
		ExpiryName:      "expiresAt",
		Type:            TypeJWT,
		Header:          "X-Auth-Token",
		Scheme:          "",
		TLS:             configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/courier/ca.pem"}},
		Timeout:         5 * time.Second,
		ExpiryBuffer:    30 * time.Second,
		RefreshInterval: time.Minute,
	}
	apiKey := createDefaultConfig().(*Config)
	apiKey.URL = "/etc/courier/api-key"
	apiKey.KeyName = ""
	apiKey.Type = "api-key"

	for _, tc := range []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: def},
		{name: "full", want: full},
		{name: "api_key_file", want: apiKey},
		{name: "missing_url", wantErr: "url: required"},
		{name: "bad_scheme", wantErr: `url: scheme "ftp" is not https, http or file`},
		{name: "no_host", wantErr: `url: "https:///token" has no host`},
		{name: "file_host", wantErr: `url: "file://server/share/token": a file URL names a local file`},
		{name: "bad_type", wantErr: `type: "oauth" is not one of auto, jwt, api_key`},
		{name: "bad_header", wantErr: `header: "Auth Token" is not a valid HTTP header name`},
		{name: "empty_header", wantErr: `header: "" is not a valid HTTP header name`},
		{name: "bad_scheme_value", wantErr: `scheme: "Bearer token" must not contain spaces`},
		{name: "zero_timeout", wantErr: "timeout: must be positive"},
		{name: "negative_expiry_buffer", wantErr: "expiry_buffer: must not be negative"},
		{name: "negative_refresh_interval", wantErr: "refresh_interval: must not be negative"},
		{name: "bad_tls", wantErr: "tls: invalid TLS min_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := testutil.LoadConfig(t, component.NewIDWithName(metadata.Type, tc.name), NewFactory())
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg)
		})
	}
}

func TestLocation(t *testing.T) {
	for in, want := range map[string]location{
		"/var/run/token":           {path: "/var/run/token"},
		"token.txt":                {path: "token.txt"},
		"file:///var/run/token":    {path: "/var/run/token"},
		"file://localhost/var/tok": {path: "/var/tok"},
	} {
		got, err := parseLocation(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	got, err := parseLocation("https://auth.example.com/token?x=1")
	require.NoError(t, err)
	assert.True(t, got.isURL())
}

func TestResolvedType(t *testing.T) {
	file, _ := parseLocation("/var/run/token")
	web, _ := parseLocation("https://auth.example.com/token")
	for _, tc := range []struct {
		typ  string
		loc  location
		want string
	}{
		{TypeAuto, file, TypeAPIKey},
		{TypeAuto, web, TypeJWT},
		{TypeJWT, file, TypeJWT},
		{TypeAPIKey, web, TypeAPIKey},
		{"api-key", web, TypeAPIKey},
	} {
		assert.Equal(t, tc.want, (&Config{Type: tc.typ}).resolvedType(tc.loc))
	}
}
