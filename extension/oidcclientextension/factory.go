// Package oidcclientextension is the oidc_client extension: an HTTP client
// authenticator that obtains OAuth 2.0 access tokens with the client
// credentials grant and sends them as "Authorization: Bearer <token>".
//
// The token cache, its refresh and the handling of 401/403 answers are
// shared with auth_token and described in internal/authrefresh.
package oidcclientextension

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension"

	"github.com/courier-otel/courier/extension/oidcclientextension/internal/metadata"
)

// NewFactory returns the oidc_client extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		AuthStyle:    AuthStyleBasic,
		TLS:          configtls.NewDefaultClientConfig(),
		Timeout:      10 * time.Second,
		ExpiryBuffer: time.Minute,
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	ext, err := newExtension(cfg.(*Config), set)
	if err != nil {
		return nil, err
	}
	return ext, nil
}
