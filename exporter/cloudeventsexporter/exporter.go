package cloudeventsexporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/arc"
	"github.com/courier-otel/courier/extension/schemaregistryextension"
	"github.com/courier-otel/courier/internal/authrefresh"
	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/internal/deadletter"
	"github.com/courier-otel/courier/internal/health"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// ceExporter is the exporter behind exporterhelper: exporterhelper owns the
// sending queue (memory or persistent), its batching and the lifecycle; this
// type turns one queued plog.Logs into requests and owns everything after
// that: retries, failover, dead letters.
type ceExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger
	tel    *telemetry

	endpoints []string // request URLs in failover order
	// bodyLimits are the body sizes learned from 413 answers, by endpoint
	// (0: none): the batching encodings pack at most this much.
	bodyLimits []atomic.Int64
	urls       []*url.URL // the same, parsed
	redacted   []string   // the same without credentials, for logs and dead letters
	active     atomic.Int64

	client      *http.Client
	invalidator authrefresh.Invalidator
	// authenticated: requests go through an authenticator, which may hold
	// them before they reach the sink (see attempt).
	authenticated bool
	userAgent     []string // header values, shared by every request
	contentType   []string // nil in binary mode

	// The encoding.
	format  cloudevent.Format  // batching encodings
	framing cloudevent.Framing // batching encodings

	workers    *workers     // one-event-per-request encodings
	limiter    *arc.Limiter // their adaptive limit; nil in fixed mode and for the batching encodings
	sizeHint   atomic.Int64 // capacity for the next event's buffer
	batchBufs  sync.Pool    // *batchBuf
	dl         *deadletter.Writer
	warnLimit  *rate.Limiter
	suppressed atomic.Int64
	status     *health.Reporter
	health     *sinkHealth
	// placeholders holds the receiver IDs warnPlaceholders warned about.
	placeholders sync.Map

	stopCh   chan struct{}
	stopOnce sync.Once
	// drainFailed is set when an attempt made after stop failed: the sink
	// is not taking data, so the remaining requests skip their attempt.
	drainFailed atomic.Bool
	// keepOnShutdown: return the interruption error so the data stays with
	// whoever holds it (the persistent queue, or the caller when there is no
	// queue or it waits for the result: the receiver then reads the events
	// again after the restart); otherwise (a memory queue that does not
	// wait, whose content shutdown loses) the interrupted events are
	// dead-lettered with reason "shutdown".
	keepOnShutdown bool
}

func newExporter(cfg *Config, set exporter.Settings) (*ceExporter, error) {
	e := &ceExporter{
		cfg:       cfg,
		set:       set,
		logger:    set.Logger,
		endpoints: cfg.endpointURLs(),
		warnLimit: rate.NewLimiter(rate.Every(time.Second), 10),
		stopCh:    make(chan struct{}),
		userAgent: []string{fmt.Sprintf("%s/%s (%s/%s)", set.BuildInfo.Description, set.BuildInfo.Version, runtime.GOOS, runtime.GOARCH)},
	}
	e.status = health.New(componenttel.Exporter(set))
	e.health = newSinkHealth(e.status, cfg.Health.FailingAfter)
	e.bodyLimits = make([]atomic.Int64, len(e.endpoints))
	// The batching encodings keep at most num_consumers bodies in flight,
	// each one large: the limit is for the one-event-per-request ones.
	if cfg.Encoding.perEvent() && cfg.ConcurrencyMode == ConcurrencyAdaptive {
		a := cfg.AdaptiveConcurrency
		e.limiter = arc.NewLimiter(arc.Config{
			Max: max(cfg.Concurrency, 1), Initial: a.InitialLimit,
			RTTTolerance: a.RTTTolerance, DecreaseRatio: a.DecreaseRatio, MinWindow: arcMinWindow,
		})
	}
	var admit func(context.Context) (arc.Ticket, error)
	if e.limiter != nil {
		admit = e.limiter.Acquire
	}
	e.workers = newWorkers(max(cfg.Concurrency, 1), workerIdle, e.runJob, admit)
	for _, ep := range e.endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", redact(ep), err)
		}
		e.urls = append(e.urls, u)
		e.redacted = append(e.redacted, redact(ep))
	}
	q := cfg.QueueConfig.Get()
	e.keepOnShutdown = q == nil || q.StorageID != nil || q.WaitForResult

	contentType := cfg.ContentType
	if contentType == "" {
		contentType = cloudevent.ContentTypeJSON
	}
	switch cfg.Encoding {
	case EncodingStructured:
		contentType = cloudevent.ContentTypeStructured
	case EncodingBinary:
		contentType = "" // AppendBinary sets it from datacontenttype
	case EncodingBatch:
		contentType = cloudevent.ContentTypeBatch
		e.format, e.framing = cloudevent.Structured{}, cloudevent.FramingArray
	case EncodingJSONL:
		e.format, e.framing = cloudevent.Structured{}, cloudevent.FramingLines
	case EncodingJSONLStringify:
		e.format, e.framing = cloudevent.Stringified{}, cloudevent.FramingLines
	case EncodingJSONList:
		e.format, e.framing = cloudevent.Structured{}, cloudevent.FramingArray
	case EncodingNVDF:
		e.format, e.framing = cloudevent.NVDF{}, cloudevent.FramingLines
	default:
		return nil, fmt.Errorf("encoding: unknown encoding %q", cfg.Encoding)
	}
	if contentType != "" {
		e.contentType = []string{contentType}
	}

	var err error
	if e.tel, err = newTelemetry(componenttel.Exporter(set), e.endpoints); err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	if cfg.Encoding.perEvent() {
		if err := e.tel.observeConcurrency(e.concurrencyStats, e.limiter != nil); err != nil {
			return nil, fmt.Errorf("create telemetry: %w", err)
		}
	}
	return e, nil
}

