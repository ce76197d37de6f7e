// Command courier-sink runs the testbed's reference CloudEvents sink
// (package testbed/sink) as a process of its own, so that a scenario can
// point a built collector at it, steer its faults through the control API
// (/_sink/faults, /_sink/stats) and read the counts at the end.
//
// The first line on stdout is the delivery URL (listening address and
// path), for the caller to read. It serves until SIGINT or SIGTERM, then
// writes the final stats as JSON on stderr and exits 0.
//
//	courier-sink -addr 127.0.0.1:0 -path /events -token s3cret -faults '{"unavailable_share":0.1}'
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/courier-otel/courier/testbed/sink"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "courier-sink:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("courier-sink", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listening address (port 0: any free port)")
	path := fs.String("path", "/", "path deliveries are accepted on")
	token := fs.String("token", "", "expected bearer token; empty: no check")
	seed := fs.Uint64("seed", 1, "seed of the fault shares")
	faults := fs.String("faults", "", `initial faults as the JSON of POST /_sink/faults, e.g. {"latency":"10ms"}`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path != "" && !strings.HasPrefix(*path, "/") {
		return fmt.Errorf("-path %q does not start with /", *path)
	}
	cfg := sink.Config{Path: *path, Token: *token, Seed: *seed}
	if *faults != "" {
		if err := json.Unmarshal([]byte(*faults), &cfg.Faults); err != nil {
			return fmt.Errorf("-faults: %w", err)
		}
		if err := cfg.Faults.Validate(); err != nil {
			return fmt.Errorf("-faults: %w", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s := sink.New(cfg)
	sv, err := sink.Serve(s, *addr)
	if err != nil {
		return err
	}
	fmt.Println(sv.URL + *path)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(os.Stderr, "courier-sink: shutdown:", err)
	}
	return json.NewEncoder(os.Stderr).Encode(s.Stats())
}
