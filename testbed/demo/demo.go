// Package demo runs Courier's real job on one machine with no outside
// service (`make run`, cmd/courier-demo). It writes Omniverse structured
// log files with a known mix of events (valid, schema-violating,
// unconsented, old, too large, torn), approved schemas as a zip and a
// privacy file; starts the reference CloudEvents sink and the token server
// in-process; where PostgreSQL is installed, fills NVSentinel's datastores:
// a throwaway PostgreSQL and MongoDB (courier-mongo, the replica-set
// stand-in, over TLS with an X.509 client certificate); runs the built
// otelcol-courier on all of them; and, once every event is accounted for,
// checks the collector's own metrics and the sinks' counts against what it
// wrote.
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/testbed/sink"
	"github.com/courier-otel/courier/testbed/tokenserver"
)

// configTemplate is the collector configuration the demo runs; with -keep
// it stays in the work directory as config.yaml.
//
//go:embed config.yaml.tmpl
var configTemplate string

// ErrMismatch is returned when the run ended but its numbers are not the
// expected ones.
var ErrMismatch = errors.New("the summary does not match what the demo wrote")

// Options configure Run.
type Options struct {
	// Collector is the otelcol-courier binary.
	Collector string
	// Keep keeps the work directory (logs, schemas, config, dead letters).
	Keep bool
	// Timeout bounds the wait for every event to be accounted for, from
	// the collector's start; 0: 2 minutes.
	Timeout time.Duration
	// NoPostgres leaves the NVSentinel pipelines out even where PostgreSQL
	// is installed (MongoDB's stand-in keeps its data in PostgreSQL too).
	NoPostgres bool
	// Mongo is courier-mongo (`make mongo`), for the NVSentinel pipeline
	// on MongoDB; empty: that pipeline is left out, saying so.
	Mongo string
	// Out receives the progress and the summary; nil: os.Stdout.
	Out io.Writer
	// Live refreshes the progress line in place (Out is a terminal);
	// otherwise a line is printed every few seconds.
	Live bool
}

const (
	clientID     = "nvsentinel-exporter"
	clientSecret = "demo-client-secret"
)

// Run runs the demo and returns its summary. The error is ErrMismatch
// when the numbers are wrong, the context's error when it was cancelled,
// or what kept the demo from running. Everything it started is stopped
// and (unless Keep) its work directory removed before it returns.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if _, err := os.Stat(o.Collector); err != nil {
		return nil, fmt.Errorf("collector binary: %w (build it with `make build`)", err)
	}
	work, err := os.MkdirTemp("", "courier-demo-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.Keep {
			_, _ = fmt.Fprintf(o.Out, "Kept %s (config.yaml, collector.log, logs/, dead-letter/).\n", work)
		} else {
			_ = os.RemoveAll(work)
		}
	}()
	d := &demo{o: o, work: work, omni: defaultOmniverseMix()}
	defer d.close()
	if err := d.prepare(ctx); err != nil {
		return nil, err
	}
	return d.run(ctx)
}

type demo struct {
	o    Options
	work string
	omni omniverseMix
	nv   []*nvPipeline // NVSentinel on PostgreSQL, on MongoDB: those that run

	tokens          *tokenserver.Server
	tokenURL        string
	omniSink        *sink.Sink
	anonymousAtSink atomic.Int64
	metricsURL      string
	healthURL       string
	collector       *collector
	closers         []func()
	omniURL         string
}

func (d *demo) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

func (d *demo) path(elem ...string) string {
	return filepath.Join(append([]string{d.work}, elem...)...)
}

