package schemaregistryextension

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/courier-otel/courier/extension/schemaregistryextension/internal/metadata"
	"github.com/courier-otel/courier/internal/componenttel"
	"github.com/courier-otel/courier/internal/health"
)

// Load outcomes, the outcome attribute of courier.schema_registry.loads.
const (
	outcomeLoaded    = "loaded"    // a source loaded and its content is now served
	outcomeUnchanged = "unchanged" // a refresh found the content already served
	outcomeCache     = "cache"     // no source loaded; the cached package is served
	outcomeFailed    = "failed"    // nothing loaded; the current set (if any) stays
)

// maxSkipLogs bounds the per-schema log lines of one load.
const maxSkipLogs = 20

// registry is the schema_registry extension.
type registry struct {
	cfg    *Config
	tel    component.TelemetrySettings
	logger *zap.Logger
	status *health.Reporter

	current atomic.Pointer[schemaSet]
	fetch   *fetcher

	cancel context.CancelFunc
	wg     sync.WaitGroup

	loads   metric.Int64Counter
	skips   metric.Int64Counter
	schemas metric.Int64ObservableGauge
	events  metric.Int64ObservableGauge
	meter   metric.Meter
	gauges  metric.Registration
}

var (
	_ extension.Extension = (*registry)(nil)
	_ Registry            = (*registry)(nil)
)

func newRegistry(set extension.Settings, cfg *Config) (*registry, error) {
	r := &registry{cfg: cfg, tel: set.TelemetrySettings, logger: set.Logger, status: health.New(componenttel.Extension(set))}
	meter := componenttel.Extension(set).MeterProvider.Meter(metadata.ScopeName)
	var err error
	if r.loads, err = meter.Int64Counter("courier.schema_registry.loads",
		metric.WithUnit("{load}"),
		metric.WithDescription("Loads and refreshes of the schema package, by outcome (loaded, unchanged, cache, failed).")); err != nil {
		return nil, err
	}
	if r.skips, err = meter.Int64Counter("courier.schema_registry.skipped_schemas",
		metric.WithUnit("{schema}"),
		metric.WithDescription("Schema documents left out of a loaded package, by reason.")); err != nil {
		return nil, err
	}
	if r.schemas, err = meter.Int64ObservableGauge("courier.schema_registry.schemas",
		metric.WithUnit("{schema}"),
		metric.WithDescription("Approved schemas (name and version) currently served.")); err != nil {
		return nil, err
	}
	if r.events, err = meter.Int64ObservableGauge("courier.schema_registry.event_types",
		metric.WithUnit("{event_type}"),
		metric.WithDescription("Event types of all approved schemas currently served.")); err != nil {
		return nil, err
	}
	r.meter = meter
	return r, nil
}

// observe reports the size of the served set.
func (r *registry) observe(_ context.Context, o metric.Observer) error {
	if s := r.current.Load(); s != nil {
		o.ObserveInt64(r.schemas, int64(len(s.schemas)))
		o.ObserveInt64(r.events, int64(s.events))
	}
	return nil
}

// Lookup implements Registry.
func (r *registry) Lookup(dataschema, eventType string) (*EventSchema, LookupResult) {
	s := r.current.Load()
	if s == nil {
		return nil, UnknownSchema
	}
	return s.lookup(dataschema, eventType)
}

func (r *registry) limits() limits {
	return limits{maxDownload: r.cfg.MaxDownloadSize, maxExpanded: r.cfg.MaxExpandedSize, maxFiles: maxPackageFiles}
}

// Start loads the first source that works, or the cache, and starts the
// refresh loop. It fails only when neither a source nor the cache loads.
func (r *registry) Start(ctx context.Context, host component.Host) error {
	client, err := r.cfg.ClientConfig.ToClient(ctx, host.GetExtensions(), r.tel)
	if err != nil {
		return fmt.Errorf("schema_registry HTTP client: %w", err)
	}
	r.fetch = &fetcher{client: client, lim: r.limits()}
	r.status.Start(host)
	for _, s := range r.cfg.Sources {
		if strings.HasPrefix(strings.ToLower(s), "http://") {
			r.logger.Warn("schema source uses plain http: schemas could be altered in transit", zap.String("source", redact(s)))
		}
	}

	set, failures := r.load(ctx, nil)
	if set == nil {
		set, err = r.loadCache()
		if err != nil {
			failures = append(failures, err)
			r.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcomeFailed)))
			return fmt.Errorf("schema_registry: no schema package loaded: %s", joinErrors(failures))
		}
		r.logger.Warn("no schema source loaded; serving the cached package",
			zap.String("cached_from", set.source), zap.String("error", joinErrors(failures)))
		r.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcomeCache)))
		r.status.Recoverable(fmt.Errorf("no schema source loads; serving the cached package from %s: %s", redact(set.source), joinErrors(failures)))
	}
	r.current.Store(set)
	if r.gauges, err = r.meter.RegisterCallback(r.observe, r.schemas, r.events); err != nil {
		return err
	}

	if r.cfg.RefreshInterval > 0 {
		loopCtx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		r.wg.Add(1)
		go r.refreshLoop(loopCtx)
	}
	return nil
}

