package oidcclientextension

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
)

// Auth styles: how the client id and secret reach the token endpoint.
const (
	AuthStyleBasic  = "basic"  // HTTP Basic authentication header
	AuthStyleParams = "params" // client_id and client_secret form parameters
)

// Config is the oidc_client extension: OAuth 2.0 client-credentials tokens
// for HTTP clients.
type Config struct {
	// TokenURL is the token endpoint.
	TokenURL string `mapstructure:"token_url"`
	// ClientID identifies the client.
	ClientID string `mapstructure:"client_id"`
	// ClientSecret is the client's secret; exactly one of it and
	// ClientSecretFile is set.
	ClientSecret configopaque.String `mapstructure:"client_secret"`
	// ClientSecretFile holds the secret (surrounding whitespace ignored); it
	// is read again for every token request, so a rotated secret is used
	// without a restart.
	ClientSecretFile string `mapstructure:"client_secret_file"`
	// Scopes requested, sent space-separated as the scope parameter.
	Scopes []string `mapstructure:"scopes"`
	// EndpointParams are extra form parameters of the token request
	// (audience, resource, ...).
	EndpointParams url.Values `mapstructure:"endpoint_params"`
	// AuthStyle is basic or params.
	AuthStyle string `mapstructure:"auth_style"`
	// TLS for the connection to the token endpoint.
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// Timeout bounds one token request.
	Timeout time.Duration `mapstructure:"timeout"`
	// ExpiryBuffer: the token is refreshed this long before it expires (at
	// most half its lifetime before).
	ExpiryBuffer time.Duration `mapstructure:"expiry_buffer"`

	_ struct{}
}

// parameters the token request sets itself.
var reservedParams = map[string]string{
	"client_id":     "client_id",
	"client_secret": "client_secret or client_secret_file",
	"scope":         "scopes",
}

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	if c.TokenURL == "" {
		errs = append(errs, errors.New("token_url: required"))
	} else if u, err := url.Parse(c.TokenURL); err != nil {
		errs = append(errs, fmt.Errorf("token_url: %w", err))
	} else if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("token_url: %q is not an http(s) URL", u.Redacted()))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id: required"))
	}
	switch {
	case c.ClientSecret == "" && c.ClientSecretFile == "":
		errs = append(errs, errors.New("client_secret: set client_secret or client_secret_file"))
	case c.ClientSecret != "" && c.ClientSecretFile != "":
		errs = append(errs, errors.New("client_secret: set only one of client_secret and client_secret_file"))
	}
	for k := range c.EndpointParams {
		if use, ok := reservedParams[k]; ok {
			errs = append(errs, fmt.Errorf("endpoint_params: %q is set by the extension; use %s", k, use))
		}
	}
	switch c.AuthStyle {
	case AuthStyleBasic, AuthStyleParams:
	default:
		errs = append(errs, fmt.Errorf("auth_style: %q is not one of %s, %s", c.AuthStyle, AuthStyleBasic, AuthStyleParams))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	if c.ExpiryBuffer < 0 {
		errs = append(errs, fmt.Errorf("expiry_buffer: must not be negative, got %v", c.ExpiryBuffer))
	}
	return errors.Join(errs...)
}
