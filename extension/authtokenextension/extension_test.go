package authtokenextension

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

	"github.com/courier-otel/courier/extension/authtokenextension/internal/metadata"
	"github.com/courier-otel/courier/internal/authrefresh"
	"github.com/courier-otel/courier/internal/testutil"
	"go.opentelemetry.io/otel/attribute"
)

// sink accepts requests whose header carries a token it knows and that has
// not expired.
type sink struct {
	*httptest.Server
	header, prefix string
	mu             sync.Mutex
	valid          map[string]time.Time // token → expiry (zero = none)
	seen           []string
	accepted       atomic.Int32
	rejected       atomic.Int32
}

func newSink(t *testing.T, header, scheme string) *sink {
	t.Helper()
	s := &sink{header: header, valid: map[string]time.Time{}}
	if scheme != "" {
		s.prefix = scheme + " "
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get(s.header), s.prefix)
		s.mu.Lock()
		s.seen = append(s.seen, tok)
		exp, known := s.valid[tok]
		s.mu.Unlock()
		if !ok || !known || (!exp.IsZero() && time.Now().After(exp)) {
			s.rejected.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.accepted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) allow(tok string, exp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid[tok] = exp
}

func (s *sink) revoke(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.valid, tok)
}

func (s *sink) sawToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.seen {
		if x == tok {
			return true
		}
	}
	return false
}

type harness struct {
	ext  *tokenExtension
	logs *observer.ObservedLogs
	tel  *componenttest.Telemetry
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
	return &harness{ext: ext.(*tokenExtension), logs: logs, tel: tel}
}

func fileConfig(path string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.URL = path
	return cfg
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

// assertNotLogged checks that no log line mentions any of the tokens.
func (h *harness) assertNotLogged(t *testing.T, tokens ...string) {
	t.Helper()
	for _, e := range h.logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, tok := range tokens {
			assert.NotContains(t, line, tok)
		}
	}
}

