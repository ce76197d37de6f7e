// Package authtokenextension is the auth_token extension: an HTTP client
// authenticator that reads a token from an https URL answering JSON, a
// file:// URL or a plain file path (as the Omniverse telemetry transmitter
// does with authTokenUrl) and sends it on every request.
//
// The token cache, its refresh and the handling of 401/403 answers are
// shared with oidc_client and described in internal/authrefresh.
package authtokenextension

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension"

	"github.com/courier-otel/courier/extension/authtokenextension/internal/metadata"
)

// NewFactory returns the auth_token extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		KeyName:         "idToken",
		ExpiryName:      "expires",
		Type:            TypeAuto,
		Header:          "Authorization",
		Scheme:          "Bearer",
		TLS:             configtls.NewDefaultClientConfig(),
		Timeout:         10 * time.Second,
		ExpiryBuffer:    time.Minute,
		RefreshInterval: 5 * time.Minute,
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	ext, err := newExtension(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	return ext, nil
}
