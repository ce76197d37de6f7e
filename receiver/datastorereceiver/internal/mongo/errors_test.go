package mongo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestUnusableToken(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		ok   bool
	}{
		{mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost", Message: "Resume of change stream was not possible, as the resume point may no longer be in the oplog."}, 286, true},
		{mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError", Message: "cannot resume stream; the resume token was not found."}, 280, true},
		{mongo.CommandError{Code: 260, Name: "InvalidResumeToken"}, 260, true},
		{mongo.CommandError{Code: 136, Name: "CappedPositionLost"}, 136, true},
		{mongo.CommandError{Code: 9, Name: "FailedToParse"}, 9, true},
		{fmt.Errorf("read change stream: %w", mongo.CommandError{Code: 286}), 286, true},
		{mongo.CommandError{Code: 43, Name: "CursorNotFound"}, 0, false},
		{mongo.CommandError{Code: 40573}, 0, false},
		{mongo.CommandError{Code: 13, Name: "Unauthorized"}, 0, false},
		{errors.New("ChangeStreamHistoryLost"), 0, false},
		{context.DeadlineExceeded, 0, false},
	} {
		code, ok := unusableToken(tc.err)
		if code != tc.code || ok != tc.ok {
			t.Errorf("%v: (%d, %v), want (%d, %v)", tc.err, code, ok, tc.code, tc.ok)
		}
	}
}

func TestNoChangeStreamsErrors(t *testing.T) {
	for _, tc := range []struct {
		err error
		ok  bool
	}{
		{mongo.CommandError{Code: 40573, Name: "Location40573", Message: "The $changeStream stage is only supported on replica sets"}, true},
		{fmt.Errorf("watch: %w", mongo.CommandError{Code: 40573}), true},
		// Older servers: the message alone.
		{mongo.CommandError{Code: 1, Message: "The $changeStream stage is only supported on replica sets"}, true},
		// FerretDB v1.
		{mongo.CommandError{Code: 238, Name: "NotImplemented", Message: "`aggregate` $changeStream stage is not implemented yet"}, true},
		{mongo.CommandError{Code: 238, Name: "NotImplemented", Message: "$lookup is not implemented"}, false},
		{mongo.CommandError{Code: 286}, false},
		{errors.New("The $changeStream stage is only supported on replica sets"), false},
	} {
		if got := noChangeStreams(tc.err); got != tc.ok {
			t.Errorf("%v: %v, want %v", tc.err, got, tc.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	uri := "mongodb://exporter:s3cr%40t/pw@db-0.example:27017,db-1.example:27017/?replicaSet=rs0"
	msg := redact("error parsing uri mongodb://exporter:s3cr%40t/pw@db-0.example: s3cr@t/pw s3cr%40t/pw", uri)
	for _, secret := range []string{"s3cr%40t", "s3cr@t"} {
		if strings.Contains(msg, secret) {
			t.Errorf("%q still holds %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "db-0.example") {
		t.Errorf("%q lost the host", msg)
	}
	err := redactErr(fmt.Errorf("%w: dial exporter:s3cr%%40t/pw@db-0", ErrDisconnected), uri)
	if !errors.Is(err, ErrDisconnected) || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("redactErr: %v (still ErrDisconnected: %v)", err, errors.Is(err, ErrDisconnected))
	}
	if got := redact("plain", "mongodb://db:27017"); got != "plain" {
		t.Errorf("redact without credentials = %q", got)
	}
}

func TestConfig(t *testing.T) {
	c := Config{URI: "mongodb://db:27017/?replicaSet=rs0"}.withDefaults()
	if c.Database != "nvsentinel" || c.Collection != "HealthEvents" || c.TokenCollection != "ResumeTokens" ||
		c.ClientName != "event-exporter" || c.Backfill.BatchSize != 1000 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Error(err)
	}
	bad := Config{Database: "a.b", Collection: "$x", Backfill: BackfillConfig{MaxAge: -1, MaxEvents: -1, RateLimit: -1}}.withDefaults()
	err := bad.validate()
	for _, key := range []string{"uri", "database", "collection", "backfill.max_age", "backfill.max_events", "backfill.rate_limit"} {
		if err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("validate: %v, want a message about %s", err, key)
		}
	}

	_, err = Config{URI: "mongodb://user:hunter2@db:27017/?replicaSet=rs0&w=banana&connectTimeoutMS=x"}.clientOptions()
	t.Log(err)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad URI: %v", err)
	}
	_, err = Config{URI: "http://user:hunter2@db"}.clientOptions()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad scheme: %v", err)
	}
}

func TestClientOptionsTLS(t *testing.T) {
	cert := tls.Certificate{Certificate: [][]byte{{1}}}
	o, err := Config{URI: "mongodb://db:27017", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSConfig == nil || o.Auth == nil || o.Auth.AuthMechanism != "MONGODB-X509" || o.Auth.AuthSource != "$external" {
		t.Errorf("client certificate: TLS %v, auth %+v; want X.509 auth as NVSentinel", o.TLSConfig != nil, o.Auth)
	}
	// Credentials in the URI win; a CA alone means no client authentication.
	o, err = Config{URI: "mongodb://u:p@db:27017", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}.clientOptions()
	if err != nil || o.Auth == nil || o.Auth.AuthMechanism == "MONGODB-X509" {
		t.Errorf("URI credentials: %+v, %v", o.Auth, err)
	}
	o, err = Config{URI: "mongodb://db:27017", TLS: &tls.Config{}}.clientOptions()
	if err != nil || o.Auth != nil || o.TLSConfig == nil {
		t.Errorf("CA only: auth %+v, %v", o.Auth, err)
	}
}
