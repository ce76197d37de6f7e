package mongo

import (
	"github.com/courier-otel/courier/receiver/datastorereceiver/internal/backlog"

	"context"
	"crypto/tls"
	"errors"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Config says where NVSentinel keeps its health events and how to read
// them. Zero values take the defaults below, which are NVSentinel's names.
type Config struct {
	// URI is a MongoDB connection string (mongodb:// or mongodb+srv://).
	// Its password is never logged nor quoted in an error.
	URI string
	// TLS, when set, replaces the TLS settings derived from the URI (and
	// turns TLS on). With a client certificate and no credentials in the
	// URI, the client authenticates with MONGODB-X509, as NVSentinel does.
	TLS *tls.Config

	Database        string // default "nvsentinel"
	Collection      string // default "HealthEvents"
	TokenCollection string // default "ResumeTokens"
	ClientName      string // the token document's clientName; default "event-exporter"

	Backfill BackfillConfig

	// TokenStore, when set, keeps the token document instead of the
	// TokenCollection (a collector storage extension): the same document,
	// but NVSentinel's exporter does not see it.
	TokenStore TokenStore
}

// TokenStore keeps an encoded token document.
type TokenStore interface {
	// Load returns the document, or nil when there is none.
	Load(ctx context.Context) ([]byte, error)
	Save(ctx context.Context, doc []byte) error
}

// BackfillConfig is the history export that runs when no resume token
// exists for ClientName.
type BackfillConfig = backlog.Config

// Defaults.
const (
	DefaultDatabase          = "nvsentinel"
	DefaultCollection        = "HealthEvents"
	DefaultTokenCollection   = "ResumeTokens"
	DefaultClientName        = "event-exporter"
	DefaultBackfillBatchSize = 1_000
)

// RecoveryMargin is how far before the last delivered event's createdAt a
// recovery backfill starts, and the clock skew the backfill/stream
// handover tolerates. createdAt is written by NVSentinel's platform
// connectors with their own clocks before the insert, so insert order and
// createdAt order differ by about that much; the margin costs duplicates,
// never a lost event.
const RecoveryMargin = time.Minute

func (c Config) withDefaults() Config {
	set := func(s *string, def string) {
		if *s == "" {
			*s = def
		}
	}
	set(&c.Database, DefaultDatabase)
	set(&c.Collection, DefaultCollection)
	set(&c.TokenCollection, DefaultTokenCollection)
	set(&c.ClientName, DefaultClientName)
	if c.Backfill.BatchSize <= 0 {
		c.Backfill.BatchSize = DefaultBackfillBatchSize
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.URI == "" {
		errs = append(errs, errors.New("uri: required"))
	}
	for _, n := range []struct{ key, v string }{
		{"database", c.Database},
		{"collection", c.Collection},
		{"token_collection", c.TokenCollection},
	} {
		// The server's own rules are longer; these are the ones that would
		// otherwise turn into confusing errors far from the configuration.
		if strings.ContainsAny(n.v, "\x00$") || (n.key == "database" && strings.ContainsAny(n.v, `/\. "`)) {
			errs = append(errs, errors.New(n.key+": "+quote(n.v)+" is not a valid name"))
		}
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

func quote(s string) string { return `"` + s + `"` }

// clientOptions parses the URI and applies TLS.
func (c Config) clientOptions() (*options.ClientOptions, error) {
	o := options.Client().ApplyURI(c.URI)
	if err := o.Validate(); err != nil {
		// The driver's message may quote parts of the URI.
		return nil, errors.New("uri: not a valid MongoDB connection string: " + redact(err.Error(), c.URI))
	}
	if c.TLS != nil {
		// The driver sets ServerName per host when it is empty.
		o.SetTLSConfig(c.TLS.Clone())
		if o.Auth == nil && (len(c.TLS.Certificates) > 0 || c.TLS.GetClientCertificate != nil) {
			o.SetAuth(options.Credential{AuthMechanism: "MONGODB-X509", AuthSource: "$external"})
		}
	}
	if o.AppName == nil {
		o.SetAppName("courier")
	}
	return o, nil
}

// hosts names the servers of the URI for log and error messages.
func hosts(o *options.ClientOptions) string {
	return strings.Join(o.Hosts, ",")
}

// redactErr is err, with any credential of uri in its message masked; it
// still unwraps to err.
func redactErr(err error, uri string) error {
	if err == nil {
		return nil
	}
	if msg := redact(err.Error(), uri); msg != err.Error() {
		return redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// redact removes the URI's user information (and its password, decoded or
// not) from msg.
func redact(msg, uri string) string {
	i := strings.Index(uri, "://")
	if i < 0 {
		return msg
	}
	rest := uri[i+3:]
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return msg
	}
	secrets := []string{rest[:at]}
	if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
		secrets = append(secrets, pw)
		if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
			secrets = append(secrets, dec)
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}