// prepare writes the input, starts the sink, the token server and
// PostgreSQL, and writes the collector's config.
func (d *demo) prepare(ctx context.Context) error {
	d.tokens = tokenserver.New(tokenserver.Config{ClientID: clientID, ClientSecret: clientSecret})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d.tokens, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	d.closers = append(d.closers, func() { _ = srv.Close() })
	d.tokenURL = "http://" + ln.Addr().String()

	// The sinks accept only live tokens of the token server; the
	// Omniverse one also notes which events arrive anonymized.
	d.omniSink = sink.New(sink.Config{Path: "/v1/telemetry", Authorize: d.tokens.Valid,
		OnEvent: func(source, _ string, duplicate bool) {
			if !duplicate && source == "anonymous" {
				d.anonymousAtSink.Add(1)
			}
		}})
	omniSrv, err := sink.Serve(d.omniSink, "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() { _ = omniSrv.Close() })
	d.omniURL = omniSrv.URL

	for _, dir := range []string{"logs", "dead-letter"} {
		if err := os.Mkdir(d.path(dir), 0o755); err != nil {
			return err
		}
	}
	if err := writeSchemasZip(d.path("approved-schemas.zip")); err != nil {
		return fmt.Errorf("write schemas: %w", err)
	}
	if err := os.WriteFile(d.path("privacy.toml"), []byte(privacyTOML), 0o600); err != nil {
		return err
	}
	if err := writeOmniverseBacklog(d.path("logs"), d.omni, time.Now()); err != nil {
		return fmt.Errorf("write structured logs: %w", err)
	}

	if err := d.prepareNVSentinel(ctx); err != nil {
		return err
	}

	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	d.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0])
	d.healthURL = fmt.Sprintf("http://127.0.0.1:%d/", ports[1])
	vars := map[string]any{
		"SchemasZip":       d.path("approved-schemas.zip"),
		"TokenServerURL":   d.tokenURL,
		"ClientID":         clientID,
		"ClientSecretFile": d.path("client-secret"),
		"HealthPort":       ports[1],
		"MetricsPort":      ports[0],
		"LogDir":           d.path("logs"),
		"PrivacyFile":      d.path("privacy.toml"),
		"OmniverseSinkURL": d.omniURL,
		"DeadLetterDir":    d.path("dead-letter"),
		"NVSentinel":       len(d.nv) > 0,
		"Postgres":         nil,
		"Mongo":            nil,
	}
	for _, p := range d.nv {
		vars[p.store.kind()] = p.templateVars()
	}
	var cfg bytes.Buffer
	if err := template.Must(template.New("config").Option("missingkey=error").Parse(configTemplate)).Execute(&cfg, vars); err != nil {
		return err
	}
	return os.WriteFile(d.path("config.yaml"), cfg.Bytes(), 0o600)
}

// prepareNVSentinel starts NVSentinel's datastores where PostgreSQL's
// server binaries are installed (PostgreSQL itself, and MongoDB's stand-in
// over one), with a sink each, and inserts the history the backfills
// export.
func (d *demo) prepareNVSentinel(ctx context.Context) error {
	if d.o.NoPostgres {
		return nil
	}
	if err := pgtest.Available(); err != nil {
		_, _ = fmt.Fprintf(d.o.Out, "NVSentinel pipelines (PostgreSQL, MongoDB): skipped, PostgreSQL is not installed; to add both: %s (courier-mongo, MongoDB's stand-in, keeps its data in PostgreSQL too).\n", pgtest.InstallHint)
		return nil
	}
	if err := os.WriteFile(d.path("client-secret"), []byte(clientSecret+"\n"), 0o600); err != nil {
		return err
	}
	stores := []func(context.Context) (nvStore, error){
		startNVSentinelDB,
		func(ctx context.Context) (nvStore, error) { return startNVSentinelMongo(ctx, d.o.Mongo, d.work) },
	}
	for _, start := range stores {
		store, err := start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			_, _ = fmt.Fprintf(d.o.Out, "NVSentinel pipeline: skipped, %v\n", err)
			continue
		}
		d.closers = append(d.closers, store.Close)
		p := &nvPipeline{store: store, mix: defaultNVSentinelMix()}
		p.sink = sink.New(sink.Config{Path: "/v1/health-events", Authorize: d.tokens.Valid})
		srv, err := sink.Serve(p.sink, "127.0.0.1:0")
		if err != nil {
			return err
		}
		d.closers = append(d.closers, func() { _ = srv.Close() })
		p.sinkURL = srv.URL
		start := time.Now().Add(-time.Hour)
		if err := store.insert(ctx, p.mix.History, p.mix.NoAction, 0, func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) }, nil); err != nil {
			return fmt.Errorf("insert NVSentinel history into %s: %w", store.name(), err)
		}
		d.nv = append(d.nv, p)
	}
	return nil
}

