// Command courier-mongo is a MongoDB-wire-compatible server for tests that
// behaves as a one-member replica set with change streams (package
// standin; README.md says how it differs from a real replica set).
//
//	courier-mongo [-addr 127.0.0.1:0] [-postgres DSN] [-tls-cert F -tls-key F [-tls-ca F]] [-replset rs0] [-- command args...]
//
// Its first line of output, once it accepts connections, is the
// mongodb:// URI to use. With a command after --, it runs the command with
// COURIER_TEST_MONGODB_URI set to that URI (and COURIER_TEST_FERRETDB_URI
// to FerretDB's own address, a server without change streams), and exits
// with the command's status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/courier-otel/courier/testbed/mongo/standin"
)

// Environment of a command run with --.
const (
	EnvURI         = "COURIER_TEST_MONGODB_URI"
	EnvFerretDBURI = "COURIER_TEST_FERRETDB_URI"
)

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "courier-mongo:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	fs := flag.NewFlagSet("courier-mongo", flag.ContinueOnError)
	var o standin.Options
	verbose := fs.Bool("v", false, "log FerretDB's and the proxy's messages to stderr")
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "address to listen on")
	fs.StringVar(&o.Postgres, "postgres", "", "PostgreSQL DSN for the data and the change history (a superuser); default: a throwaway PostgreSQL")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "server certificate (PEM); turns TLS on")
	fs.StringVar(&o.TLSKey, "tls-key", "", "server key (PEM)")
	fs.StringVar(&o.TLSCA, "tls-ca", "", "CA (PEM) that signs client certificates: clients must present one and authenticate with MONGODB-X509")
	fs.StringVar(&o.ReplSet, "replset", "rs0", "replica set name")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	cmd := fs.Args()
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if *verbose {
		o.Logs = os.Stderr
	} else {
		o.Logs = io.Discard
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := standin.Start(ctx, o)
	if err != nil {
		return 1, err
	}
	defer s.Close()
	if len(cmd) == 0 {
		fmt.Println(s.URI())
		<-ctx.Done()
		return 0, nil
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Env = append(os.Environ(), EnvURI+"="+s.URI(), EnvFerretDBURI+"="+s.BackendURI())
	err = c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}
