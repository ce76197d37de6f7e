package mongoproc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
)

// TestStartRestart: the stand-in starts over TLS; a client with the
// certificate authenticates and sees a replica set, one without is
// refused; after Restart on the same data and address the document
// written before is still there.
func TestStartRestart(t *testing.T) {
	if err := pgtest.Available(); err != nil {
		t.Skip(err)
	}
	bin, err := Binary(testutil.ModuleRoot(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pg := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Binary: bin, Dir: t.TempDir(), Postgres: pg.NewDB(t), Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	var hello struct {
		SetName string `bson:"setName"`
	}
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		t.Fatal(err)
	}
	if hello.SetName != "rs0" {
		t.Errorf("setName %q, want rs0", hello.SetName)
	}
	coll := c.Database("nvsentinel").Collection("HealthEvents")
	id := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		t.Fatal(err)
	}

	// Trusting the server's CA but without a client certificate: refused.
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	bare, err := mongo.Connect(options.Client().ApplyURI(s.URI).
		SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}).SetServerSelectionTimeout(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bare.Disconnect(context.Background()) }()
	if err := bare.Ping(ctx, nil); err == nil {
		t.Error("a client without a certificate reached the stand-in")
	}

	uri := s.URI
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s.URI != uri {
		t.Errorf("after Restart the URI is %q, was %q", s.URI, uri)
	}
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil || n != 1 {
		t.Fatalf("after Restart: %d documents, %v; want the one written before", n, err)
	}
}
