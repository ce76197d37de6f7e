package tokenserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	s := New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func TestClientCredentials(t *testing.T) {
	s, ts := start(t, Config{ClientID: "c", ClientSecret: "secret", Lifetime: time.Minute})
	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "params": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: "c", ClientSecret: "secret", TokenURL: ts.URL + "/token", AuthStyle: style}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !s.Valid(tok.AccessToken) || tok.TokenType != "Bearer" {
				t.Fatalf("token %+v not valid", tok)
			}
			if left := time.Until(tok.Expiry); left < 50*time.Second || left > time.Minute {
				t.Errorf("expires in %s, want about a minute", left)
			}
		})
	}
	bad := clientcredentials.Config{ClientID: "c", ClientSecret: "wrong", TokenURL: ts.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := bad.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
	if st := s.Stats(); st.Issued != 2 || st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestLifetimeFailingAndRevoke(t *testing.T) {
	s, ts := start(t, Config{})
	post := func(body string) int {
		resp, err := http.Post(ts.URL+"/_token/control", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	omniverse := func() (int, map[string]string) {
		resp, err := http.Get(ts.URL + "/token/omniverse")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var doc map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		return resp.StatusCode, doc
	}

	if code := post(`{"lifetime":"150ms"}`); code != http.StatusNoContent {
		t.Fatalf("control: %d", code)
	}
	code, doc := omniverse()
	if code != http.StatusOK || !s.Valid(doc["idToken"]) {
		t.Fatalf("omniverse token: %d %v", code, doc)
	}
	if _, err := time.Parse(time.RFC3339, doc["expires"]); err != nil {
		t.Errorf("expires: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if s.Valid(doc["idToken"]) {
		t.Error("token still valid after its lifetime")
	}

	post(`{"failing":true}`)
	if code, _ := omniverse(); code != http.StatusServiceUnavailable {
		t.Errorf("failing: %d, want 503", code)
	}
	post(`{"failing":false,"lifetime":"1h"}`)
	_, doc = omniverse()
	if !s.Valid(doc["idToken"]) {
		t.Fatal("token after recovery not valid")
	}
	resp, err := http.Post(ts.URL+"/_token/revoke", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if s.Valid(doc["idToken"]) {
		t.Error("revoked token still valid")
	}
	for _, bad := range []string{`{"lifetime":"-1s"}`, `{"lifetime":"soon"}`, `{"other":1}`} {
		if code := post(bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	if st := s.Stats(); st.Issued != 2 || st.Failed != 1 {
		t.Errorf("stats %+v", st)
	}
}
