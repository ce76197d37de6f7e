package standin

import (
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/courier-otel/courier/internal/authrefresh/authrefreshtest"
)

// tlsStandIn is a stand-in over TLS that requires client certificates
// from its CA, as NVSentinel's in-cluster MongoDB.
type tlsStandIn struct {
	s      *Server
	ca     *authrefreshtest.CA
	client tls.Certificate // subject CN=courier test client
	other  tls.Certificate // from another CA
}

func startTLS(t *testing.T) tlsStandIn {
	t.Helper()
	ca := authrefreshtest.NewCA(t)
	dir := t.TempDir()
	certPEM, keyPEM := ca.Issue(t, "127.0.0.1", true)
	s := startOwn(t, Options{
		TLSCert: authrefreshtest.WriteFile(t, filepath.Join(dir, "server.pem"), certPEM),
		TLSKey:  authrefreshtest.WriteFile(t, filepath.Join(dir, "server-key.pem"), keyPEM),
		TLSCA:   authrefreshtest.WriteFile(t, filepath.Join(dir, "ca.pem"), ca.CertPEM),
	})
	pair := func(ca *authrefreshtest.CA) tls.Certificate {
		c, k := ca.Issue(t, "courier test client", false)
		p, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	return tlsStandIn{s: s, ca: ca, client: pair(ca), other: pair(authrefreshtest.NewCA(t))}
}

func (ts tlsStandIn) clientTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: ts.ca.Pool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// TestTLSX509: over TLS, a client certificate from the CA authenticates
// with MONGODB-X509 (its subject is the user) and may then watch; without
// authenticating, with another user name or a certificate of another CA,
// it may not.
func TestTLSX509(t *testing.T) {
	ts := startTLS(t)
	ctx := testCtx(t, time.Minute)
	if got := ts.s.URI(); got != "mongodb://"+ts.s.Addr()+"/?replicaSet=rs0&tls=true" {
		t.Fatalf("URI %s", got)
	}
	x509 := options.Credential{AuthMechanism: "MONGODB-X509"}
	client := connectV2(t, ts.s.URI(), options.Client().SetTLSConfig(ts.clientTLS(ts.client)).SetAuth(x509))
	coll := newColl(t, client)
	cs, err := coll.Watch(ctx, mongo.Pipeline{})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close(ctx)
	ids := insertN(t, coll, 3, plain)
	if got := readIDs(t, ctx, cs, 3); got[2] != ids[2] {
		t.Fatalf("got %v, want %v", got, ids)
	}

	named := x509
	named.Username = "CN=courier test client"
	if err := connectV2(t, ts.s.URI(), options.Client().SetTLSConfig(ts.clientTLS(ts.client)).SetAuth(named)).Ping(ctx, readpref.Primary()); err != nil {
		t.Fatalf("the certificate's own subject as user: %v", err)
	}

	short := options.Client().SetServerSelectionTimeout(2 * time.Second).SetConnectTimeout(2 * time.Second)
	err = connectV2(t, ts.s.URI(), options.Client().SetTLSConfig(ts.clientTLS(ts.other)).SetAuth(x509), short).Ping(ctx, readpref.Primary())
	if err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	t.Log("another CA:", err)

	noAuth := connectV2(t, ts.s.URI(), options.Client().SetTLSConfig(ts.clientTLS(ts.client)).SetMaxPoolSize(1))
	err = noAuth.Database("x").RunCommand(ctx, bson.D{{Key: "find", Value: "y"}}).Err()
	if !isCode(err, 13) {
		t.Fatalf("a command before authenticating: %v, want Unauthorized (13)", err)
	}
	// Driver v2 sends no user name (v1 does when given one): the command
	// as a driver that names the user sends it.
	auth := func(user string) error {
		return noAuth.Database("$external").RunCommand(ctx, bson.D{{Key: "authenticate", Value: 1},
			{Key: "mechanism", Value: "MONGODB-X509"}, {Key: "user", Value: user}}).Err()
	}
	if err := auth("CN=someone else"); !isCode(err, 18) {
		t.Fatalf("authenticate as a user that is not the certificate's subject: %v, want AuthenticationFailed (18)", err)
	}
	if err := auth("CN=courier test client"); err != nil {
		t.Fatalf("authenticate as the certificate's subject: %v", err)
	}
	if err := noAuth.Database("x").RunCommand(ctx, bson.D{{Key: "find", Value: "y"}}).Err(); err != nil {
		t.Fatalf("a command after authenticating: %v", err)
	}
}
