package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Default bounds for a collector child process. They are generous because the
// machines running the tests are small and shared; a healthy collector needs
// well under a second for either.
const (
	DefaultStartTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
)

// RunCommand runs the collector binary with args to completion (for the
// `components` and `validate` subcommands) and returns its combined output.
// The process is killed if it has not finished within timeout.
func RunCommand(t testing.TB, binary string, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	setProcAttr(cmd)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s %v did not finish within %s: %w", binary, args, timeout, ctx.Err())
	}
	return string(out), err
}

// Collector is a collector process started by a test.
type Collector struct {
	t      testing.TB
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // the result of cmd.Wait, valid after done is closed
}

// StartCollector starts binary with args; env entries (KEY=value) are added
// to the test's environment. A cleanup stops the process (SIGTERM, then
// SIGKILL after DefaultShutdownTimeout) and, if the test failed, logs
// everything the collector wrote.
func StartCollector(t testing.TB, binary string, env []string, args ...string) *Collector {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	c := &Collector{t: t, cmd: cmd, output: out, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if !c.exited() {
			if err := c.Stop(DefaultShutdownTimeout); err != nil {
				t.Errorf("stop collector: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.Output())
		}
	})
	return c
}

// Pid is the collector's process id.
func (c *Collector) Pid() int { return c.cmd.Process.Pid }

// Output returns what the collector has written to stdout and stderr so far.
func (c *Collector) Output() string { return c.output.String() }

// Done is closed when the collector process has exited.
func (c *Collector) Done() <-chan struct{} { return c.done }

func (c *Collector) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop asks the collector to shut down with SIGTERM and waits at most
// timeout for it to exit. It returns nil only for a clean exit (status 0) in
// time; a collector that does not stop in time is killed.
func (c *Collector) Stop(timeout time.Duration) error {
	if !c.exited() {
		c.awaitSignalHandler(timeout)
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("send SIGTERM: %w", err)
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("collector exited uncleanly after SIGTERM: %w", c.err)
		}
		return nil
	case <-timer.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("collector did not exit within %s of SIGTERM; killed it", timeout)
	}
}

// readyLog is what the collector logs once its pipelines have started,
// just before it installs its SIGTERM handler (otelcol's Collector.Run).
const readyLog = "Everything is ready"

// awaitSignalHandler waits, at most timeout, until the collector handles
// SIGTERM: one that arrives before otelcol installs its handler, right
// after the pipelines start, kills the process outright instead of
// shutting it down.
func (c *Collector) awaitSignalHandler(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.Output(), readyLog) && !c.exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // from the log line to signal.Notify
}

// Kill ends the collector with SIGKILL, as a crash or an OOM kill would, and
// waits for it to exit.
func (c *Collector) Kill() {
	c.t.Helper()
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.t.Fatalf("kill collector: %v", err)
	}
	<-c.done
}

// WaitUntil polls cond every 50ms until it returns nil and fails the test if
// that has not happened within timeout, or as soon as the collector exits.
// The failure message carries cond's last error.
func (c *Collector) WaitUntil(timeout time.Duration, what string, cond func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not done within %s: %v", what, timeout, err)
		}
		select {
		case <-c.done:
			c.t.Fatalf("%s: collector exited (%v) while waiting; last check: %v", what, c.err, err)
		case <-ticker.C:
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of exec's
// stdout and stderr copiers and reads from the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
