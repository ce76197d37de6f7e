package oidcclientextension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/courier-otel/courier/extension/oidcclientextension/internal/metadata"
	"github.com/courier-otel/courier/internal/authrefresh"
	"github.com/courier-otel/courier/internal/authrefresh/authrefreshtest"
	"github.com/courier-otel/courier/internal/testutil"
	"go.opentelemetry.io/otel/attribute"
)

// harness is a started oidc_client extension with its logs and metrics.
type harness struct {
	ext  *oidcExtension
	logs *observer.ObservedLogs
	tel  *componenttest.Telemetry
}

func testConfig(tokenURL string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.TokenURL = tokenURL
	cfg.ClientID = testClientID
	cfg.ClientSecret = testClientSecret
	return cfg
}

func start(t *testing.T, cfg *Config) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zapcore.DebugLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	ext, err := NewFactory().Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return &harness{ext: ext.(*oidcExtension), logs: logs, tel: tel}
}

func (h *harness) client(t *testing.T) *http.Client {
	t.Helper()
	rt, err := h.ext.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	return &http.Client{Transport: rt}
}

// counter sums counter name, filtered by reason when reason is not empty.
func (h *harness) counter(t *testing.T, name, reason string) int64 {
	t.Helper()
	if reason == "" {
		return testutil.Counter(t, h.tel, name)
	}
	return testutil.Counter(t, h.tel, name, attribute.String("reason", reason))
}

// assertNoSecret checks that no log line, field or error mentions secret.
func (h *harness) assertNoSecret(t *testing.T, secret string, errs ...error) {
	t.Helper()
	for _, e := range h.logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		assert.NotContains(t, line, secret, "log line %q", line)
	}
	for _, err := range errs {
		if err != nil {
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, fmt.Sprintf("%+v %#v", err, err), secret)
		}
	}
}

