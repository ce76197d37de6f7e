package authtokenextension

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configtls"
	"golang.org/x/net/http/httpguts"
)

// Token types.
const (
	TypeAuto   = "auto"    // url is http(s): jwt; url is a file: api_key
	TypeJWT    = "jwt"     // a JWT: its exp claim gives the expiry when expiry_name does not
	TypeAPIKey = "api_key" // an opaque key
	// typeAPIKeyOmniverse is the transmitter's spelling, accepted too.
	typeAPIKeyOmniverse = "api-key"
)

// Config is the auth_token extension: a token read from a URL or a file and
// sent on every request.
type Config struct {
	// URL is where the token comes from: an https:// (or http://) URL that
	// answers JSON, a file:// URL, or a plain file path.
	URL string `mapstructure:"url"`
	// KeyName is the JSON member holding the token; empty means the whole
	// content (trimmed) is the token.
	KeyName string `mapstructure:"key_name"`
	// ExpiryName is the JSON member holding the token's expiry (RFC 3339, or
	// seconds since the epoch); absent or empty: no expiry is known.
	ExpiryName string `mapstructure:"expiry_name"`
	// Type is auto, jwt or api_key.
	Type string `mapstructure:"type"`
	// Header is the request header that carries the token.
	Header string `mapstructure:"header"`
	// Scheme precedes the token in the header ("Bearer <token>"); empty
	// sends the token alone.
	Scheme string `mapstructure:"scheme"`
	// TLS for an https URL.
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// Timeout bounds one read of the token.
	Timeout time.Duration `mapstructure:"timeout"`
	// ExpiryBuffer: a token with a known expiry is re-read this long before
	// it expires (at most half its lifetime before).
	ExpiryBuffer time.Duration `mapstructure:"expiry_buffer"`
	// RefreshInterval: a token without a known expiry is re-read this often;
	// 0 keeps it until a server rejects it.
	RefreshInterval time.Duration `mapstructure:"refresh_interval"`

	_ struct{}
}

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	if _, err := parseLocation(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	switch c.Type {
	case TypeAuto, TypeJWT, TypeAPIKey, typeAPIKeyOmniverse:
	default:
		errs = append(errs, fmt.Errorf("type: %q is not one of %s, %s, %s", c.Type, TypeAuto, TypeJWT, TypeAPIKey))
	}
	if !httpguts.ValidHeaderFieldName(c.Header) {
		errs = append(errs, fmt.Errorf("header: %q is not a valid HTTP header name", c.Header))
	}
	if strings.ContainsFunc(c.Scheme, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		errs = append(errs, fmt.Errorf("scheme: %q must not contain spaces or control characters", c.Scheme))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	if c.ExpiryBuffer < 0 {
		errs = append(errs, fmt.Errorf("expiry_buffer: must not be negative, got %v", c.ExpiryBuffer))
	}
	if c.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("refresh_interval: must not be negative, got %v", c.RefreshInterval))
	}
	return errors.Join(errs...)
}

// location is where the token is read from: a file path or an http(s) URL.
type location struct {
	path string   // for a file
	url  *url.URL // for http(s)
}

func (l location) isURL() bool { return l.url != nil }

// parseLocation understands the three forms of url.
func parseLocation(s string) (location, error) {
	if s == "" {
		return location{}, errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // no scheme, or a Windows drive letter
		return location{path: s}, nil
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		if u.Host == "" {
			return location{}, fmt.Errorf("%q has no host", u.Redacted())
		}
		return location{url: u}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return location{}, fmt.Errorf("%q: a file URL names a local file (file:///path)", s)
		}
		if u.Path == "" {
			return location{}, fmt.Errorf("%q has no path", s)
		}
		return location{path: u.Path}, nil
	default:
		return location{}, fmt.Errorf("scheme %q is not https, http or file", u.Scheme)
	}
}

// resolvedType is jwt or api_key.
func (c *Config) resolvedType(loc location) string {
	switch c.Type {
	case TypeJWT:
		return TypeJWT
	case TypeAPIKey, typeAPIKeyOmniverse:
		return TypeAPIKey
	}
	if loc.isURL() {
		return TypeJWT
	}
	return TypeAPIKey
}
