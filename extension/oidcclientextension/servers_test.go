package oidcclientextension

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oauth2errors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"
)

const (
	testClientID     = "event-exporter"
	testClientSecret = "s3cr3t-Client-Value-42"
)

// Token server modes.
const (
	modeUp      int32 = iota
	mode503           // answers 503 Service Unavailable
	modeDropped       // closes the connection without an answer
)

// tokenServer is a real OAuth 2.0 authorization server (go-oauth2) that
// issues client-credentials tokens, on loopback.
type tokenServer struct {
	*httptest.Server
	manager  *manage.Manager
	clients  *store.ClientStore
	requests atomic.Int32 // token requests received
	issued   atomic.Int32 // tokens issued
	basic    atomic.Int32 // requests that authenticated the client with Basic
	params   atomic.Int32 // ... with form parameters
	mode     atomic.Int32
}

type tokenServerOptions struct {
	lifetime time.Duration    // token lifetime; 0 = 2s
	style    string           // accept only this auth style; "" = both
	tls      *tls.Config      // serve https with this config
	handler  http.HandlerFunc // replaces the OAuth server entirely
}

func newTokenServer(t *testing.T, o tokenServerOptions) *tokenServer {
	t.Helper()
	if o.lifetime == 0 {
		o.lifetime = 2 * time.Second
	}
	ts := &tokenServer{manager: manage.NewDefaultManager(), clients: store.NewClientStore()}
	ts.manager.SetClientTokenCfg(&manage.Config{AccessTokenExp: o.lifetime})
	ts.manager.MustTokenStorage(store.NewMemoryTokenStore())
	if err := ts.clients.Set(testClientID, &models.Client{ID: testClientID, Secret: testClientSecret}); err != nil {
		t.Fatal(err)
	}
	ts.manager.MapClientStorage(ts.clients)

	srv := server.NewDefaultServer(ts.manager)
	srv.SetAllowedGrantType(oauth2.ClientCredentials)
	srv.SetClientInfoHandler(func(r *http.Request) (string, string, error) {
		if id, secret, ok := r.BasicAuth(); ok && o.style != AuthStyleParams {
			ts.basic.Add(1)
			return id, secret, nil
		}
		if id := r.Form.Get("client_id"); id != "" && o.style != AuthStyleBasic {
			ts.params.Add(1)
			return id, r.Form.Get("client_secret"), nil
		}
		return "", "", oauth2errors.ErrInvalidClient
	})

	handler := func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		switch ts.mode.Load() {
		case mode503:
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		case modeDropped:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		if o.handler != nil {
			o.handler(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		if err := srv.HandleTokenRequest(rec, r); err != nil {
			t.Errorf("token server: %v", err)
		}
		if rec.status == 0 || rec.status == http.StatusOK {
			ts.issued.Add(1)
		}
	}
	if o.tls != nil {
		ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(handler))
		ts.TLS = o.tls
		ts.StartTLS()
	} else {
		ts.Server = httptest.NewServer(http.HandlerFunc(handler))
	}
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) tokenURL() string { return ts.URL + "/oauth2/token" }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// sinkServer accepts a request only if its bearer token is valid according
// to the token server's own store.
type sinkServer struct {
	*httptest.Server
	accepted atomic.Int32
	rejected atomic.Int32
}

func newSink(t *testing.T, ts *tokenServer) *sinkServer {
	t.Helper()
	s := &sinkServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			s.rejected.Add(1)
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		if _, err := ts.manager.LoadAccessToken(r.Context(), tok); err != nil {
			s.rejected.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		s.accepted.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

// revoke removes token from the token server's store, as an administrator
// revoking it would.
func (ts *tokenServer) revoke(t *testing.T, token string) {
	t.Helper()
	if err := ts.manager.RemoveAccessToken(context.Background(), token); err != nil && !errors.Is(err, oauth2errors.ErrInvalidAccessToken) {
		t.Fatalf("revoke: %v", err)
	}
}