func send(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"specversion":"1.0"}`))
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func mustSend(t *testing.T, client *http.Client, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	status, err := send(ctx, client, url)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
}

func sendWithin(client *http.Client, url string, d time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return send(ctx, client, url)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTokenFetchedAndSent(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour})
	sink := newSink(t, ts)
	h := start(t, testConfig(ts.tokenURL()))
	client := h.client(t)
	for range 10 {
		mustSend(t, client, sink.URL)
	}
	assert.EqualValues(t, 10, sink.accepted.Load())
	assert.EqualValues(t, 0, sink.rejected.Load())
	assert.EqualValues(t, 1, ts.issued.Load(), "one token for all requests")
	assert.EqualValues(t, 1, h.counter(t, "courier.oidc_client.token_refreshes", ""))
	assert.EqualValues(t, 1, ts.basic.Load(), "auth_style basic is the default")
}

// The path an exporter takes: confighttp with auth.authenticator.
func TestThroughConfighttp(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour})
	sink := newSink(t, ts)
	h := start(t, testConfig(ts.tokenURL()))
	id := component.MustNewID("oidc_client")
	cc := confighttp.NewDefaultClientConfig()
	cc.Endpoint = sink.URL
	cc.Compression = "gzip"
	cc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	client, err := cc.ToClient(context.Background(), map[component.ID]component.Component{id: h.ext}, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	mustSend(t, client, sink.URL)

	// A 401 through the whole stack (otelhttp, compression, headers) is
	// retried once, and the exporter can tell from the response.
	old := h.currentToken(t)
	ts.revoke(t, old)
	req, err := http.NewRequest(http.MethodPost, sink.URL, strings.NewReader(`{"specversion":"1.0"}`))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.True(t, authrefresh.Retried(resp))
	used, ok := authrefresh.UsedToken(resp)
	assert.True(t, ok)
	assert.Equal(t, h.currentToken(t), used)
	assert.NotEqual(t, old, used)
	assert.EqualValues(t, 1, sink.rejected.Load())
	assert.EqualValues(t, 2, sink.accepted.Load())
	assert.EqualValues(t, 2, ts.issued.Load())
}

func (h *harness) currentToken(t *testing.T) string {
	t.Helper()
	tok, err := h.ext.cache.Token(context.Background())
	require.NoError(t, err)
	return tok
}

func TestRefreshUnderConcurrentLoad(t *testing.T) {
	const lifetime = 2 * time.Second
	ts := newTokenServer(t, tokenServerOptions{lifetime: lifetime})
	sink := newSink(t, ts)
	cfg := testConfig(ts.tokenURL())
	cfg.ExpiryBuffer = time.Second
	h := start(t, cfg)
	client := h.client(t)

	const workers = 50
	run := 3*lifetime + time.Second // more than three expiries
	stop := time.Now().Add(run)
	var sent, failed atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				status, err := sendWithin(client, sink.URL, 20*time.Second)
				sent.Add(1)
				if err != nil || status != http.StatusAccepted {
					failed.Add(1)
					t.Errorf("request failed: status %d, %v", status, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.EqualValues(t, sent.Load(), sink.accepted.Load(), "every request accepted")
	assert.Zero(t, sink.rejected.Load(), "no request was sent with an expired token")
	// A token lives 2s and is replaced 1s before expiry: about one token
	// request per second. Without single flight there would be one per
	// request.
	issued := ts.issued.Load()
	assert.GreaterOrEqual(t, issued, int32(4), "tokens were refreshed across the expiries")
	assert.LessOrEqual(t, issued, int32(run/time.Second)+3, "single flight: a handful of token requests for %d requests", sent.Load())
	t.Logf("%d requests, %d token requests", sent.Load(), ts.requests.Load())
}

func TestSinkRejectionRefreshes(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour})
	sink := newSink(t, ts)
	h := start(t, testConfig(ts.tokenURL()))
	client := h.client(t)
	mustSend(t, client, sink.URL)
	old := h.currentToken(t)

	ts.revoke(t, old)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { mustSend(t, client, sink.URL) })
	}
	wg.Wait()
	assert.NotEqual(t, old, h.currentToken(t))
	assert.EqualValues(t, 2, ts.issued.Load(), "one refresh for all the requests rejected with the revoked token")
	assert.EqualValues(t, 21, sink.accepted.Load())
	assert.EqualValues(t, 1, h.counter(t, "courier.oidc_client.token_invalidations", ""))

	// An exporter invalidating the already replaced token changes nothing.
	var inv authrefresh.Invalidator = h.ext
	inv.InvalidateToken(old)
	mustSend(t, client, sink.URL)
	assert.EqualValues(t, 2, ts.issued.Load())
}

func TestTokenEndpointDownThenUp(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour})
	ts.mode.Store(mode503)
	sink := newSink(t, ts)
	h := start(t, testConfig(ts.tokenURL()))
	client := h.client(t)

	const n = 20
	results := make(chan error, n)
	for range n {
		go func() {
			status, err := sendWithin(client, sink.URL, 60*time.Second)
			if err == nil && status != http.StatusAccepted {
				err = fmt.Errorf("status %d", status)
			}
			results <- err
		}()
	}
	eventually(t, "two refused token requests", func() bool { return ts.requests.Load() >= 2 })
	ts.mode.Store(modeDropped)
	eventually(t, "a dropped token request", func() bool { return ts.requests.Load() >= 3 })
	assert.EqualValues(t, 0, sink.accepted.Load()+sink.rejected.Load(), "nothing sent without a token")
	ts.mode.Store(modeUp)
	for range n {
		assert.NoError(t, <-results)
	}
	assert.EqualValues(t, n, sink.accepted.Load())
	assert.EqualValues(t, 1, ts.issued.Load())
	assert.GreaterOrEqual(t, h.counter(t, "courier.oidc_client.token_refresh_failures", authrefresh.ReasonRejected), int64(2))
	assert.GreaterOrEqual(t, h.counter(t, "courier.oidc_client.token_refresh_failures", authrefresh.ReasonUnreachable), int64(1))
	assert.NotEmpty(t, h.logs.FilterMessageSnippet("Could not obtain a token").All())
	assert.NotEmpty(t, h.logs.FilterMessageSnippet("after failed attempts").All())
	h.assertNoSecret(t, testClientSecret)
}

func TestRequestContextEndsWait(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{})
	ts.mode.Store(mode503)
	sink := newSink(t, ts)
	h := start(t, testConfig(ts.tokenURL()))
	_, err := sendWithin(h.client(t), sink.URL, 700*time.Millisecond)
	require.Error(t, err)
	assert.ErrorIs(t, err, authrefresh.ErrNoToken)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "503 Service Unavailable")
	assert.NotContains(t, err.Error(), "maintenance", "the response body is not quoted")
}

func TestWrongSecret(t *testing.T) {
	const wrong = "wr0ng-Secret-Value-99"
	ts := newTokenServer(t, tokenServerOptions{})
	sink := newSink(t, ts)
	cfg := testConfig(ts.tokenURL())
	cfg.ClientSecret = wrong
	h := start(t, cfg)
	_, err := sendWithin(h.client(t), sink.URL, 1500*time.Millisecond)
	require.ErrorIs(t, err, authrefresh.ErrNoToken)
	assert.Contains(t, err.Error(), "invalid_client")
	assert.Contains(t, err.Error(), "401")
	assert.GreaterOrEqual(t, h.counter(t, "courier.oidc_client.token_refresh_failures", authrefresh.ReasonRejected), int64(1))
	assert.Zero(t, sink.accepted.Load()+sink.rejected.Load())
	h.assertNoSecret(t, wrong, err)
	h.assertNoSecret(t, testClientSecret, err)
}

// A token endpoint that echoes the request into its error: the secret is
// still kept out of errors and logs.
func TestEchoedSecretRedacted(t *testing.T) {
	for _, style := range []string{AuthStyleBasic, AuthStyleParams} {
		t.Run(style, func(t *testing.T) {
			ts := newTokenServer(t, tokenServerOptions{handler: func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				_, secret, _ := r.BasicAuth()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprintf(w, `{"error":"invalid_request","error_description":"got form %s and basic secret %s"}`,
					r.PostForm.Encode(), secret)
			}})
			cfg := testConfig(ts.tokenURL())
			cfg.AuthStyle = style
			h := start(t, cfg)
			_, err := sendWithin(h.client(t), "http://127.0.0.1:1", time.Second)
			require.ErrorIs(t, err, authrefresh.ErrNoToken)
			assert.Contains(t, err.Error(), "invalid_request")
			assert.Contains(t, err.Error(), "[REDACTED]")
			h.assertNoSecret(t, testClientSecret, err)
		})
	}
}

func TestClientSecretFile(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour})
	sink := newSink(t, ts)
	path := filepath.Join(t.TempDir(), "oidc-client-secret")
	require.NoError(t, os.WriteFile(path, []byte(testClientSecret+"\n"), 0o600))
	cfg := testConfig(ts.tokenURL())
	cfg.ClientSecret = ""
	cfg.ClientSecretFile = path
	h := start(t, cfg)
	client := h.client(t)
	mustSend(t, client, sink.URL)

	// Rotation: the server gets a new secret, the file is rewritten; the next
	// token request (here after the sink rejects the token) uses it.
	const rotated = "r0tated-Secret-Value-7"
	require.NoError(t, ts.clients.Set(testClientID, &models.Client{ID: testClientID, Secret: rotated}))
	require.NoError(t, os.WriteFile(path, []byte(rotated), 0o600))
	ts.revoke(t, h.currentToken(t))
	mustSend(t, client, sink.URL)
	assert.EqualValues(t, 2, ts.issued.Load())

	// Missing file: requests wait, the failure says which file.
	require.NoError(t, os.Remove(path))
	ts.revoke(t, h.currentToken(t))
	status, err := sendWithin(client, sink.URL, time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, status, "no new token in time: the rejection is returned as it came")
	_, err = sendWithin(client, sink.URL, time.Second)
	require.ErrorIs(t, err, authrefresh.ErrNoToken)
	assert.Contains(t, err.Error(), "client_secret_file")
	assert.Contains(t, err.Error(), path)
	assert.GreaterOrEqual(t, h.counter(t, "courier.oidc_client.token_refresh_failures", authrefresh.ReasonUnavailable), int64(1))

	// The file comes back: requests succeed again.
	require.NoError(t, os.WriteFile(path, []byte(rotated), 0o600))
	mustSend(t, client, sink.URL)
	h.assertNoSecret(t, rotated, err)
	h.assertNoSecret(t, testClientSecret, err)
}

func TestAuthStyle(t *testing.T) {
	for _, server := range []string{AuthStyleBasic, AuthStyleParams} {
		for _, client := range []string{AuthStyleBasic, AuthStyleParams} {
			t.Run("server_"+server+"/client_"+client, func(t *testing.T) {
				ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour, style: server})
				sink := newSink(t, ts)
				cfg := testConfig(ts.tokenURL())
				cfg.AuthStyle = client
				h := start(t, cfg)
				if server == client {
					mustSend(t, h.client(t), sink.URL)
					used := map[string]int32{AuthStyleBasic: ts.basic.Load(), AuthStyleParams: ts.params.Load()}
					assert.EqualValues(t, 1, used[client])
					return
				}
				_, err := sendWithin(h.client(t), sink.URL, time.Second)
				require.ErrorIs(t, err, authrefresh.ErrNoToken)
				assert.Contains(t, err.Error(), "invalid_client")
				assert.Zero(t, ts.issued.Load())
			})
		}
	}
}

func TestScopesAndEndpointParams(t *testing.T) {
	var got atomic.Value
	ts := newTokenServer(t, tokenServerOptions{handler: func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got.Store(r.PostForm)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
	}})
	cfg := testConfig(ts.tokenURL())
	cfg.Scopes = []string{"events.write", "events.read"}
	cfg.EndpointParams = map[string][]string{"audience": {"https://sink.example.com"}, "resource": {"a", "b"}}
	h := start(t, cfg)
	assert.Equal(t, "tok", h.currentToken(t))
	form := got.Load().(url.Values)
	assert.Equal(t, []string{"client_credentials"}, form["grant_type"])
	assert.Equal(t, []string{"events.write events.read"}, form["scope"])
	assert.Equal(t, []string{"https://sink.example.com"}, form["audience"])
	assert.Equal(t, []string{"a", "b"}, form["resource"])
}

func TestMTLSTokenServer(t *testing.T) {
	ca := authrefreshtest.NewCA(t)
	caFile, certFile, keyFile := ca.Files(t)
	ts := newTokenServer(t, tokenServerOptions{lifetime: time.Hour, tls: ca.ServerTLS(t, true)})
	sink := newSink(t, ts)
	require.True(t, strings.HasPrefix(ts.tokenURL(), "https://"))

	t.Run("ca_and_client_cert", func(t *testing.T) {
		cfg := testConfig(ts.tokenURL())
		cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile = caFile, certFile, keyFile
		mustSend(t, start(t, cfg).client(t), sink.URL)
	})
	t.Run("no_ca", func(t *testing.T) {
		cfg := testConfig(ts.tokenURL())
		cfg.TLS.CertFile, cfg.TLS.KeyFile = certFile, keyFile
		_, err := sendWithin(start(t, cfg).client(t), sink.URL, time.Second)
		require.ErrorIs(t, err, authrefresh.ErrNoToken)
		assert.Contains(t, err.Error(), "certificate signed by unknown authority")
	})
	t.Run("no_client_cert", func(t *testing.T) {
		cfg := testConfig(ts.tokenURL())
		cfg.TLS.CAFile = caFile
		h := start(t, cfg)
		_, err := sendWithin(h.client(t), sink.URL, time.Second)
		require.ErrorIs(t, err, authrefresh.ErrNoToken)
		assert.GreaterOrEqual(t, h.counter(t, "courier.oidc_client.token_refresh_failures", authrefresh.ReasonUnreachable), int64(1))
	})
	t.Run("insecure_skip_verify", func(t *testing.T) {
		cfg := testConfig(ts.tokenURL())
		cfg.TLS.InsecureSkipVerify = true
		cfg.TLS.CertFile, cfg.TLS.KeyFile = certFile, keyFile
		mustSend(t, start(t, cfg).client(t), sink.URL)
	})
}

func TestStartFailsOnBadTLSFiles(t *testing.T) {
	cfg := testConfig("https://127.0.0.1:1/token")
	cfg.TLS.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tls:")
	require.NoError(t, ext.Shutdown(context.Background()))
}

func TestShutdownEndsWaitingRequests(t *testing.T) {
	ts := newTokenServer(t, tokenServerOptions{})
	ts.mode.Store(mode503)
	cfg := testConfig(ts.tokenURL())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	rt, err := ext.(*oidcExtension).RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := send(context.Background(), &http.Client{Transport: rt}, "http://127.0.0.1:1")
		errc <- err
	}()
	eventually(t, "a token request", func() bool { return ts.requests.Load() >= 1 })
	require.NoError(t, ext.Shutdown(context.Background()))
	assert.True(t, errors.Is(<-errc, authrefresh.ErrClosed))
}
