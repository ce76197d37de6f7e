package authrefresh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

// sink accepts requests whose Authorization header holds an allowed token
// and whose body is "payload".
type sink struct {
	mu      sync.Mutex
	allowed map[string]bool
	seen    []string
	status  int // answer for a rejected token (default 401)
}

func (s *sink) allow(tok string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed[tok] = ok
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	if k := r.Header.Get("X-Api-Key"); k != "" {
		auth = k
	}
	s.mu.Lock()
	s.seen = append(s.seen, auth)
	ok := s.allowed[strings.TrimPrefix(auth, "Bearer ")]
	s.mu.Unlock()
	if !ok {
		st := s.status
		if st == 0 {
			st = http.StatusUnauthorized
		}
		w.WriteHeader(st)
		return
	}
	if r.Method == http.MethodPost && string(body) != "payload" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func newSink(t *testing.T) (*sink, *httptest.Server) {
	s := &sink{allowed: map[string]bool{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func newClient(c *Cache) *http.Client {
	return &http.Client{Transport: NewRoundTripper(http.DefaultTransport, c, "Authorization", "Bearer")}
}

func post(t *testing.T, client *http.Client, url string, replayable bool) *http.Response {
	t.Helper()
	var body io.Reader = strings.NewReader("payload")
	if !replayable {
		body = io.NopCloser(body) // http.NewRequest cannot set GetBody
	}
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

func TestRoundTripAddsToken(t *testing.T) {
	s, srv := newSink(t)
	src := &source{}
	c := newTestCache(t, src, nil)
	s.allow("tok-1", true)
	resp := post(t, newClient(c), srv.URL, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if tok, ok := UsedToken(resp); !ok || tok != "tok-1" || Retried(resp) {
		t.Fatalf("UsedToken = %q, %v; Retried = %v", tok, ok, Retried(resp))
	}
	raw := &http.Client{Transport: NewRoundTripper(nil, c, "X-Api-Key", "")}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := resp.Request.Header.Get("X-Api-Key"); got != "tok-1" || resp.StatusCode != http.StatusOK {
		t.Fatalf("raw scheme header = %q, status %d", got, resp.StatusCode)
	}
}

func TestRoundTripRetriesOnceAfterRejection(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s, srv := newSink(t)
			s.status = status
			src := &source{}
			c := newTestCache(t, src, nil)
			client := newClient(c)
			s.allow("tok-1", true)
			post(t, client, srv.URL, true)

			s.allow("tok-1", false) // revoked
			s.allow("tok-2", true)
			resp := post(t, client, srv.URL, true)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d after refresh", resp.StatusCode)
			}
			if tok, _ := UsedToken(resp); tok != "tok-2" || !Retried(resp) {
				t.Fatalf("UsedToken %q Retried %v", tok, Retried(resp))
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			want := []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}
			if strings.Join(s.seen, ",") != strings.Join(want, ",") {
				t.Fatalf("sink saw %v, want %v", s.seen, want)
			}
		})
	}
}

func TestRoundTripRetryAlsoRejected(t *testing.T) {
	s, srv := newSink(t)
	src := &source{}
	c := newTestCache(t, src, nil)
	resp := post(t, newClient(c), srv.URL, true)
	if resp.StatusCode != http.StatusUnauthorized || !Retried(resp) {
		t.Fatalf("status %d retried %v", resp.StatusCode, Retried(resp))
	}
	if n := len(s.seen); n != 2 {
		t.Fatalf("sink saw %d requests, want 2 (one retry only)", n)
	}
	// the token used for the retry was dropped too
	if tok := mustToken(t, c); tok != "tok-3" {
		t.Fatalf("after two rejections got %q", tok)
	}
}

func TestRoundTripNotReplayable(t *testing.T) {
	s, srv := newSink(t)
	src := &source{}
	c := newTestCache(t, src, nil)
	resp := post(t, newClient(c), srv.URL, false)
	if resp.StatusCode != http.StatusUnauthorized || Retried(resp) {
		t.Fatalf("status %d retried %v", resp.StatusCode, Retried(resp))
	}
	if tok, _ := UsedToken(resp); tok != "tok-1" {
		t.Fatalf("used %q", tok)
	}
	if len(s.seen) != 1 {
		t.Fatalf("sink saw %d requests", len(s.seen))
	}
	// invalidated: the next request gets a new token
	s.allow("tok-2", true)
	if resp := post(t, newClient(c), srv.URL, false); resp.StatusCode != http.StatusOK {
		t.Fatalf("next request: %d", resp.StatusCode)
	}
	// an exporter invalidating the already replaced token changes nothing
	c.InvalidateToken("tok-1")
	if tok := mustToken(t, c); tok != "tok-2" {
		t.Fatalf("got %q", tok)
	}
}

func TestRoundTripSameTokenNotRetried(t *testing.T) {
	// A source that always yields the same token (an unchanged file).
	s, srv := newSink(t)
	c := newTestCache(t, nil, func(set *Settings) {
		set.Fetch = func(context.Context) (Token, error) { return Token{Value: "static"}, nil }
	})
	resp := post(t, newClient(c), srv.URL, true)
	if resp.StatusCode != http.StatusUnauthorized || Retried(resp) || len(s.seen) != 1 {
		t.Fatalf("status %d retried %v requests %d", resp.StatusCode, Retried(resp), len(s.seen))
	}
}

func TestRoundTripConcurrentRejectionsOneRefresh(t *testing.T) {
	s, srv := newSink(t)
	src := &source{}
	c := newTestCache(t, src, nil)
	client := newClient(c)
	s.allow("tok-1", true)
	post(t, client, srv.URL, true)
	s.allow("tok-1", false)
	s.allow("tok-2", true)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 30 {
		wg.Go(func() {
			if post(t, client, srv.URL, true).StatusCode != http.StatusOK {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one refresh for all rejections of tok-1)", n)
	}
}

type trackingBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackingBody) Close() error { b.closed.Store(true); return nil }

func TestRoundTripNoTokenClosesBody(t *testing.T) {
	src := &source{}
	src.fail.Store(1 << 20)
	c := newTestCache(t, src, nil)
	body := &trackingBody{Reader: bytes.NewReader([]byte("payload"))}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:1", body)
	_, err := NewRoundTripper(nil, c, "Authorization", "Bearer").RoundTrip(req)
	if !errors.Is(err, ErrNoToken) {
		t.Fatalf("got %v, want ErrNoToken", err)
	}
	if !body.closed.Load() {
		t.Fatal("request body not closed")
	}
}

type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

type invExt struct {
	component.StartFunc
	component.ShutdownFunc
	got string
}

func (e *invExt) InvalidateToken(tok string) { e.got = tok }

func TestInvalidatorFor(t *testing.T) {
	id := component.MustNewID("oidc_client")
	ext := &invExt{}
	inv, ok := InvalidatorFor(hostWith{id: ext}, id)
	if !ok {
		t.Fatal("not found")
	}
	inv.InvalidateToken("x")
	if ext.got != "x" {
		t.Fatal("not called")
	}
	if _, ok := InvalidatorFor(componenttest.NewNopHost(), id); ok {
		t.Fatal("found in an empty host")
	}
	if _, ok := InvalidatorFor(hostWith{id: struct {
		component.StartFunc
		component.ShutdownFunc
	}{}}, id); ok {
		t.Fatal("an extension without InvalidateToken is not an Invalidator")
	}
}