// Shutdown stops the refresh loop and waits for it.
func (r *registry) Shutdown(context.Context) error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	if r.fetch != nil && r.fetch.client != nil {
		r.fetch.client.CloseIdleConnections()
	}
	if r.gauges != nil {
		err := r.gauges.Unregister()
		r.gauges = nil
		return err
	}
	return nil
}

func (r *registry) refreshLoop(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.refresh(ctx)
	}
}

// refresh reloads the sources once; on failure the current set stays.
func (r *registry) refresh(ctx context.Context) {
	cur := r.current.Load()
	set, failures := r.load(ctx, cur)
	if ctx.Err() != nil {
		return // shutting down
	}
	if set == nil {
		r.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcomeFailed)))
		r.logger.Warn("schema refresh failed; keeping the current schemas", zap.String("error", joinErrors(failures)))
		r.status.Recoverable(fmt.Errorf("no schema source loads; keeping the current schemas: %s", joinErrors(failures)))
		return
	}
	r.status.OK()
	if set != cur {
		r.current.Store(set)
	}
}

// load tries the sources in order and returns the set of the first that
// yields at least one schema, or nil and why each source failed. When the
// content equals cur's, cur itself is returned and nothing is recompiled.
func (r *registry) load(ctx context.Context, cur *schemaSet) (*schemaSet, []error) {
	var failures []error
	for i, src := range r.cfg.Sources {
		name := redact(src)
		docs, err := r.fetch.fetch(ctx, src)
		if err != nil {
			failures = append(failures, fmt.Errorf("sources[%d] %s: %w", i, name, err))
			continue
		}
		if cur != nil && digest(docs) == cur.digest {
			r.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcomeUnchanged)))
			r.logger.Debug("schema package unchanged", zap.String("source", name))
			return cur, nil
		}
		set, err := r.build(ctx, docs, name)
		if err != nil {
			failures = append(failures, fmt.Errorf("sources[%d] %s: %w", i, name, err))
			continue
		}
		r.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcomeLoaded)))
		r.logger.Info("loaded approved schemas", zap.String("source", name),
			zap.Int("schemas", len(set.schemas)), zap.Int("event_types", set.events))
		if r.cfg.CacheDir != "" {
			if err := saveCache(r.cfg.CacheDir, docs, name); err != nil {
				r.logger.Warn("could not update the schema cache", zap.String("cache_dir", r.cfg.CacheDir), zap.Error(err))
			}
		}
		return set, nil
	}
	return nil, failures
}

// build compiles a package; one with no usable schema is an error.
func (r *registry) build(ctx context.Context, docs []document, source string) (*schemaSet, error) {
	set, skips := buildSet(docs)
	set.source = source
	for i, s := range skips {
		r.skips.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", s.reason)))
		if i < maxSkipLogs {
			r.logger.Warn("schema skipped", zap.String("source", source), zap.String("file", s.name),
				zap.String("reason", s.reason), zap.Error(s.err))
		}
	}
	if len(skips) > maxSkipLogs {
		r.logger.Warn("more schemas skipped", zap.String("source", source), zap.Int("not_logged", len(skips)-maxSkipLogs))
	}
	if len(set.schemas) == 0 {
		return nil, fmt.Errorf("no usable schema among %d JSON files (%d skipped)", len(docs), len(skips))
	}
	return set, nil
}

// loadCache builds the set of the cached package.
func (r *registry) loadCache() (*schemaSet, error) {
	if r.cfg.CacheDir == "" {
		return nil, errors.New("no cache_dir configured")
	}
	docs, source, err := loadCache(r.cfg.CacheDir, r.limits())
	if err != nil {
		return nil, fmt.Errorf("cache_dir %s: %w", r.cfg.CacheDir, err)
	}
	set, err := r.build(context.Background(), docs, "cache of "+source)
	if err != nil {
		return nil, fmt.Errorf("cache_dir %s: %w", r.cfg.CacheDir, err)
	}
	return set, nil
}

// joinErrors puts the reasons of several failed sources on one line.
func joinErrors(errs []error) string {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}
