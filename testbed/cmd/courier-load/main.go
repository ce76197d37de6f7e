// Command courier-load runs one of the testbed's load generators (package
// testbed/loadgen) as a process of its own, so that several processes can
// write at once: structured log writers sharing files under structuredlog's
// locks, or several platform connectors inserting into one database.
//
// Every event written is printed on stdout as "w <unix nanoseconds> <id>",
// bad lines as "b <n>" (loadgen.Encoder; loadgen.Ledger reads it back). It
// runs until -count events are written, -duration has passed, or SIGINT or
// SIGTERM, and exits 0 unless writing failed.
//
//	courier-load logs -dir /tmp/logs -name app.log -rate 2000 -duration 5s -size-limit 65536 -bad 0.01
//	courier-load nvsentinel -dsn postgres://… -rate 1000 -batch 10 -count 10000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/courier-otel/courier/testbed/loadgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "courier-load:", err)
		os.Exit(1)
	}
}

const usage = "usage: courier-load logs|nvsentinel [flags] (-h for the flags of each)"

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("courier-load "+args[0], flag.ContinueOnError)
	duration := fs.Duration("duration", 0, "stop after this long; 0: at -count or a signal")
	count := fs.Int("count", 0, "events to write; 0: until -duration or a signal")
	rate := fs.Float64("rate", 0, "events per second; 0: as fast as possible")
	var gen func(context.Context, loadgen.Recorder) error
	switch args[0] {
	case "logs":
		var c loadgen.LogsConfig
		fs.StringVar(&c.Dir, "dir", "", "log folder (required)")
		fs.StringVar(&c.Name, "name", "load.log", "file name")
		fs.IntVar(&c.Files, "files", 1, "spread the events over this many files")
		fs.StringVar(&c.Source, "source", "load@courier", "event source")
		fs.IntVar(&c.EventSize, "size", 700, "event line length in bytes, about")
		fs.Int64Var(&c.SizeLimit, "size-limit", 0, "rotate a file at this size; 0: 50 MiB")
		fs.IntVar(&c.RetentionCount, "retention", 0, "files kept per name, the current one included; 0: 3")
		fs.Float64Var(&c.BadShare, "bad", 0, "share (0..1) of lines that are not events")
		fs.Uint64Var(&c.Seed, "seed", uint64(os.Getpid()), "seed of the bad lines")
		gen = func(ctx context.Context, rec loadgen.Recorder) error {
			c.Count, c.Rate = *count, *rate
			if c.Dir == "" {
				return errors.New("-dir is required")
			}
			return loadgen.WriteLogs(ctx, c, rec)
		}
	case "nvsentinel":
		var c loadgen.NVSentinelConfig
		fs.StringVar(&c.DSN, "dsn", "", "PostgreSQL connection string of a database with NVSentinel's schema (required)")
		fs.IntVar(&c.Batch, "batch", 1, "events per transaction")
		fs.StringVar(&c.Node, "node", "load-node", "node name prefix")
		gen = func(ctx context.Context, rec loadgen.Recorder) error {
			c.Count, c.Rate = *count, *rate
			if c.DSN == "" {
				return errors.New("-dsn is required")
			}
			return loadgen.InsertHealthEvents(ctx, c, rec)
		}
	default:
		return fmt.Errorf("unknown generator %q; %s", args[0], usage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	enc := loadgen.NewEncoder(stdout)
	err := gen(ctx, enc)
	if ferr := enc.Flush(); err == nil {
		err = ferr
	}
	return err
}
