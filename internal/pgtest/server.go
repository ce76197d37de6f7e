// Package pgtest runs a throwaway PostgreSQL server for tests, from the
// system's PostgreSQL binaries, and knows NVSentinel's schema and the exact
// shape of the rows its platform connector inserts.
//
// The server lives in a fresh directory under os.TempDir: initdb'd with
// trust authentication, listening on a random loopback port and on a unix
// socket inside that directory, with fsync off (a test server never needs
// to survive an OS crash). The postmaster is a child of the test binary
// (not daemonised by pg_ctl), so on Linux it is killed with the test binary
// even when a test panics or times out. As root (CI containers) initdb and
// postgres refuse to run, so both run as the "postgres" system user.
//
// A test that cannot get its server fails and says what to install: the
// tests of the datastore receiver are integration tests and must not pass
// silently without a database.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint is the advice in every "no PostgreSQL here" failure.
const InstallHint = "install PostgreSQL's server binaries: `apt-get install postgresql` (or `make deps`)"

// BinariesGlob is where Debian and Ubuntu put the server binaries, one
// directory per major version.
const BinariesGlob = "/usr/lib/postgresql/*/bin"

const readyTimeout = 60 * time.Second

// Server is one running (or stopped) throwaway PostgreSQL server.
type Server struct {
	bin     string // directory holding initdb, postgres, pg_ctl
	dir     string // everything: data, socket, log
	port    int
	cred    *syscall.Credential // nil unless running as root
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	removed bool
	tls     bool         // server.crt and server.key are in dir
	dbs     atomic.Int64 // databases made by NewDB, for unique names
}

// Start initialises and starts a server, and stops and removes it when the
// test ends. It fails the test when PostgreSQL is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartTLS is Start with TLS on (ssl=on) with the given PEM certificate and
// key; clients may still connect without TLS.
func StartTLS(tb testing.TB, certPEM, keyPEM []byte) *Server {
	tb.Helper()
	s, err := newServer(certPEM, keyPEM)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New is Start for TestMain, where there is no testing.TB: the caller must
// Close the server.
func New() (*Server, error) { return newServer(nil, nil) }

func newServer(certPEM, keyPEM []byte) (*Server, error) {
	bin, err := findBinaries(BinariesGlob)
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	// Not t.TempDir: its parent is private to root, and the server may run
	// as another user.
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, fmt.Errorf("create server directory: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.Close()
			return nil, fmt.Errorf("give %s to the postgres user: %w", s.dir, err)
		}
	}
	if s.port, err = freePort(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.initdb(); err != nil {
		s.Close()
		return nil, err
	}
	if certPEM != nil {
		if err := s.writeTLSFiles(certPEM, keyPEM); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Port is the loopback TCP port the server listens on; it stays the same
// across Stop and Restart.
func (s *Server) Port() int { return s.port }

// DSN is a connection string for database db as the superuser "postgres",
// over loopback TCP without TLS.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// CreateDB creates an empty database and returns its DSN.
func (s *Server) CreateDB(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.createDB(ctx, name); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return s.DSN(name)
}

func (s *Server) createDB(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", name, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// CreateNVSentinelDB is NewDB for programs without a testing.TB (the
// demo): it creates database name with NVSentinel's schema and returns its
// DSN.
func (s *Server) CreateNVSentinelDB(ctx context.Context, name string) (string, error) {
	if err := s.createDB(ctx, name); err != nil {
		return "", err
	}
	dsn := s.DSN(name)
	return dsn, applySchema(ctx, dsn)
}

// NewDB creates a database named after the test (and numbered: a
// benchmark function runs several times), with NVSentinel's schema, and
// returns its DSN.
func (s *Server) NewDB(tb testing.TB) string {
	tb.Helper()
	dsn := s.CreateDB(tb, dbName(fmt.Sprintf("%s_%d", tb.Name(), s.dbs.Add(1))))
	ApplySchema(tb, dsn)
	return dsn
}

// dbName turns a test name into a database name: lower case, [a-z0-9_],
// at most 63 bytes (a long name keeps its start and a hash of the whole).
func dbName(test string) string {
	b := make([]byte, 0, len(test))
	for i := 0; i < len(test); i++ {
		c := test[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, '_')
		}
	}
	if len(b) > 63 {
		h := fnv.New32a()
		h.Write([]byte(test))
		return fmt.Sprintf("%s_%08x", b[:54], h.Sum32())
	}
	return string(b)
}

// Stop shuts the server down the hard way (immediate mode: no checkpoint,
// connections cut), keeping its data for Restart.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.stop(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

// Restart starts a stopped server again on the same port with the same
// data; called on a running server it stops it first.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.stop(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	if err := s.start(); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

// Close stops the server and removes its directory. It is safe to call
// more than once.
func (s *Server) Close() {
	_ = s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.removed && s.dir != "" {
		_ = os.RemoveAll(s.dir)
		s.removed = true
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// writeTLSFiles writes the server's certificate and key where postgres can
// read them: the key must belong to the server's user, mode 0600.
func (s *Server) writeTLSFiles(certPEM, keyPEM []byte) error {
	for name, data := range map[string][]byte{"server.crt": certPEM, "server.key": keyPEM} {
		path := filepath.Join(s.dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if s.cred != nil {
			if err := os.Chown(path, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				return fmt.Errorf("give %s to the postgres user: %w", name, err)
			}
		}
	}
	s.tls = true
	return nil
}

func (s *Server) initdb() error {
	cmd := s.command("initdb", "-D", s.dataDir(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := s.command("postgres", "-D", s.dataDir(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(s.port),
		"-c", "unix_socket_directories="+s.dir,
		// fsync off: a test server never survives an OS crash. Commits
		// stay synchronous, so a committed row survives Stop (a crash).
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
	)
	if s.tls {
		cmd.Args = append(cmd.Args, "-c", "ssl=on",
			"-c", "ssl_cert_file="+filepath.Join(s.dir, "server.crt"),
			"-c", "ssl_key_file="+filepath.Join(s.dir, "server.key"))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := waitReady(s.port, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%w\n%s", err, tail(logPath, 2000))
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	// SIGQUIT is PostgreSQL's immediate shutdown (what pg_ctl stop -m
	// immediate sends): backends exit at once, recovery runs on restart.
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
	return nil
}

// command runs one of the server binaries, as the postgres user when the
// test runs as root, and dying with the test binary where the OS allows.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	setProcAttr(cmd, s.cred)
	return cmd
}

// Available returns nil when PostgreSQL's server binaries are installed,
// otherwise an error ending in InstallHint.
func Available() error {
	_, err := findBinaries(BinariesGlob)
	return err
}

// findBinaries picks the newest installed major version.
func findBinaries(glob string) (string, error) {
	dirs, _ := filepath.Glob(glob)
	var usable []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			usable = append(usable, d)
		}
	}
	if len(usable) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries in %s: %s", glob, InstallHint)
	}
	version := func(d string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return v
	}
	sort.Slice(usable, func(i, j int) bool { return version(usable[i]) > version(usable[j]) })
	return usable[0], nil
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: no postgres user to run it as (%v); %s", err, InstallHint)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user id %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres group id %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until the server accepts a connection, the postmaster
// exits, or readyTimeout passes.
func waitReady(port int, exited <-chan struct{}) error {
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("postgres exited during start-up")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres not ready after %s: %w", readyTimeout, last)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(bytes.ToValidUTF8(b, nil)))
}
