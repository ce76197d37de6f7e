// Package tokenserver is the testbed's token endpoint: an OAuth 2.0
// client-credentials server (RFC 6749 §4.4) for the oidc_client extension,
// which also serves the JSON document the auth_token extension reads (the
// Omniverse transmitter's authTokenUrl). Tokens live for a configurable
// lifetime and the server can be switched to failing, so that a scenario
// can expire every token at once (a token expiry storm) or take the token
// endpoint down, and a sink can tell a live token from an expired one
// (Valid).
//
//	POST /token               client credentials (HTTP Basic or form) → {"access_token", "token_type", "expires_in"}
//	GET  /token/omniverse     → {"idToken", "expires"} (RFC 3339)
//	GET  /_token/stats        → Stats
//	POST /_token/control      {"lifetime": "2s", "failing": true} (either member may be left out)
//	POST /_token/revoke       every token issued so far stops being valid
package tokenserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// DefaultLifetime is a token's lifetime when Config.Lifetime is 0.
const DefaultLifetime = time.Hour

// Config is set once, at New.
type Config struct {
	// ClientID and ClientSecret are the credentials POST /token accepts;
	// an empty ClientID accepts any client.
	ClientID, ClientSecret string
	// Lifetime of a token; 0: DefaultLifetime. Changed at run time through
	// POST /_token/control or SetLifetime.
	Lifetime time.Duration
}

// Stats are the server's counts, as GET /_token/stats returns them.
type Stats struct {
	Issued  int64 `json:"issued"`  // tokens handed out
	Refused int64 `json:"refused"` // requests with bad credentials or grant type (401/400)
	Failed  int64 `json:"failed"`  // requests answered 503 while failing
}

// Server is the http.Handler of the token server.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu       sync.Mutex
	lifetime time.Duration
	failing  bool
	expiry   map[string]time.Time // live tokens and when they expire
	stats    Stats
}

// New returns a token server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, lifetime: cfg.Lifetime, expiry: map[string]time.Time{}}
	if s.lifetime <= 0 {
		s.lifetime = DefaultLifetime
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /token", s.clientCredentials)
	s.mux.HandleFunc("GET /token/omniverse", s.omniverse)
	s.mux.HandleFunc("GET /_token/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	s.mux.HandleFunc("POST /_token/control", s.control)
	s.mux.HandleFunc("POST /_token/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.Revoke()
		w.WriteHeader(http.StatusNoContent)
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Valid reports whether token was issued by this server and has not
// expired or been revoked.
func (s *Server) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.expiry[token]
	return ok && time.Now().Before(exp)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// SetLifetime sets the lifetime of the tokens issued from now on.
func (s *Server) SetLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.lifetime = d
	}
}

// SetFailing makes every token request fail with 503 (true) or succeed
// again (false).
func (s *Server) SetFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// Revoke invalidates every token issued so far, as if all had expired.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.expiry)
}

// issue returns a new token and its lifetime, or ok false while failing.
func (s *Server) issue() (token string, lifetime time.Duration, ok bool) {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		s.stats.Failed++
		return "", 0, false
	}
	now := time.Now()
	for t, exp := range s.expiry { // bounded: only live tokens are kept
		if !now.Before(exp) {
			delete(s.expiry, t)
		}
	}
	s.stats.Issued++
	token = fmt.Sprintf("tb-%d-%s", s.stats.Issued, hex.EncodeToString(b[:]))
	s.expiry[token] = now.Add(s.lifetime)
	return token, s.lifetime, true
}

func (s *Server) clientCredentials(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		s.refuse(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if s.cfg.ClientID != "" && (id != s.cfg.ClientID || secret != s.cfg.ClientSecret) {
		s.refuse(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	token, lifetime, ok := s.issue()
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token, "token_type": "Bearer", "expires_in": int64(lifetime.Seconds()),
	})
}

func (s *Server) omniverse(w http.ResponseWriter, _ *http.Request) {
	token, lifetime, ok := s.issue()
	if !ok {
		http.Error(w, "token service failing", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"idToken": token, "expires": time.Now().Add(lifetime).UTC().Format(time.RFC3339),
	})
}

func (s *Server) refuse(w http.ResponseWriter, status int, code string) {
	s.mu.Lock()
	s.stats.Refused++
	s.mu.Unlock()
	writeJSON(w, status, map[string]string{"error": code})
}

// control is POST /_token/control.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Lifetime *string `json:"lifetime"`
		Failing  *bool   `json:"failing"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "control: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.Lifetime != nil {
		d, err := time.ParseDuration(*req.Lifetime)
		if err != nil || d <= 0 {
			http.Error(w, fmt.Sprintf("control: lifetime %q is not a positive duration", *req.Lifetime), http.StatusBadRequest)
			return
		}
		s.SetLifetime(d)
	}
	if req.Failing != nil {
		s.SetFailing(*req.Failing)
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
