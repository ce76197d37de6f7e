package authtokenextension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/extension/authtokenextension/internal/metadata"
	"github.com/courier-otel/courier/internal/authrefresh"
	"github.com/courier-otel/courier/internal/componenttel"
)

var (
	_ extensionauth.HTTPClient = (*tokenExtension)(nil)
	_ authrefresh.Invalidator  = (*tokenExtension)(nil)
)

// maxTokenSize bounds what is read from the file or the URL.
const maxTokenSize = 1 << 20

type tokenExtension struct {
	cfg    *Config
	logger *zap.Logger
	loc    location
	format tokenFormat
	cache  *authrefresh.Cache
	tel    *authrefresh.Telemetry
	// client reads an http(s) URL; set by Start.
	client atomic.Pointer[http.Client]
}

func newExtension(cfg *Config, set extension.Settings) (*tokenExtension, error) {
	loc, err := parseLocation(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	tel, err := authrefresh.NewTelemetry(componenttel.Extension(set), metadata.ScopeName, metadata.Type)
	if err != nil {
		return nil, err
	}
	typ := cfg.resolvedType(loc)
	e := &tokenExtension{
		cfg:    cfg,
		logger: set.Logger,
		tel:    tel,
		loc:    loc,
		format: tokenFormat{
			keyName:    cfg.KeyName,
			expiryName: cfg.ExpiryName,
			jwt:        typ == TypeJWT,
			strictJWT:  cfg.Type == TypeJWT,
		},
	}
	e.cache = authrefresh.NewCache(authrefresh.Settings{
		Fetch:           e.fetch,
		Timeout:         cfg.Timeout,
		ExpiryBuffer:    cfg.ExpiryBuffer,
		RefreshInterval: cfg.RefreshInterval,
		Telemetry:       tel,
	})
	return e, nil
}

func (e *tokenExtension) Start(ctx context.Context, host component.Host) error {
	e.tel.Start(host)
	if e.loc.isURL() {
		tlsCfg, err := e.cfg.TLS.LoadTLSConfig(ctx)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = tlsCfg
		e.client.Store(&http.Client{Transport: transport, Timeout: e.cfg.Timeout})
		if e.loc.url.Scheme == "http" && !authrefresh.IsLoopback(e.loc.url.Hostname()) {
			e.logger.Warn("url is plain http: the token travels unencrypted", zap.String("url", e.where()))
		}
	}
	e.cache.Prefetch()
	return nil
}

func (e *tokenExtension) Shutdown(context.Context) error {
	e.cache.Close()
	if c := e.client.Load(); c != nil {
		c.CloseIdleConnections()
	}
	return nil
}

// RoundTripper wraps base so that every request carries the token.
func (e *tokenExtension) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return authrefresh.NewRoundTripper(base, e.cache, e.cfg.Header, e.cfg.Scheme), nil
}

// InvalidateToken drops the cached token if it is still token; the next
// request reads the file or URL again.
func (e *tokenExtension) InvalidateToken(token string) {
	e.cache.InvalidateToken(token)
}

func (e *tokenExtension) fetch(ctx context.Context) (authrefresh.Token, error) {
	var content []byte
	var err error
	if e.loc.isURL() {
		content, err = e.get(ctx)
	} else {
		content, err = readFile(e.loc.path)
	}
	if err != nil {
		return authrefresh.Token{}, err
	}
	tok, err := e.format.parse(content)
	if err != nil {
		return authrefresh.Token{}, fmt.Errorf("token from %s: %w", e.where(), err)
	}
	return tok, nil
}

// where names the source in messages: the path, or the URL without its query
// (which could hold a credential).
func (e *tokenExtension) where() string {
	if !e.loc.isURL() {
		return e.loc.path
	}
	u := *e.loc.url
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonUnavailable, Err: err}
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenSize+1))
	if err != nil {
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonUnavailable, Err: fmt.Errorf("read %s: %w", path, err)}
	}
	if len(b) > maxTokenSize {
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonInvalidResponse, Err: fmt.Errorf("%s is larger than %d bytes", path, maxTokenSize)}
	}
	return b, nil
}

func (e *tokenExtension) get(ctx context.Context) ([]byte, error) {
	client := e.client.Load()
	if client == nil {
		return nil, errors.New("the extension is not started")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.loc.url.String(), http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", e.where(), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		switch {
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ue) && ue.Timeout()):
			return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonTimeout,
				Err: fmt.Errorf("GET %s: timed out after %v", e.where(), e.cfg.Timeout)}
		case errors.As(err, &ue):
			// url.Error would repeat the whole URL; keep only the cause.
			err = ue.Err
		}
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonUnreachable, Err: fmt.Errorf("GET %s: %w", e.where(), err)}
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenSize+1))
	if resp.StatusCode/100 != 2 {
		// The body is not quoted: it could echo a credential.
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonRejected, Err: fmt.Errorf("GET %s: %s", e.where(), resp.Status)}
	}
	if err != nil {
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonUnreachable, Err: fmt.Errorf("GET %s: read body: %w", e.where(), err)}
	}
	if len(b) > maxTokenSize {
		return nil, &authrefresh.FetchError{Reason: authrefresh.ReasonInvalidResponse, Err: fmt.Errorf("GET %s: answer larger than %d bytes", e.where(), maxTokenSize)}
	}
	return b, nil
}