// start builds the HTTP client (deferred to here because the authenticator
// is an extension of the host) and opens the dead-letter directory.
func (e *ceExporter) start(ctx context.Context, host component.Host) error {
	e.status.Start(host)
	// Without a tracer and meter provider confighttp leaves out its otelhttp
	// wrapper: its per-request span, attribute sets and body wrapper cost a
	// quarter of the CPU of a one-event request on a fast sink, and the
	// exporter's own metrics (requests, request.duration by endpoint and
	// status class) say what its http.client.* metrics would.
	ts := e.set.TelemetrySettings
	ts.TracerProvider, ts.MeterProvider = nil, nil
	client, err := e.clientConfig().ToClient(ctx, host.GetExtensions(), ts)
	if err != nil {
		return err
	}
	client.CheckRedirect = checkRedirect
	e.client = client
	if id := e.cfg.SchemaRegistry; id != nil {
		reg, err := schemaregistryextension.FromHost(host, *id)
		if err != nil {
			return fmt.Errorf("schema_registry: %w", err)
		}
		e.format = cloudevent.NVDF{Types: schemaregistryextension.NVDFTypes(reg)}
	}
	if auth := e.cfg.ClientConfig.Auth.Get(); auth != nil {
		e.authenticated = true
		e.invalidator, _ = authrefresh.InvalidatorFor(host, auth.AuthenticatorID)
	}
	if dir := e.cfg.DeadLetter.Directory; dir != "" {
		e.dl, err = deadletter.Open(deadletter.Config{
			Directory: dir,
			Prefix:    strings.NewReplacer("/", "_", "\\", "_").Replace(e.set.ID.String()),
			MaxSize:   e.cfg.DeadLetter.MaxSize,
			OnFull:    e.cfg.DeadLetter.OnFull,
		})
		if err != nil {
			return fmt.Errorf("dead_letter::directory: %w", err)
		}
	}
	return nil
}

// checkRedirect follows only redirects that keep the POST and its body (307,
// 308). net/http turns a POST into a bodiless GET on 301/302/303; that GET
// being answered 200 would lose the event silently, so such an answer is
// returned as it is, and counts as a permanent failure.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if req.Method != http.MethodPost {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// clientConfig is the confighttp config with the keep-alive pool sized for
// the requests this exporter keeps in flight: max_idle_conns_per_host 0
// (the default) follows concurrency, so connections are reused rather than
// closed after each request (Go's own default keeps 2 per host).
func (e *ceExporter) clientConfig() *confighttp.ClientConfig {
	c := e.cfg.ClientConfig
	perHost := e.cfg.Concurrency
	if q := e.cfg.QueueConfig.Get(); q != nil {
		perHost = max(perHost, q.NumConsumers)
	}
	// No keepalive section means keep-alives are off: nothing to size.
	if ka := c.Keepalive.Get(); ka != nil && ka.MaxIdleConnsPerHost == 0 {
		ka.MaxIdleConnsPerHost = perHost
	}
	return &c
}

