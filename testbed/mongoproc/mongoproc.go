// Package mongoproc runs courier-mongo (testbed/mongo), the MongoDB
// replica-set stand-in, as a process of its own, set up as NVSentinel's
// in-cluster MongoDB is: TLS, and clients authenticated with an X.509
// certificate signed by the server's CA. The demo (`make run`) and the
// fault scenarios use it; it can be killed and restarted on the same data
// and address.
package mongoproc

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/courier-otel/courier/internal/authrefresh/authrefreshtest"
)

// EnvBinary names the courier-mongo binary; `make test` and `make run`
// set it (`make mongo` builds it into .tools/courier-mongo).
const EnvBinary = "COURIER_MONGO_BINARY"

// ClientSubject is the common name of the client certificate: the user
// the stand-in authenticates (MONGODB-X509).
const ClientSubject = "nvsentinel event-exporter"

// startTimeout bounds the wait for the stand-in's URI: it starts FerretDB
// and, without Options.Postgres, a PostgreSQL of its own.
const startTimeout = 90 * time.Second

// Options configure Start.
type Options struct {
	// Binary is courier-mongo.
	Binary string
	// Dir receives the certificates and keys (it must exist).
	Dir string
	// Postgres is the DSN of the database keeping the documents and the
	// change history (a superuser's); empty: the stand-in starts a
	// throwaway PostgreSQL of its own, lost when it stops.
	Postgres string
	// Addr is the address to listen on; empty: a free loopback port, kept
	// across Restart.
	Addr string
	// Stderr receives the stand-in's messages; nil: discarded.
	Stderr io.Writer
}

// Server is a running courier-mongo.
type Server struct {
	o Options
	// URI is the mongodb:// URI it printed (with tls=true).
	URI string
	// CAFile signs the server's and the client's certificates;
	// CertFile and KeyFile are the client's (ClientSubject).
	CAFile, CertFile, KeyFile string
	serverCert, serverKey     string
	cmd                       *exec.Cmd
	exited                    chan struct{}
}

// Start writes a CA, a server and a client certificate into o.Dir and
// starts courier-mongo with them, returning once it printed its URI.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Binary == "" {
		return nil, errors.New("mongoproc: no courier-mongo binary (build it with `make mongo`)")
	}
	if _, err := os.Stat(o.Binary); err != nil {
		return nil, fmt.Errorf("courier-mongo: %w (build it with `make mongo`)", err)
	}
	if o.Addr == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		o.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	s := &Server{o: o}
	if err := s.writeCerts(); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) writeCerts() error {
	ca, err := authrefreshtest.GenerateCA()
	if err != nil {
		return err
	}
	srvCert, srvKey, err := ca.IssuePEM("127.0.0.1", true)
	if err != nil {
		return err
	}
	cliCert, cliKey, err := ca.IssuePEM(ClientSubject, false)
	if err != nil {
		return err
	}
	files := []struct {
		dst  *string
		name string
		data []byte
	}{
		{&s.CAFile, "mongo-ca.pem", ca.CertPEM},
		{&s.serverCert, "mongo-server.pem", srvCert},
		{&s.serverKey, "mongo-server-key.pem", srvKey},
		{&s.CertFile, "mongo-client.pem", cliCert},
		{&s.KeyFile, "mongo-client-key.pem", cliKey},
	}
	for _, f := range files {
		*f.dst = filepath.Join(s.o.Dir, f.name)
		if err := os.WriteFile(*f.dst, f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// start runs the process and waits for its URI.
func (s *Server) start(ctx context.Context) error {
	args := []string{"-addr", s.o.Addr, "-tls-cert", s.serverCert, "-tls-key", s.serverKey, "-tls-ca", s.CAFile}
	if s.o.Postgres != "" {
		args = append(args, "-postgres", s.o.Postgres)
	}
	cmd := exec.Command(s.o.Binary, args...)
	// Its own process group, so that a Ctrl-C meant for the demo reaches
	// it only through Close; the kernel kills it should we die first.
	cmd.SysProcAttr = procAttr()
	cmd.Stderr = s.o.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start courier-mongo: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r) // never let a full pipe block it
		_ = cmd.Wait()
		close(s.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case line := <-lines:
		s.URI = strings.TrimSpace(line)
		if !strings.HasPrefix(s.URI, "mongodb://") {
			s.Kill()
			return fmt.Errorf("courier-mongo printed no URI (%q); run it by hand to see why", s.URI)
		}
		return nil
	case <-ctx.Done():
		s.Kill()
		return ctx.Err()
	case <-timer.C:
		s.Kill()
		return fmt.Errorf("courier-mongo printed no URI in %s", startTimeout)
	}
}

// Kill ends the stand-in with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart kills the stand-in and starts it again on the same address and
// data (Options.Postgres must be set: the stand-in's own PostgreSQL goes
// with it).
func (s *Server) Restart(ctx context.Context) error {
	if s.o.Postgres == "" {
		return errors.New("mongoproc: Restart needs Options.Postgres")
	}
	s.Kill()
	return s.start(ctx)
}

// Close stops the stand-in with SIGTERM (it then stops its PostgreSQL),
// or SIGKILL after 15 s.
func (s *Server) Close() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		s.cmd = nil
	case <-time.After(15 * time.Second):
		s.Kill()
	}
}

// Client connects to the stand-in as NVSentinel's modules do: TLS with
// the client certificate, MONGODB-X509.
func (s *Server) Client() (*mongo.Client, error) {
	pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return mongo.Connect(options.Client().ApplyURI(s.URI).
		SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}).
		SetAuth(options.Credential{AuthMechanism: "MONGODB-X509", AuthSource: "$external"}).
		SetServerSelectionTimeout(30 * time.Second))
}

// Binary returns $COURIER_MONGO_BINARY, or builds courier-mongo from
// moduleRoot/testbed/mongo into dir.
func Binary(moduleRoot, dir string) (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "courier-mongo")
	cmd := exec.Command("go", "-C", filepath.Join(moduleRoot, "testbed", "mongo"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building courier-mongo: %w\n%s", err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
