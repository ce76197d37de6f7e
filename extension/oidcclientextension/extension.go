package oidcclientextension

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/courier-otel/courier/extension/oidcclientextension/internal/metadata"
	"github.com/courier-otel/courier/internal/authrefresh"
	"github.com/courier-otel/courier/internal/componenttel"
)

var (
	_ extensionauth.HTTPClient = (*oidcExtension)(nil)
	_ authrefresh.Invalidator  = (*oidcExtension)(nil)
)

type oidcExtension struct {
	cfg    *Config
	logger *zap.Logger
	cache  *authrefresh.Cache
	tel    *authrefresh.Telemetry
	// client talks to the token endpoint; set by Start.
	client atomic.Pointer[http.Client]
}

func newExtension(cfg *Config, set extension.Settings) (*oidcExtension, error) {
	tel, err := authrefresh.NewTelemetry(componenttel.Extension(set), metadata.ScopeName, metadata.Type)
	if err != nil {
		return nil, err
	}
	e := &oidcExtension{cfg: cfg, logger: set.Logger, tel: tel}
	e.cache = authrefresh.NewCache(authrefresh.Settings{
		Fetch:        e.fetch,
		Timeout:      cfg.Timeout,
		ExpiryBuffer: cfg.ExpiryBuffer,
		Telemetry:    tel,
	})
	return e, nil
}

func (e *oidcExtension) Start(ctx context.Context, host component.Host) error {
	e.tel.Start(host)
	tlsCfg, err := e.cfg.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	e.client.Store(&http.Client{Transport: transport, Timeout: e.cfg.Timeout})
	if u, err := url.Parse(e.cfg.TokenURL); err == nil && u.Scheme == "http" && !authrefresh.IsLoopback(u.Hostname()) {
		e.logger.Warn("token_url is plain http: the client secret and the tokens travel unencrypted",
			zap.String("token_url", u.Redacted()))
	}
	e.cache.Prefetch()
	return nil
}

func (e *oidcExtension) Shutdown(context.Context) error {
	e.cache.Close()
	if c := e.client.Load(); c != nil {
		c.CloseIdleConnections()
	}
	return nil
}

// RoundTripper wraps base so that every request carries the bearer token.
func (e *oidcExtension) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return authrefresh.NewRoundTripper(base, e.cache, "Authorization", "Bearer"), nil
}

// InvalidateToken drops the cached token if it is still token.
func (e *oidcExtension) InvalidateToken(token string) {
	e.cache.InvalidateToken(token)
}

func (e *oidcExtension) fetch(ctx context.Context) (authrefresh.Token, error) {
	client := e.client.Load()
	if client == nil {
		return authrefresh.Token{}, errors.New("the extension is not started")
	}
	secret, err := e.secret()
	if err != nil {
		return authrefresh.Token{}, &authrefresh.FetchError{Reason: authrefresh.ReasonUnavailable, Err: err}
	}
	style := oauth2.AuthStyleInHeader
	if e.cfg.AuthStyle == AuthStyleParams {
		style = oauth2.AuthStyleInParams
	}
	cc := clientcredentials.Config{
		ClientID:       e.cfg.ClientID,
		ClientSecret:   secret,
		TokenURL:       e.cfg.TokenURL,
		Scopes:         e.cfg.Scopes,
		EndpointParams: e.cfg.EndpointParams,
		AuthStyle:      style,
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	if err != nil {
		return authrefresh.Token{}, describe(err, e.cfg.Timeout.String(), secret)
	}
	return authrefresh.Token{Value: tok.AccessToken, Expiry: tok.Expiry}, nil
}

// secret returns the client secret, reading client_secret_file each time so
// that a rotated secret is picked up.
func (e *oidcExtension) secret() (string, error) {
	if e.cfg.ClientSecretFile == "" {
		return string(e.cfg.ClientSecret), nil
	}
	b, err := os.ReadFile(e.cfg.ClientSecretFile)
	if err != nil {
		// The *PathError names the file and the cause, never the content.
		return "", fmt.Errorf("client_secret_file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("client_secret_file: %s is empty", e.cfg.ClientSecretFile)
	}
	return s, nil
}

// describe turns an error of the oauth2 package into one that is safe to log:
// oauth2's own messages can carry the token endpoint's whole response body,
// which some servers fill with the request they received.
func describe(err error, timeout, secret string) error {
	var (
		reason string
		msg    string
		re     *oauth2.RetrieveError
		ue     *url.Error
	)
	switch {
	case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode/100 == 2:
		reason = authrefresh.ReasonInvalidResponse
		msg = "token endpoint answered " + re.Response.Status + " with error " + quote(re.ErrorCode, re.ErrorDescription)
	case errors.As(err, &re) && re.Response != nil:
		reason = authrefresh.ReasonRejected
		msg = "token endpoint answered " + re.Response.Status
		if re.ErrorCode != "" {
			msg += ": " + quote(re.ErrorCode, re.ErrorDescription)
		}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ue) && ue.Timeout()):
		reason = authrefresh.ReasonTimeout
		msg = "token request timed out after " + timeout
	case errors.As(err, &ue):
		reason = authrefresh.ReasonUnreachable
		msg = "token request failed: " + ue.Err.Error()
	case strings.HasPrefix(err.Error(), "oauth2: cannot fetch token:"):
		// The answer's body could not be read: a broken connection.
		reason = authrefresh.ReasonUnreachable
		msg = err.Error()
	default:
		// e.g. "oauth2: server response missing access_token", "oauth2:
		// cannot parse json: invalid character ...": no body content.
		reason = authrefresh.ReasonInvalidResponse
		msg = err.Error()
	}
	return &authrefresh.FetchError{Reason: reason, Err: errors.New(redact(msg, secret))}
}

// quote renders an RFC 6749 error code and a shortened description.
func quote(code, desc string) string {
	s := fmt.Sprintf("%q", code)
	if desc != "" {
		const maxDesc = 200
		if len(desc) > maxDesc {
			desc = desc[:maxDesc] + "…"
		}
		s += fmt.Sprintf(" (%q)", desc)
	}
	return s
}

// redact removes the secret, raw and form-encoded, should a server have
// echoed it into a message.
func redact(msg, secret string) string {
	if secret == "" {
		return msg
	}
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		msg = strings.ReplaceAll(msg, s, "[REDACTED]")
	}
	return msg
}
