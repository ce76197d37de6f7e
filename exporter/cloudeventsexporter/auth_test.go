package cloudeventsexporter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/internal/authrefresh"
)

// testHost is a host with extensions.
type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rotatingAuth is an authenticator whose token is tok-<generation>; like
// Courier's authenticators it moves to a new token when a request with the
// current one is answered 401/403, but it does not resend by itself, so
// the exporter's own retry is what gets the event through.
type rotatingAuth struct {
	component.StartFunc
	component.ShutdownFunc
	gen atomic.Int32
}

var _ extensionauth.HTTPClient = (*rotatingAuth)(nil)

func (a *rotatingAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		gen := a.gen.Load()
		r := req.Clone(req.Context())
		r.Header.Set("Authorization", fmt.Sprintf("Bearer tok-%d", gen))
		resp, err := base.RoundTrip(r)
		if err == nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			a.gen.CompareAndSwap(gen, gen+1)
		}
		return resp, err
	}), nil
}

func authConfig(t *testing.T, endpoint string, id component.ID) *Config {
	cfg := testConfig(endpoint)
	// A backoff wait would make these tests time out: the retry after
	// 401/403 must be immediate.
	cfg.RetryConfig.InitialInterval = time.Hour
	cfg.RetryConfig.MaxInterval = time.Hour
	cfg.ClientConfig.Auth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	cfg.DeadLetter.Directory = t.TempDir()
	return cfg
}

// TestUnauthorizedRetriedOnce: a 401 makes the exporter resend at once with
// the refreshed token.
func TestUnauthorizedRetriedOnce(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newSink(t, func(w http.ResponseWriter, _ int, r sinkRequest) {
				if r.header.Get("Authorization") != "Bearer tok-1" {
					w.WriteHeader(code)
				}
			})
			id := component.MustNewID("rotating_auth")
			exp := startExporter(t, authConfig(t, s.URL, id), testHost{id: &rotatingAuth{}})
			consume(t, exp, makeLogs(t, "a"))

			reqs := s.requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, "Bearer tok-0", reqs[0].header.Get("Authorization"))
			assert.Equal(t, "Bearer tok-1", reqs[1].header.Get("Authorization"))
			assert.EqualValues(t, 1, exp.counter(t, "events.sent"))
			assert.EqualValues(t, 1, exp.counter(t, "retries", attribute.String("reason", "auth_refresh")))
		})
	}
}

// TestUnauthorizedTwiceIsPermanent: when the refreshed token is refused too,
// the event is dead-lettered after exactly one extra attempt.
func TestUnauthorizedTwiceIsPermanent(t *testing.T) {
	s := newSink(t, status(http.StatusUnauthorized))
	id := component.MustNewID("rotating_auth")
	cfg := authConfig(t, s.URL, id)
	exp := startExporter(t, cfg, testHost{id: &rotatingAuth{}})
	consume(t, exp, makeLogs(t, "a"))

	assert.Equal(t, 2, s.count())
	lines := readDeadLetters(t, cfg.DeadLetter.Directory)
	require.Len(t, lines, 1)
	assert.Equal(t, "unauthorized", lines[0].Reason)
	assert.Equal(t, http.StatusUnauthorized, lines[0].Status)
	for _, r := range s.requests() {
		assert.NotContains(t, lines[0].Error, strings.TrimPrefix(r.header.Get("Authorization"), "Bearer "),
			"the token is not in the dead letter")
	}
}

// cacheAuth is an authenticator built on internal/authrefresh, the token
// cache and RoundTripper that oidc_client and auth_token use, and the
// Invalidator hook the exporter calls on a 401/403.
type cacheAuth struct {
	component.StartFunc
	cache       *authrefresh.Cache
	fetches     atomic.Int32
	invalidated atomic.Int32
}

func newCacheAuth() *cacheAuth {
	a := &cacheAuth{}
	a.cache = authrefresh.NewCache(authrefresh.Settings{
		Fetch: func(context.Context) (authrefresh.Token, error) {
			return authrefresh.Token{Value: fmt.Sprintf("tok-%d", a.fetches.Add(1))}, nil
		},
		Timeout:        time.Second,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     time.Millisecond,
	})
	return a
}

func (a *cacheAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return authrefresh.NewRoundTripper(base, a.cache, "Authorization", "Bearer"), nil
}

func (a *cacheAuth) InvalidateToken(token string) {
	a.invalidated.Add(1)
	a.cache.InvalidateToken(token)
}

func (a *cacheAuth) Shutdown(context.Context) error {
	a.cache.Close()
	return nil
}

var _ authrefresh.Invalidator = (*cacheAuth)(nil)

// TestUnauthorizedWithAuthrefresh: with Courier's authenticator stack the
// RoundTripper refreshes and resends once itself; when that is refused too,
// the exporter tells the authenticator (Invalidator) and makes its one
// extra attempt, which gets a third token through.
func TestUnauthorizedWithAuthrefresh(t *testing.T) {
	s := newSink(t, func(w http.ResponseWriter, n int, _ sinkRequest) {
		if n < 2 {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	id := component.MustNewID("cache_auth")
	auth := newCacheAuth()
	t.Cleanup(func() { _ = auth.Shutdown(context.Background()) })
	exp := startExporter(t, authConfig(t, s.URL, id), testHost{id: auth})
	consume(t, exp, makeLogs(t, "a"))

	reqs := s.requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, "Bearer tok-1", reqs[0].header.Get("Authorization"))
	assert.Equal(t, "Bearer tok-2", reqs[1].header.Get("Authorization"), "the RoundTripper's own resend")
	assert.Equal(t, "Bearer tok-3", reqs[2].header.Get("Authorization"), "the exporter's resend")
	assert.EqualValues(t, 1, auth.invalidated.Load(), "the exporter used the Invalidator hook")
	assert.EqualValues(t, 1, exp.counter(t, "events.sent"))
	assert.EqualValues(t, 1, exp.counter(t, "retries", attribute.String("reason", "auth_refresh")))
}
