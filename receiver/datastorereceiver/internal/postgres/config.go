package postgres

import (
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/backlog"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config says where NVSentinel keeps its health events and how to read
// them. Zero values take the defaults below, which are NVSentinel's names.
type Config struct {
	// DSN is a libpq connection string or URL. sslmode, sslrootcert,
	// sslcert and sslkey work as in libpq.
	DSN string
	// TLS, when set, replaces the TLS settings derived from the DSN (and
	// turns off sslmode=prefer's plaintext fallback).
	TLS *tls.Config

	NotifyChannel     string        // default "nvsentinel_changes"
	PollInterval      time.Duration // fallback poll when no NOTIFY arrives; default 1s
	HealthEventsTable string        // default "health_events"; may be schema-qualified
	ChangelogTable    string        // default "datastore_changelog"
	ResumeTokensTable string        // default "resume_tokens"
	ClientName        string        // resume_tokens.client_name; default "event-exporter"

	// MaxGaps bounds the changelog ids tracked as possibly still
	// uncommitted (each entry a run of missing ids); at the bound the
	// source stops reading new ids until some resolve. Default 10,000.
	MaxGaps int

	Backfill BackfillConfig

	// TokenStore, when set, keeps the resume token instead of the
	// ResumeTokensTable (a collector storage extension): same encoding, but
	// NVSentinel's exporter does not see it.
	TokenStore TokenStore
}

// TokenStore keeps an encoded resume token.
type TokenStore interface {
	// Load returns the token, or nil when there is none.
	Load(ctx context.Context) ([]byte, error)
	Save(ctx context.Context, token []byte) error
}

// BackfillConfig is the history export that runs when no resume token
// exists for ClientName.
type BackfillConfig = backlog.Config

// Defaults.
const (
	DefaultNotifyChannel     = "nvsentinel_changes"
	DefaultPollInterval      = time.Second
	DefaultHealthEventsTable = "health_events"
	DefaultChangelogTable    = "datastore_changelog"
	DefaultResumeTokensTable = "resume_tokens"
	DefaultClientName        = "event-exporter"
	DefaultMaxGaps           = 10_000
	DefaultBackfillBatchSize = 1_000
)

func (c Config) withDefaults() Config {
	set := func(s *string, def string) {
		if *s == "" {
			*s = def
		}
	}
	set(&c.NotifyChannel, DefaultNotifyChannel)
	set(&c.HealthEventsTable, DefaultHealthEventsTable)
	set(&c.ChangelogTable, DefaultChangelogTable)
	set(&c.ResumeTokensTable, DefaultResumeTokensTable)
	set(&c.ClientName, DefaultClientName)
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxGaps <= 0 {
		c.MaxGaps = DefaultMaxGaps
	}
	if c.Backfill.BatchSize <= 0 {
		c.Backfill.BatchSize = DefaultBackfillBatchSize
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, errors.New("dsn: required"))
	}
	for _, n := range []struct{ key, v string }{
		{"health_events_table", c.HealthEventsTable},
		{"changelog_table", c.ChangelogTable},
		{"resume_tokens_table", c.ResumeTokensTable},
	} {
		if err := checkName(n.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.key, err))
		}
	}
	if strings.ContainsRune(c.NotifyChannel, 0) {
		errs = append(errs, errors.New("notify_channel: contains a NUL byte"))
	}
	if c.Backfill.MaxAge < 0 {
		errs = append(errs, errors.New("backfill.max_age: must not be negative"))
	}
	if c.Backfill.MaxEvents < 0 {
		errs = append(errs, errors.New("backfill.max_events: must not be negative"))
	}
	if c.Backfill.RateLimit < 0 {
		errs = append(errs, errors.New("backfill.rate_limit: must not be negative"))
	}
	return errors.Join(errs...)
}

// checkName accepts table or schema.table; the parts are quoted when used,
// so only emptiness and NUL bytes can make them invalid.
func checkName(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("%q: want table or schema.table", name)
	}
	for _, p := range parts {
		if p == "" || strings.ContainsRune(p, 0) {
			return fmt.Errorf("%q: empty or invalid part", name)
		}
	}
	return nil
}

// quoteName quotes table or schema.table for SQL.
func quoteName(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// bareName is the table name without its schema: what NVSentinel's trigger
// writes to datastore_changelog.table_name (TG_TABLE_NAME).
func bareName(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}

// connConfig parses the DSN and applies TLS.
func (c Config) connConfig() (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(c.DSN)
	if err != nil {
		// pgx's message quotes the DSN with the password redacted only on a
		// best-effort basis, and the error it wraps (net/url's) quotes it
		// verbatim: say nothing about the DSN's contents.
		return nil, errors.New("dsn: not a valid PostgreSQL connection string or URL")
	}
	if c.TLS != nil {
		t := c.TLS.Clone()
		if t.ServerName == "" && !t.InsecureSkipVerify {
			t.ServerName = cc.Host
		}
		cc.TLSConfig = t
		// sslmode=prefer/allow add a plaintext fallback; an explicit TLS
		// configuration means TLS or nothing.
		cc.Fallbacks = nil
	}
	return cc, nil
}
