// Command ferretdb runs a command next to a throwaway FerretDB: a MongoDB
// wire-protocol server (FerretDB v1, embedded) over a throwaway PostgreSQL
// started with internal/pgtest. The command finds the server in
// COURIER_TEST_FERRETDB_URI:
//
//	go -C testbed/ferretdb build -o /tmp/ferretdb . &&
//	/tmp/ferretdb -- go test ./receiver/datastorereceiver/internal/mongo
//
// (built from its own directory: the root module does not contain it).
// Without a command it prints the URI and serves until interrupted.
//
// FerretDB serves what the datastore receiver's MongoDB source does besides
// the change stream: the backfill's sorted, keyset-paginated finds, the
// token and lease documents; its answer to $changeStream is NotImplemented,
// which is a server without change streams. It lives in a module of its
// own so that its dependencies stay out of the distribution's module graph.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/jackc/pgx/v5"

	"github.com/courier-otel/courier/internal/pgtest"
)

// EnvURI names the FerretDB server for the tests.
const EnvURI = "COURIER_TEST_FERRETDB_URI"

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	code, err := run(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	uri, shutdown, err := Start(ctx, io.Discard)
	if err != nil {
		return 1, err
	}
	defer shutdown()
	if len(args) == 0 {
		fmt.Println(uri)
		<-ctx.Done()
		return 0, nil
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), EnvURI+"="+uri)
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// Start starts PostgreSQL and FerretDB over it, and returns FerretDB's
// URI and a function that stops both. FerretDB logs to logs.
func Start(ctx context.Context, logs io.Writer) (uri string, shutdown func(), err error) {
	pg, err := pgtest.New()
	if err != nil {
		return "", nil, err
	}
	dsn, err := createDB(ctx, pg, "ferretdb")
	if err != nil {
		pg.Close()
		return "", nil, err
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:       "postgresql",
		PostgreSQLURL: dsn,
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		pg.Close()
		return "", nil, fmt.Errorf("start FerretDB: %w", err)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(fctx)
	}()
	return f.MongoDBURI(), func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		pg.Close()
	}, nil
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
