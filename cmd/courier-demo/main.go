// Command courier-demo runs Courier's real job locally with no outside
// service: `make run` builds otelcol-courier and runs this. See
// testbed/demo for what it writes, starts and checks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/courier-otel/courier/testbed/demo"
	"github.com/courier-otel/courier/testbed/mongoproc"
)

func main() {
	defaultBinary := os.Getenv("COURIER_BINARY")
	if defaultBinary == "" {
		defaultBinary = filepath.Join("distributions", "otelcol-courier", "otelcol-courier")
	}
	collector := flag.String("collector", defaultBinary, "the otelcol-courier binary (default $COURIER_BINARY)")
	keep := flag.Bool("keep", false, "keep the work directory: config, logs, schemas, dead letters, the collector's log")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up when the events are not all accounted for after this long")
	noPostgres := flag.Bool("no-postgres", false, "leave the NVSentinel pipelines (PostgreSQL, MongoDB) out even where PostgreSQL is installed")
	defaultMongo := os.Getenv(mongoproc.EnvBinary)
	if defaultMongo == "" {
		defaultMongo = filepath.Join(".tools", "courier-mongo")
	}
	mongoBin := flag.String("mongo", defaultMongo, "courier-mongo, the MongoDB stand-in (`make mongo`), for the NVSentinel pipeline on MongoDB (default $"+mongoproc.EnvBinary+")")
	flag.Parse()

	bin, err := filepath.Abs(*collector)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mongo := ""
	if _, err := os.Stat(*mongoBin); err == nil {
		mongo, _ = filepath.Abs(*mongoBin)
	}
	// Ctrl-C cancels the run; Run then stops the collector and PostgreSQL
	// and removes its files before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fi, _ := os.Stdout.Stat()
	_, err = demo.Run(ctx, demo.Options{
		Collector:  bin,
		Keep:       *keep,
		Timeout:    *timeout,
		NoPostgres: *noPostgres,
		Mongo:      mongo,
		Live:       fi != nil && fi.Mode()&os.ModeCharDevice != 0,
	})
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "\ninterrupted: the collector and the datastores are stopped, the demo's files removed")
		os.Exit(130)
	default:
		fmt.Fprintf(os.Stderr, "courier-demo: %v\n", err)
		os.Exit(1)
	}
}
