package cloudeventsexporter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	pool                          *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "courier test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips ...net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		return der, key
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return b
	}

	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM("ca.pem", "CERTIFICATE", caDER)
	srvDER, srvKey := issue(2, "sink", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, "courier", x509.ExtKeyUsageClientAuth)
	p.clientCert = writePEM("client.pem", "CERTIFICATE", cliDER)
	p.clientKey = writePEM("client-key.pem", "EC PRIVATE KEY", keyDER(cliKey))
	return p
}

// newMTLSSink is a sink that requires a client certificate of the test CA.
func newMTLSSink(t *testing.T, p *testPKI) *sink {
	s := &sink{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "courier" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		s.serve(w, r)
	}))
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
		MinVersion:   tls.VersionTLS12,
	}
	// Handshake failures are expected in one test; keep them out of the log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	s := newMTLSSink(t, p)

	cfg := testConfig(s.URL)
	cfg.ClientConfig.TLS.CAFile = p.caFile
	cfg.ClientConfig.TLS.CertFile = p.clientCert
	cfg.ClientConfig.TLS.KeyFile = p.clientKey
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a", "b"))
	assert.Equal(t, 2, s.count())
	assert.EqualValues(t, 2, exp.counter(t, "events.sent"))
}

// TestMutualTLSWithoutClientCert: the sink refuses the handshake; that is a
// network error (retried), never a silent success.
func TestMutualTLSWithoutClientCert(t *testing.T) {
	p := newTestPKI(t)
	s := newMTLSSink(t, p)

	cfg := testConfig(s.URL)
	cfg.ClientConfig.TLS.CAFile = p.caFile
	cfg.RetryConfig.MaxRetries = 1
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a"))
	assert.Zero(t, s.count())
	assert.EqualValues(t, 2, exp.counter(t, "requests", attribute.String("status_class", "network_error")))
	assert.EqualValues(t, 1, exp.counter(t, "events.dead_lettered", attribute.String("reason", "retries_exhausted")))
}