func (d *demo) run(ctx context.Context) (*Summary, error) {
	out := d.o.Out
	_, _ = fmt.Fprintf(out, "Omniverse: %d events in %s, approved schemas in approved-schemas.zip, consent in privacy.toml\n",
		d.omni.lines(), d.path("logs"))
	_, _ = fmt.Fprintf(out, "  structured_log → schema_validation → old_events → cloudevents (jsonl, auth_token) → sink %s\n", d.omniURL)
	for _, p := range d.nv {
		_, _ = fmt.Fprintf(out, "NVSentinel on %s: %d health events (%d stored before the start, %d inserted live) in %s\n",
			p.store.name(), p.mix.total(), p.mix.History, p.mix.Live, p.store.describe())
		_, _ = fmt.Fprintf(out, "  %s → event_metadata → %s → %s (structured, oidc_client) → sink %s\n", p.receiver(), p.filter(), p.exporter(), p.sinkURL)
	}
	_, _ = fmt.Fprintf(out, "Collector: %s --config %s\n", d.o.Collector, d.path("config.yaml"))

	started := time.Now()
	c, err := startCollector(d.o.Collector, d.path("config.yaml"), d.path("collector.log"))
	if err != nil {
		return nil, err
	}
	d.collector = c
	d.closers = append(d.closers, func() { _ = c.stop(15 * time.Second) })
	deadline := started.Add(d.o.Timeout)
	if err := d.waitHealthy(ctx, deadline); err != nil {
		return nil, err
	}

	feedErr := d.feed(ctx)
	sum, err := d.watch(ctx, started, deadline, feedErr)
	if d.o.Live {
		_, _ = fmt.Fprintln(out)
	}
	if err != nil && ctx.Err() != nil {
		return sum, ctx.Err()
	}
	if err != nil {
		if sum != nil {
			_, _ = fmt.Fprintln(out)
			sum.Print(out)
		}
		d.printLogTail()
		return sum, err
	}
	if err := c.stop(15 * time.Second); err != nil {
		_, _ = fmt.Fprintf(out, "warning: the collector did not stop cleanly: %v\n", err)
	}
	_, _ = fmt.Fprintln(out)
	sum.Print(out)
	if m := sum.Mismatches(); len(m) > 0 {
		d.printLogTail()
		return sum, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(m, "; "))
	}
	return sum, nil
}

// liveFor is how long the applications and NVSentinel keep writing once
// the collector runs: long enough to watch the progress.
const liveFor = 3 * time.Second

// feed writes the live part of the input while the collector runs: the
// applications' log lines and, in small transactions, NVSentinel's health
// events (the last one poison: the sink refuses it). The channel gets the
// first error, or is closed when all is written; Run waits for the
// writers before it stops the datastores.
func (d *demo) feed(ctx context.Context) <-chan error {
	errc := make(chan error, 1+len(d.nv))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := writeOmniverseLive(ctx, d.path("logs"), d.omni, liveFor); err != nil {
			errc <- fmt.Errorf("write structured logs: %w", err)
		}
	}()
	for _, p := range d.nv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.insertLive(ctx, p); err != nil {
				errc <- fmt.Errorf("insert NVSentinel events into %s: %w", p.store.name(), err)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	d.closers = append(d.closers, func() { <-done })
	out := make(chan error, 1)
	go func() {
		<-done
		select {
		case err := <-errc:
			out <- err
		default:
		}
		close(out)
	}()
	return out
}

func (d *demo) insertLive(ctx context.Context, p *nvPipeline) error {
	m := p.mix
	// Live events go in once the backfill has read the history: inserted
	// earlier, the backfill would read them too (rightly: it reads what is
	// stored until it hands over to the changelog), blurring the numbers.
	client := &http.Client{Timeout: time.Second}
	for {
		if mt, err := scrape(ctx, client, d.metricsURL); err == nil && mt.sum("courier.datastore.backfill.events", "receiver", p.receiver()) >= int64(m.History) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	const batches = 6
	for b := range batches {
		noAction, poison := 0, 0
		if b < m.NoAction {
			noAction = 1
		}
		n := m.Live / batches
		if b == batches-1 {
			n, poison = m.Live-b*(m.Live/batches), m.Poison
		}
		err := p.store.insert(ctx, n, noAction, poison, nil, func(ids []string) error {
			if len(ids) == 0 {
				return nil
			}
			return p.sink.SetFaults(sink.Faults{RejectIDs: ids})
		})
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(liveFor / batches):
		}
	}
	return nil
}

