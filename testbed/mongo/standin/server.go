// Package standin is courier-mongo: a MongoDB-wire-compatible server for
// tests that behaves as a one-member replica set with change streams.
// FerretDB (embedded, over PostgreSQL) stores the documents and answers the
// ordinary commands; a proxy in front of it, the public address, answers
// what FerretDB lacks: the replica set's hello, sessions, MONGODB-X509
// authentication over TLS, and change streams read from a changelog that
// PostgreSQL triggers fill in commit order (package changelog).
package standin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/testbed/mongo/changelog"
	"github.com/courier-otel/courier/testbed/mongo/changestream"
	"github.com/courier-otel/courier/testbed/mongo/sqlfind"
)

// Options configure a stand-in. Zero values are the defaults.
type Options struct {
	// Addr is the public address; default 127.0.0.1:0.
	Addr string
	// Postgres is the DSN of the database that holds the documents and the
	// changelog (its user must be a superuser). Empty: a throwaway
	// PostgreSQL (internal/pgtest) that Close removes.
	Postgres string
	// TLSCert and TLSKey (PEM files) turn TLS on; with TLSCA, clients
	// must present a certificate it signed and authenticate with
	// MONGODB-X509 before any other command.
	TLSCert, TLSKey, TLSCA string
	// ReplSet is the replica set's name; default rs0.
	ReplSet string
	// Logs receives FerretDB's and the proxy's logs; default discarded.
	Logs io.Writer
}

// Server is a running stand-in.
type Server struct {
	opts    Options
	logger  *slog.Logger
	pg      *pgtest.Server // nil when Options.Postgres named one
	dsn     string
	log     *changelog.Log
	streams *changestream.Streams
	repl    *replacements
	finder  *sqlfind.Finder
	// sqlFinds counts the finds answered by SQL instead of FerretDB.
	sqlFinds atomic.Int64

	ln       net.Listener
	tls      *tls.Config
	me       string // host:port, as hello names this member
	backend  string // FerretDB's address
	stopFerr context.CancelFunc
	ferrDone chan struct{}

	faults  faults
	connIDs atomic.Int32
	reqIDs  atomic.Int32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	done  chan struct{}
}

// Start starts a stand-in; its URI is ready for clients when it returns.
func Start(ctx context.Context, o Options) (s *Server, err error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ReplSet == "" {
		o.ReplSet = "rs0"
	}
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	s = &Server{opts: o, logger: slog.New(slog.NewTextHandler(o.Logs, nil)), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.tls, err = tlsConfig(o); err != nil {
		return nil, err
	}
	s.dsn = o.Postgres
	if s.dsn == "" {
		if s.pg, err = pgtest.New(); err != nil {
			return nil, err
		}
		if s.dsn, err = createDB(ctx, s.pg, "courier_mongo"); err != nil {
			return nil, err
		}
	}
	if s.log, err = changelog.Open(ctx, s.dsn); err != nil {
		return nil, err
	}
	s.repl = newReplacements()
	if s.streams, err = changestream.New(ctx, s.log, s.repl.take); err != nil {
		return nil, err
	}
	if err = s.startFerretDB(); err != nil {
		return nil, err
	}
	if s.finder, err = sqlfind.Open(ctx, s.dsn); err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", o.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	s.me = advertised(s.ln.Addr().(*net.TCPAddr))
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func tlsConfig(o Options) (*tls.Config, error) {
	if o.TLSCert == "" && o.TLSKey == "" {
		if o.TLSCA != "" {
			return nil, errors.New("-tls-ca needs -tls-cert and -tls-key")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.TLSCA != "" {
		pem, err := os.ReadFile(o.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("read TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA %s: no certificate", o.TLSCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

func (s *Server) startFerretDB() error {
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:       "postgresql",
		PostgreSQLURL: s.dsn,
		Logger:        s.logger.With("from", "ferretdb"),
	})
	if err != nil {
		return fmt.Errorf("start FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopFerr, s.ferrDone = cancel, make(chan struct{})
	go func() {
		defer close(s.ferrDone)
		_ = f.Run(ctx)
	}()
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		return fmt.Errorf("FerretDB's URI: %w", err)
	}
	s.backend = u.Host
	// Run listens asynchronously: wait until it accepts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.backend, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("FerretDB does not accept connections on %s: %w", s.backend, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// advertised is the address hello gives as this member's: the listener's,
// with 127.0.0.1 for an unspecified IP.
func advertised(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}

// Addr is the public host:port.
func (s *Server) Addr() string { return s.me }

// URI is the connection string to use (without client certificate options).
func (s *Server) URI() string {
	u := "mongodb://" + s.me + "/?replicaSet=" + url.QueryEscape(s.opts.ReplSet)
	if s.tls != nil {
		u += "&tls=true"
	}
	return u
}

// BackendURI is FerretDB's own address: a server without change streams.
func (s *Server) BackendURI() string { return "mongodb://" + s.backend + "/" }

// DSN is the PostgreSQL database the stand-in keeps its data in.
func (s *Server) DSN() string { return s.dsn }

// TrimHistory drops the change history so far: resume tokens from before
// now get ChangeStreamHistoryLost (286), as after an oplog roll-over.
func (s *Server) TrimHistory(ctx context.Context) error { return s.streams.Trim(ctx) }

// SQLFinds returns how many finds were answered by SQL (package sqlfind)
// rather than by FerretDB.
func (s *Server) SQLFinds() int64 { return s.sqlFinds.Load() }

// SetFault arms a fault for the next n change stream commands (see Fault).
func (s *Server) SetFault(f Fault, n int) { s.faults.set(f, n) }

// Close stops accepting, drops every connection, and stops FerretDB and
// the throwaway PostgreSQL (the data of Options.Postgres stays).
func (s *Server) Close() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.stopFerr != nil {
		s.stopFerr()
		select {
		case <-s.ferrDone:
		case <-time.After(10 * time.Second):
		}
	}
	if s.finder != nil {
		s.finder.Close()
	}
	if s.log != nil {
		s.log.Close()
	}
	if s.pg != nil {
		s.pg.Close()
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			defer func() {
				if p := recover(); p != nil {
					s.logger.Error("panic serving a connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				}
			}()
			s.serve(c)
		}()
	}
}

func createDB(ctx context.Context, pg *pgtest.Server, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return pg.DSN(name), nil
}
