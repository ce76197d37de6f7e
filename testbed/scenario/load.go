package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/testbed/loadgen"
)

// LoadBinaryEnv names the environment variable that points the scenarios
// at a built courier-load; unset, the first scenario that needs it builds
// it with `go build`.
const LoadBinaryEnv = "COURIER_LOAD_BINARY"

// Load is a load generator running in the background; its events go to
// Env.Written.
type Load struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Wait waits for the load to end by itself (its count or duration) and
// fails the test if it failed.
func (l *Load) Wait(t testing.TB) {
	t.Helper()
	<-l.done
	if l.err != nil {
		t.Fatalf("load: %v", l.err)
	}
}

// Stop ends the load now and waits for it.
func (l *Load) Stop(t testing.TB) {
	t.Helper()
	l.cancel()
	l.Wait(t)
}

// start runs gen in the background for at most d (0: until it ends or
// Stop).
func (e *Env) start(d time.Duration, gen func(context.Context) error) *Load {
	var ctx context.Context
	var cancel context.CancelFunc
	if d > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), d)
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	l := &Load{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer cancel()
		l.err = gen(ctx)
	}()
	e.loads = append(e.loads, l)
	return l
}

// stopLoads ends every load still running, at the end of the test.
func (e *Env) stopLoads() {
	for _, l := range e.loads {
		l.cancel()
		<-l.done
	}
}

// Logs writes structured logs into LogDir (cfg.Dir is set), in this
// process, for at most d.
func (e *Env) Logs(cfg loadgen.LogsConfig, d time.Duration) *Load {
	cfg.Dir = e.LogDir
	return e.start(d, func(ctx context.Context) error { return loadgen.WriteLogs(ctx, cfg, &e.Written) })
}

// NVSentinel inserts health events into the scenario's database (cfg.DSN
// is set), in this process, for at most d.
func (e *Env) NVSentinel(cfg loadgen.NVSentinelConfig, d time.Duration) *Load {
	cfg.DSN = e.DSN
	return e.start(d, func(ctx context.Context) error { return loadgen.InsertHealthEvents(ctx, cfg, &e.Written) })
}

// NVSentinelMongo inserts health events into the scenario's MongoDB
// (cfg.Collection is set), in this process, for at most d.
func (e *Env) NVSentinelMongo(cfg loadgen.MongoConfig, d time.Duration) *Load {
	cfg.Collection = e.HealthEvents
	return e.start(d, func(ctx context.Context) error { return loadgen.InsertMongoHealthEvents(ctx, cfg, &e.Written) })
}

// LogsProcesses runs n courier-load processes writing structured logs
// into LogDir, each with cfg (so with the same file names they share the
// files under structuredlog's locks), for at most d each; stopping the
// load sends them SIGTERM. Their records are read from their output when
// they end.
func (e *Env) LogsProcesses(n int, cfg loadgen.LogsConfig, d time.Duration) *Load {
	e.t.Helper()
	bin := loadBinary(e.t)
	args := []string{"logs", "-dir", e.LogDir,
		"-count", strconv.Itoa(cfg.Count), "-rate", strconv.FormatFloat(cfg.Rate, 'g', -1, 64),
		"-files", strconv.Itoa(max(1, cfg.Files)), "-size", strconv.Itoa(cfg.EventSize),
		"-size-limit", strconv.FormatInt(cfg.SizeLimit, 10), "-retention", strconv.Itoa(cfg.RetentionCount),
		"-bad", strconv.FormatFloat(cfg.BadShare, 'g', -1, 64)}
	if cfg.Name != "" {
		args = append(args, "-name", cfg.Name)
	}
	if cfg.Source != "" {
		args = append(args, "-source", cfg.Source)
	}
	if d > 0 {
		args = append(args, "-duration", d.String())
	}
	return e.start(0, func(ctx context.Context) error {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			cmd := exec.CommandContext(ctx, bin, append(args, "-seed", strconv.Itoa(i+1))...)
			cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Start(); err != nil {
				errs[i] = err
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := cmd.Wait()
				// Records of a process stopped by SIGTERM are complete too.
				if _, rerr := e.Written.ReadFrom(&out); rerr != nil && err == nil {
					err = rerr
				}
				if err != nil && ctx.Err() == nil {
					errs[i] = fmt.Errorf("courier-load %d: %w: %s", i, err, stderr.String())
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
}

// loadBinary returns $COURIER_LOAD_BINARY, or builds courier-load into a
// temporary directory of the test.
func loadBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(LoadBinaryEnv); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "courier-load")
	cmd := exec.Command("go", "build", "-o", bin, testutil.ModulePath+"/testbed/cmd/courier-load")
	cmd.Dir = testutil.ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build courier-load: %v\n%s", err, out)
	}
	return bin
}