// waitHealthy waits for health_check to answer 200: every pipeline has
// started.
func (d *demo) waitHealthy(ctx context.Context, deadline time.Time) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.healthURL, http.NoBody)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.collector.done:
			d.printLogTail()
			return fmt.Errorf("the collector exited during start-up: %v", d.collector.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.printLogTail()
			return errors.New("the collector did not become healthy in time")
		}
	}
}

// watch scrapes the collector's metrics and the sinks until every event is
// accounted for, showing progress. Once all are accounted for but some
// number is off, it looks once more a second later before giving up.
func (d *demo) watch(ctx context.Context, started, deadline time.Time, feedErr <-chan error) (*Summary, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var (
		last      *Summary
		lastShown time.Time
		settled   int
	)
	for {
		m, err := scrape(ctx, client, d.metricsURL)
		if err == nil {
			last = d.summary(m)
			now := time.Now()
			every := 5 * time.Second
			if d.o.Live {
				every = time.Second
			}
			done := last.Complete()
			if now.Sub(lastShown) >= every || done {
				d.progress(last, now.Sub(started))
				lastShown = now
			}
			if done {
				return last, nil
			}
			if last.Accounted() {
				if settled++; settled > 4 {
					return last, nil // Run reports the mismatch
				}
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-d.collector.done:
			return last, fmt.Errorf("the collector exited: %v", d.collector.err)
		case err, ok := <-feedErr:
			if ok {
				return last, err
			}
			feedErr = nil // all written
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			msg := "timed out after " + d.o.Timeout.String() + " with events not accounted for"
			if err != nil {
				msg += " (last scrape: " + err.Error() + ")"
			}
			return last, errors.New(msg)
		}
	}
}

func (d *demo) progress(s *Summary, elapsed time.Duration) {
	var read, wantRead, delivered, wantDelivered, dropped, wantDropped, dl, wantDL int64
	for _, sec := range s.Sections {
		for _, r := range sec.Rows {
			switch r.kind {
			case kindRead:
				read, wantRead = read+r.Got, wantRead+r.Want
			case kindDelivered:
				delivered, wantDelivered = delivered+r.Got, wantDelivered+r.Want
			case kindDropped:
				dropped, wantDropped = dropped+r.Got, wantDropped+r.Want
			case kindDeadLettered:
				dl, wantDL = dl+r.Got, wantDL+r.Want
			}
		}
	}
	line := fmt.Sprintf("[%3.0fs] read %d/%d · delivered %d/%d · dropped %d/%d · dead-lettered %d/%d",
		elapsed.Seconds(), read, wantRead, delivered, wantDelivered, dropped, wantDropped, dl, wantDL)
	if d.o.Live {
		_, _ = fmt.Fprintf(d.o.Out, "\r\033[K%s", line)
	} else {
		_, _ = fmt.Fprintln(d.o.Out, line)
	}
}

// printLogTail shows the end of the collector's log, which says why when
// something went wrong.
func (d *demo) printLogTail() {
	b, err := os.ReadFile(d.path("collector.log"))
	if err != nil || len(b) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	_, _ = fmt.Fprintf(d.o.Out, "--- last lines of the collector's log (%s):\n%s\n---\n", d.path("collector.log"), strings.Join(lines, "\n"))
}

// deadLetterLines counts the events in the dead-letter files of one
// exporter (files are named after its id, "/" as "_").
func (d *demo) deadLetterLines(exporterID string) int64 {
	files, _ := filepath.Glob(d.path("dead-letter", strings.ReplaceAll(exporterID, "/", "_")+"-*.jsonl"))
	var n int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			n += int64(bytes.Count(b, []byte{'\n'}))
		}
	}
	return n
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = ln.Close() }()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// collector is the otelcol-courier child process, in a process group of
// its own so that a terminal's Ctrl-C reaches only the demo, which then
// stops it with SIGTERM (and the whole group, should it have children).
type collector struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startCollector(bin, config, logPath string) (*collector, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(bin, "--config", config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the collector: %w", err)
	}
	c := &collector{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop sends SIGTERM to the collector's process group and waits; after
// timeout it kills the group.
func (c *collector) stop(timeout time.Duration) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	pgid := -c.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(timeout):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-c.done
		return fmt.Errorf("killed after %s without stopping on SIGTERM", timeout)
	}
}
