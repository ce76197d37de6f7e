package oidcclientextension

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/courier-otel/courier/extension/oidcclientextension/internal/metadata"
	"github.com/courier-otel/courier/internal/testutil"
)

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}

func TestConfig(t *testing.T) {
	full := &Config{
		TokenURL:         "https://auth.example.com/oauth2/token",
		ClientID:         "event-exporter",
		ClientSecretFile: "/etc/courier/oidc-client-secret",
		Scopes:           []string{"events.write", "events.read"},
		EndpointParams:   url.Values{"audience": {"https://sink.example.com"}, "resource": {"a", "b"}},
		AuthStyle:        AuthStyleParams,
		TLS: configtls.ClientConfig{Config: configtls.Config{
			CAFile: "/etc/courier/ca.pem", CertFile: "/etc/courier/client.pem", KeyFile: "/etc/courier/client-key.pem",
		}},
		Timeout:      5 * time.Second,
		ExpiryBuffer: 30 * time.Second,
	}
	def := createDefaultConfig().(*Config)
	def.TokenURL = "https://auth.example.com/oauth2/token"
	def.ClientID = "event-exporter"
	def.ClientSecret = "s3cr3t"

	for _, tc := range []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: def},
		{name: "full", want: full},
		{name: "missing_token_url", wantErr: "token_url: required"},
		{name: "bad_token_url", wantErr: `token_url: "ftp://auth.example.com/token" is not an http(s) URL`},
		{name: "relative_token_url", wantErr: `token_url: "/oauth2/token" is not an http(s) URL`},
		{name: "missing_client_id", wantErr: "client_id: required"},
		{name: "no_secret", wantErr: "client_secret: set client_secret or client_secret_file"},
		{name: "both_secrets", wantErr: "client_secret: set only one of client_secret and client_secret_file"},
		{name: "reserved_param", wantErr: `endpoint_params: "scope" is set by the extension; use scopes`},
		{name: "bad_auth_style", wantErr: `auth_style: "header" is not one of basic, params`},
		{name: "zero_timeout", wantErr: "timeout: must be positive"},
		{name: "negative_expiry_buffer", wantErr: "expiry_buffer: must not be negative"},
		{name: "bad_tls", wantErr: "tls: TLS configuration must include both certificate and key"},
		{name: "unknown_key", wantErr: "invalid keys: scope"},
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

func TestConfigSecretIsOpaque(t *testing.T) {
	cfg, err := testutil.LoadConfig(t, component.NewID(metadata.Type), NewFactory())
	require.NoError(t, err)
	assert.NotContains(t, fmt.Sprintf("%v %+v", cfg, cfg), "s3cr3t")
}