// stop interrupts the waits between retries; exporterhelper's Shutdown, which runs
// next, then drains the queue.
func (e *ceExporter) stop() {
	e.stopOnce.Do(func() { close(e.stopCh) })
}

func (e *ceExporter) stopped() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}

// shutdown runs after exporterhelper has drained the queue.
func (e *ceExporter) shutdown(context.Context) error {
	e.stop()
	e.workers.stop()
	e.tel.close()
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	if e.dl != nil {
		return e.dl.Close()
	}
	return nil
}

// eventRef is one log record with the resource and scope it came with.
type eventRef struct {
	lr plog.LogRecord
	rl plog.ResourceLogs
	sl plog.ScopeLogs
}

func collect(ld plog.Logs) []eventRef {
	refs := make([]eventRef, 0, ld.LogRecordCount())
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				refs = append(refs, eventRef{lr: sl.LogRecords().At(k), rl: rl, sl: sl})
			}
		}
	}
	return refs
}

// pushLogs delivers every event of ld, or dead-letters it. It returns nil
// unless shutdown (or the caller's context) interrupted delivery; then the
// error keeps the whole request with the persistent queue or the caller.
func (e *ceExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if e.client == nil {
		return errors.New("cloudevents exporter is not started")
	}
	e.warnPlaceholders(ld)
	refs := collect(ld)
	p := &push{}
	if e.cfg.Encoding.perEvent() {
		e.pushEach(ctx, refs, p)
	} else {
		e.pushBatches(ctx, refs, p)
	}
	if p.interrupted != nil && e.keepOnShutdown {
		return p.interrupted
	}
	e.deadLetter(ctx, p.dead)
	return nil
}

// push collects the outcome of one pushLogs.
type push struct {
	mu          sync.Mutex
	dead        []deadEvent
	interrupted error
}

type deadEvent struct {
	ref      eventRef
	reason   string
	status   int
	endpoint string
	err      string
}

func (p *push) fail(ref eventRef, reason string, status int, endpoint, msg string) {
	p.mu.Lock()
	p.dead = append(p.dead, deadEvent{ref: ref, reason: reason, status: status, endpoint: endpoint, err: msg})
	p.mu.Unlock()
}

// interrupt records that refs were not delivered because of shutdown (or
// the caller's context); status and endpoint are of the last attempt.
func (p *push) interrupt(err error, status int, endpoint string, refs ...eventRef) {
	p.mu.Lock()
	if p.interrupted == nil {
		p.interrupted = err
	}
	for _, ref := range refs {
		p.dead = append(p.dead, deadEvent{ref: ref, reason: reasonShutdown, status: status, endpoint: endpoint,
			err: "not delivered before shutdown: " + err.Error()})
	}
	p.mu.Unlock()
}

func (p *push) isInterrupted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interrupted != nil
}

// apply1 records a delivery outcome for one event.
func (p *push) apply1(out outcome, ref eventRef) {
	switch out.kind {
	case failed:
		p.fail(ref, out.reason, out.status, out.endpoint, out.err.Error())
	case interrupted:
		p.interrupt(out.err, out.status, out.endpoint, ref)
	}
}

// apply records a delivery outcome for refs.
func (p *push) apply(out outcome, refs []eventRef) {
	switch out.kind {
	case delivered:
	case failed:
		for _, ref := range refs {
			p.fail(ref, out.reason, out.status, out.endpoint, out.err.Error())
		}
	case interrupted:
		p.interrupt(out.err, out.status, out.endpoint, refs...)
	}
}

// warn logs at most a few messages per second; the ones it drops are
// counted in the next one.
func (e *ceExporter) warn(msg string, fields ...zap.Field) {
	if !e.warnLimit.Allow() {
		e.suppressed.Add(1)
		return
	}
	if n := e.suppressed.Swap(0); n > 0 {
		fields = append(fields, zap.Int64("suppressed_messages", n))
	}
	e.logger.Warn(msg, fields...)
}

// concurrencyStats is what the concurrency gauges show.
func (e *ceExporter) concurrencyStats() arc.Stats {
	if e.limiter != nil {
		return e.limiter.Stats()
	}
	return arc.Stats{Limit: max(e.cfg.Concurrency, 1)}
}