func send(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"id":"1"}`))
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

func sendWithin(client *http.Client, url string, d time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return send(ctx, client, url)
}

func mustSend(t *testing.T, client *http.Client, url string) {
	t.Helper()
	status, err := sendWithin(client, url, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, status)
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

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Write and rename, as a token refresher would, so that a reader never
	// sees half a file.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func tokenJSON(tok string, exp time.Time) string {
	return fmt.Sprintf(`{"idToken":%q,"expires":%q}`, tok, exp.UTC().Format(time.RFC3339Nano))
}

func TestPlainFileToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api-key")
	writeFile(t, path, "api-key-1\n")
	for _, url := range []string{path, "file://" + path} {
		t.Run(url, func(t *testing.T) {
			s := newSink(t, "Authorization", "Bearer")
			s.allow("api-key-1", time.Time{})
			cfg := fileConfig(url)
			cfg.KeyName = ""
			h := start(t, cfg)
			mustSend(t, h.client(t), s.URL)
			assert.True(t, s.sawToken("api-key-1"))
			h.assertNotLogged(t, "api-key-1")
		})
	}
}

func TestCustomHeaderRawToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-key")
	writeFile(t, path, "api-key-1")
	s := newSink(t, "X-Api-Key", "")
	s.allow("api-key-1", time.Time{})
	cfg := fileConfig(path)
	cfg.KeyName, cfg.Header, cfg.Scheme = "", "X-Api-Key", ""
	h := start(t, cfg)
	mustSend(t, h.client(t), s.URL)
	assert.True(t, s.sawToken("api-key-1"))
}

func TestJSONFileRefreshedBeforeExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	s := newSink(t, "Authorization", "Bearer")
	exp1 := time.Now().Add(2 * time.Second)
	s.allow("t1", exp1)
	writeFile(t, path, tokenJSON("t1", exp1))
	cfg := fileConfig(path)
	cfg.ExpiryBuffer = 500 * time.Millisecond
	h := start(t, cfg)
	client := h.client(t)
	mustSend(t, client, s.URL)
	assert.True(t, s.sawToken("t1"))

	// The token refresher rewrites the file; the extension re-reads it
	// before t1 expires, without any request being rejected.
	exp2 := time.Now().Add(time.Hour)
	s.allow("t2", exp2)
	writeFile(t, path, tokenJSON("t2", exp2))
	for !s.sawToken("t2") {
		require.True(t, time.Now().Before(exp1.Add(5*time.Second)), "t2 never used")
		mustSend(t, client, s.URL)
		time.Sleep(20 * time.Millisecond)
	}
	assert.Zero(t, s.rejected.Load())
	assert.EqualValues(t, 2, h.counter(t, "courier.auth_token.token_refreshes", ""))
	h.assertNotLogged(t, "t1", "t2")
}

func TestFileRewrittenAfterRejection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	s := newSink(t, "Authorization", "Bearer")
	s.allow("k1", time.Time{})
	writeFile(t, path, `{"idToken":"k1"}`)
	h := start(t, fileConfig(path))
	client := h.client(t)
	mustSend(t, client, s.URL)

	// k1 is revoked and the file holds k2: the 401 makes the extension
	// re-read the file and the request is retried with k2.
	s.revoke("k1")
	s.allow("k2", time.Time{})
	writeFile(t, path, `{"idToken":"k2"}`)
	mustSend(t, client, s.URL)
	assert.EqualValues(t, 1, s.rejected.Load())
	assert.EqualValues(t, 1, h.counter(t, "courier.auth_token.token_invalidations", ""))
}

func TestRejectedTokenUnchangedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-key")
	writeFile(t, path, "stale")
	s := newSink(t, "Authorization", "Bearer")
	cfg := fileConfig(path)
	cfg.KeyName = ""
	h := start(t, cfg)
	// The file still holds the rejected token: no pointless retry, the 401
	// is returned as it came.
	status, err := sendWithin(h.client(t), s.URL, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.EqualValues(t, 1, s.rejected.Load())
}

func TestRefreshIntervalWithoutExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-key")
	writeFile(t, path, "k1")
	s := newSink(t, "Authorization", "Bearer")
	s.allow("k1", time.Time{})
	s.allow("k2", time.Time{})
	cfg := fileConfig(path)
	cfg.KeyName = ""
	cfg.RefreshInterval = 200 * time.Millisecond
	h := start(t, cfg)
	client := h.client(t)
	mustSend(t, client, s.URL)
	writeFile(t, path, "k2")
	eventually(t, "k2 in use", func() bool {
		mustSend(t, client, s.URL)
		return s.sawToken("k2")
	})
}

func TestMissingFileWaitsThenSucceeds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	s := newSink(t, "Authorization", "Bearer")
	s.allow("late", time.Time{})
	h := start(t, fileConfig(path))
	client := h.client(t)

	const n = 10
	results := make(chan error, n)
	for range n {
		go func() {
			status, err := sendWithin(client, s.URL, 60*time.Second)
			if err == nil && status != http.StatusNoContent {
				err = fmt.Errorf("status %d", status)
			}
			results <- err
		}()
	}
	eventually(t, "a failed read", func() bool {
		return h.counter(t, "courier.auth_token.token_refresh_failures", authrefresh.ReasonUnavailable) >= 2
	})
	assert.Zero(t, s.accepted.Load()+s.rejected.Load(), "nothing is sent without a token")
	writeFile(t, path, `{"idToken":"late"}`)
	for range n {
		assert.NoError(t, <-results)
	}
	assert.EqualValues(t, n, s.accepted.Load())
	warn := h.logs.FilterMessageSnippet("Could not obtain a token").All()
	require.NotEmpty(t, warn)
	assert.Contains(t, warn[0].ContextMap()["error"], "no such file or directory")
}

func TestNoTokenRequestContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing")
	h := start(t, fileConfig(path))
	_, err := sendWithin(h.client(t), "http://127.0.0.1:1", 700*time.Millisecond)
	require.ErrorIs(t, err, authrefresh.ErrNoToken)
	assert.Contains(t, err.Error(), path)
}

func TestExpiredTokenInFileWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	writeFile(t, path, tokenJSON("old", time.Now().Add(-time.Hour)))
	s := newSink(t, "Authorization", "Bearer")
	s.allow("new", time.Time{})
	h := start(t, fileConfig(path))
	done := make(chan error, 1)
	go func() {
		status, err := sendWithin(h.client(t), s.URL, 60*time.Second)
		if err == nil && status != http.StatusNoContent {
			err = fmt.Errorf("status %d", status)
		}
		done <- err
	}()
	eventually(t, "the expired token refused", func() bool {
		return h.counter(t, "courier.auth_token.token_refresh_failures", authrefresh.ReasonExpired) >= 1
	})
	writeFile(t, path, tokenJSON("new", time.Now().Add(time.Hour)))
	require.NoError(t, <-done)
	assert.False(t, s.sawToken("old"), "an expired token is never sent")
}

// tokenServer answers GET with JSON produced by body, or with status when
// it is not 0.
type tokenServer struct {
	*httptest.Server
	hits   atomic.Int32
	status atomic.Int32
	mu     sync.Mutex
	body   string
}

func newTokenServer(t *testing.T, body string) *tokenServer {
	t.Helper()
	ts := &tokenServer{body: body}
	ts.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.hits.Add(1)
		if st := ts.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, ts.body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) set(body string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.body = body
}

// caFile writes the test server's certificate, its own CA, to a file.
func (ts *tokenServer) caFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600))
	return path
}

func TestHTTPSURLWithJWTExpiry(t *testing.T) {
	jwt1 := makeJWT(t, map[string]any{"sub": "node-1", "exp": time.Now().Add(2 * time.Second).Unix()})
	ts := newTokenServer(t, `{"idToken":"`+jwt1+`"}`)
	s := newSink(t, "Authorization", "Bearer")
	s.allow(jwt1, time.Time{})
	cfg := fileConfig(ts.URL + "/token?device=node-1")
	cfg.TLS.CAFile = ts.caFile(t)
	cfg.ExpiryBuffer = 500 * time.Millisecond
	h := start(t, cfg)
	client := h.client(t)
	mustSend(t, client, s.URL)
	assert.True(t, s.sawToken(jwt1))

	// type auto + URL = jwt: the exp claim (no "expires" member) drives the
	// refresh, about 1.5 s later.
	jwt2 := makeJWT(t, map[string]any{"sub": "node-1", "exp": time.Now().Add(time.Hour).Unix()})
	s.allow(jwt2, time.Time{})
	ts.set(`{"idToken":"` + jwt2 + `"}`)
	eventually(t, "the second JWT in use", func() bool {
		mustSend(t, client, s.URL)
		return s.sawToken(jwt2)
	})
	assert.EqualValues(t, 2, ts.hits.Load())
	h.assertNotLogged(t, jwt1, jwt2)
}

func TestHTTPSURLNeedsCA(t *testing.T) {
	ts := newTokenServer(t, `{"idToken":"abc"}`)
	h := start(t, fileConfig(ts.URL+"/token"))
	_, err := sendWithin(h.client(t), "http://127.0.0.1:1", time.Second)
	require.ErrorIs(t, err, authrefresh.ErrNoToken)
	assert.Contains(t, err.Error(), "certificate signed by unknown authority")
}

func TestURLDownThenUp(t *testing.T) {
	ts := newTokenServer(t, `{"idToken":"abc","expires":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
	ts.status.Store(http.StatusServiceUnavailable)
	s := newSink(t, "Authorization", "Bearer")
	s.allow("abc", time.Time{})
	cfg := fileConfig(ts.URL + "/token")
	cfg.TLS.CAFile = ts.caFile(t)
	h := start(t, cfg)
	done := make(chan error, 1)
	go func() {
		status, err := sendWithin(h.client(t), s.URL, 60*time.Second)
		if err == nil && status != http.StatusNoContent {
			err = fmt.Errorf("status %d", status)
		}
		done <- err
	}()
	eventually(t, "two refused reads", func() bool { return ts.hits.Load() >= 2 })
	ts.status.Store(0)
	require.NoError(t, <-done)
	assert.GreaterOrEqual(t, h.counter(t, "courier.auth_token.token_refresh_failures", authrefresh.ReasonRejected), int64(2))
}

func TestThroughConfighttp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api-key")
	writeFile(t, path, "k1")
	s := newSink(t, "Authorization", "Bearer")
	s.allow("k1", time.Time{})
	cfg := fileConfig(path)
	cfg.KeyName = ""
	h := start(t, cfg)
	id := component.MustNewID("auth_token")
	cc := confighttp.NewDefaultClientConfig()
	cc.Endpoint = s.URL
	cc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	client, err := cc.ToClient(context.Background(), map[component.ID]component.Component{id: h.ext}, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	mustSend(t, client, s.URL)
}
