package postgres

import (
	"crypto/tls"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/courier-otel/courier/internal/authrefresh/authrefreshtest"
	"github.com/courier-otel/courier/internal/pgtest"
)

// TestTLS against a server with TLS on: the DSN's sslmode/sslrootcert work
// as in libpq, Config.TLS replaces them (even sslmode=disable), and a
// certificate from another CA is refused either way.
func TestTLS(t *testing.T) {
	ca := authrefreshtest.NewCA(t)
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1", true)
	s := pgtest.StartTLS(t, certPEM, keyPEM)
	plain := s.NewDB(t) // sslmode=disable
	other := authrefreshtest.NewCA(t)
	dir := t.TempDir()
	caFile := authrefreshtest.WriteFile(t, filepath.Join(dir, "ca.pem"), ca.CertPEM)
	otherFile := authrefreshtest.WriteFile(t, filepath.Join(dir, "other.pem"), other.CertPEM)

	withParams := func(params string) string {
		u, err := url.Parse(plain)
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery = params
		return u.String()
	}
	check := connect(t, plain)
	tlsSessions := func() int {
		var n int
		err := check.QueryRow(testCtx(t, 10*time.Second), `SELECT count(*) FROM pg_stat_ssl s
			JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname = current_database()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"dsn verify-full", Config{DSN: withParams("sslmode=verify-full&sslrootcert=" + url.QueryEscape(caFile))}, true},
		{"dsn verify-full, wrong CA", Config{DSN: withParams("sslmode=verify-full&sslrootcert=" + url.QueryEscape(otherFile))}, false},
		{"config TLS over sslmode=disable", Config{DSN: plain, TLS: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}, true},
		{"config TLS, wrong CA", Config{DSN: withParams("sslmode=prefer"), TLS: &tls.Config{RootCAs: other.Pool()}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The sessions of the previous case end asynchronously.
			settled(t, "no TLS session left", func() bool { return tlsSessions() == 0 })
			src, err := Open(testCtx(t, 20*time.Second), tc.cfg, zaptest.NewLogger(t))
			if !tc.ok {
				if err == nil {
					_ = src.Close()
					t.Fatal("connected with a certificate the configuration does not trust")
				}
				if !strings.Contains(err.Error(), "certificate") {
					t.Errorf("error does not say why: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = src.Close() }()
			settled(t, "the source's TLS session", func() bool { return tlsSessions() >= 1 })
		})
	}
}

func TestConfigTLSReplacesDSN(t *testing.T) {
	mine := &tls.Config{MinVersion: tls.VersionTLS13}
	cc, err := Config{DSN: "postgres://u@db.example:5433/x?sslmode=prefer", TLS: mine}.connConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.TLSConfig == nil || cc.TLSConfig.MinVersion != tls.VersionTLS13 || cc.TLSConfig.ServerName != "db.example" {
		t.Errorf("TLS config = %+v, want ours with ServerName db.example", cc.TLSConfig)
	}
	if len(cc.Fallbacks) != 0 {
		t.Errorf("%d fallbacks: sslmode=prefer's plaintext fallback survived an explicit TLS config", len(cc.Fallbacks))
	}
	if mine.ServerName != "" {
		t.Error("the caller's tls.Config was modified")
	}
}

// settled waits up to 10 s for cond.
func settled(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
