package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// The chart's dashboard and alerts, relative to this package.
const (
	chartDir      = "../../distributions/otelcol-courier/helm/courier"
	dashboardFile = chartDir + "/dashboards/courier.json"
	rulesFile     = chartDir + "/alerts/courier-rules.yaml"
)

// scrapeLabels are added by Prometheus from the scrape target (Kubernetes
// service discovery), not by the binary.
var scrapeLabels = []string{"namespace", "pod"}

// query is one PromQL expression of the dashboard or the alerts and the
// labels its legend or annotations print.
type query struct {
	where  string // panel or alert
	expr   string
	legend []string
}

var (
	metricName   = regexp.MustCompile(`\b(courier_[a-z0-9_]+|otelcol_[a-z0-9_]+)\b`)
	groupLabels  = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matchLabels  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	legendLabels = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	alertLabels  = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	placeholder  = regexp.MustCompile(`__[A-Z_]+__`)
)

// dashboardQueries reads every target of the dashboard.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr   string `json:"expr"`
				Legend string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var qs []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			q := query{where: "panel " + p.Title, expr: tg.Expr}
			for _, m := range legendLabels.FindAllStringSubmatch(tg.Legend, -1) {
				q.legend = append(q.legend, m[1])
			}
			qs = append(qs, q)
		}
	}
	return qs
}

// ruleQueries reads every alert expression.
func ruleQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var qs []query
	for _, r := range f.Rules {
		q := query{where: "alert " + r.Alert, expr: r.Expr}
		for _, a := range r.Annotations {
			for _, m := range alertLabels.FindAllStringSubmatch(a, -1) {
				q.legend = append(q.legend, m[1])
			}
		}
		qs = append(qs, q)
	}
	return qs
}

// names and labels of q: the metrics it reads and every label it groups
// by, matches on or prints.
func (q query) names() []string {
	var out []string
	for _, m := range metricName.FindAllString(q.expr, -1) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func (q query) labels() []string {
	expr := placeholder.ReplaceAllString(q.expr, "x")
	var out []string
	add := func(l string) {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	for _, m := range groupLabels.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			add(l)
		}
	}
	for _, m := range matchLabels.FindAllStringSubmatch(expr, -1) {
		add(m[1])
	}
	for _, l := range q.legend {
		add(l)
	}
	return out
}

// exposition is a scrape: the label names seen on each metric name.
type exposition map[string]map[string]bool

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)

// scrape reads the Prometheus text exposition at url.
func scrape(url string) (exposition, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	exp := exposition{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("unparsable exposition line %q", line)
		}
		if exp[m[1]] == nil {
			exp[m[1]] = map[string]bool{}
		}
		for _, l := range labelPair.FindAllStringSubmatch(m[2], -1) {
			exp[m[1]][l[1]] = true
		}
	}
	return exp, sc.Err()
}

// check returns what q uses that exp lacks.
func (exp exposition) check(q query) []string {
	var missing []string
	names := q.names()
	if len(names) == 0 {
		return []string{"no metric named"}
	}
	for _, n := range names {
		if exp[n] == nil {
			missing = append(missing, "metric "+n)
		}
	}
	for _, l := range q.labels() {
		if slices.Contains(scrapeLabels, l) {
			continue
		}
		found := false
		for _, n := range names {
			if exp[n][l] {
				found = true
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("label %s on %v", l, names))
		}
	}
	return missing
}

// nvFlakySink answers 400 to an event whose data says "poison" (it is
// dead-lettered), 503 to every fifth request (retried) and 202 otherwise.
func nvFlakySink(t *testing.T) *httptest.Server {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), "poison"):
			http.Error(w, "refused", http.StatusBadRequest)
		case n.Add(1)%5 == 0:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// TestDashboardAndAlertsMatchMetrics runs every Courier component in the
// built binary under load, with good and bad input, scrapes its Prometheus
// endpoint as the chart configures it, and checks that every metric and
// label the chart's dashboard queries and alert expressions use is
// exported: a query naming a metric or label the binary does not export
// fails. It also checks that every courier_* series names its component.
func TestDashboardAndAlertsMatchMetrics(t *testing.T) {
	queries := append(dashboardQueries(t), ruleQueries(t)...)
	if len(queries) < 20 {
		t.Fatalf("only %d queries read from the dashboard and the alerts", len(queries))
	}

	// NVSentinel side: PostgreSQL, the token server, a flaky sink.
	pg := pgtest.Start(t)
	e := newNVEnvOn(t, pg, pg.NewDB(t))
	nvSink := nvFlakySink(t)

	// Omniverse side: structured log files with valid, invalid, old and
	// torn events.
	logDir, linesSink := t.TempDir(), newLinesSink(t)
	var stats fixtureEvent
	for _, line := range schemaregistrytest.EventLines() {
		var f fixtureEvent
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type == "com.nvidia.isaac.sim.simulation.stats" {
			stats = f
		}
	}
	writeEvents := func(name string, at time.Time, n int, data json.RawMessage) {
		t.Helper()
		w, err := structuredlog.Open(structuredlog.Options{Dir: logDir, Name: name, Source: "jdoe@isaac.sim",
			Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = w.Close() }()
		for range n {
			if _, err := w.WriteRaw(stats.Type, stats.DataSchema, data); err != nil {
				t.Fatal(err)
			}
		}
	}

	e.tokens.SetLifetime(5 * time.Second)
	ports := testutil.FreePorts(t, 3)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), []string{
		"COURIER_E2E_LOG_DIR=" + logDir,
		"COURIER_E2E_SCHEMA_DIR=" + schemaregistrytest.WriteSchemas(t),
		"COURIER_E2E_LINES_SINK_URL=" + linesSink.URL,
		"COURIER_E2E_OMNIVERSE_TOKEN_URL=" + strings.TrimSuffix(e.tokens.url, "/token") + "/token/omniverse",
		"COURIER_E2E_PG_DSN=" + e.dsn,
		"COURIER_E2E_SINK_URL=" + nvSink.URL,
		"COURIER_E2E_TOKEN_URL=" + e.tokens.url,
		"COURIER_E2E_SECRET_FILE=" + e.secretFile,
		"COURIER_E2E_DEAD_LETTER_DIR=" + e.deadLetter,
		fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", ports[0]),
		fmt.Sprintf("COURIER_E2E_METRICS_PORT=%d", ports[1]),
		fmt.Sprintf("COURIER_E2E_HEALTH_GRPC_PORT=%d", ports[2]),
	}, "--config=testdata/monitoring.yaml")
	c.WaitUntil(testutil.DefaultStartTimeout, "collector live", func() error {
		return httpGet200(fmt.Sprintf("http://127.0.0.1:%d/", ports[0]))
	})

	// Load: health events at 200/s and Omniverse events, for the whole
	// check; bad input of every kind once.
	l := startLoader(t, e, 200)
	defer l.finish(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	badConn := e.connect(t)
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			writeEvents(fmt.Sprintf("load-%d.log", i%4), time.Now(), 200, stats.Data)
			if i%10 == 0 { // some bad input all along, for the picture's drop panels
				writeEvents(fmt.Sprintf("invalid-%d.log", i), time.Now(), 5, json.RawMessage(`{"fps":-1}`))
				writeEvents(fmt.Sprintf("old-%d.log", i), time.Now().AddDate(0, 0, -200), 5, stats.Data)
				_, _ = pgtest.InsertHealthEvent(ctx, badConn, pgtest.SampleEvent(fmt.Sprintf("poison-%d", i)))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	writeEvents("invalid.log", time.Now(), 3, json.RawMessage(`{"fps":-1}`)) // schema_validation drops
	writeEvents("old.log", time.Now().AddDate(0, 0, -200), 3, stats.Data)    // old_events drops
	writeEvents("torn.log", time.Now(), 1, stats.Data)
	torn, err := os.OpenFile(filepath.Join(logDir, "torn.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := torn.WriteString("this is not json\n"); err != nil { // structured_log rejects it
		t.Fatal(err)
	}
	_ = torn.Close()
	// The token endpoint fails for a while: both token extensions count
	// failed refreshes (tokens live 5 s, so they refresh meanwhile).
	go func() {
		time.Sleep(2 * time.Second)
		e.tokens.SetFailing(true)
		time.Sleep(8 * time.Second)
		e.tokens.SetFailing(false)
	}()
	poison := pgtest.SampleEvent("poison-node") // the sink refuses it: dead-lettered
	if _, err := pgtest.InsertHealthEvent(ctx, e.conn, poison); err != nil {
		t.Fatal(err)
	}
	filtered := pgtest.SampleEvent("healthy-node")
	filtered.RecommendedAction = 0 // NONE: cel_filter drops it
	if _, err := pgtest.InsertHealthEvent(ctx, e.conn, filtered); err != nil {
		t.Fatal(err)
	}
	// A row whose document holds no health event: the datastore receiver
	// rejects it.
	if _, err := e.conn.Exec(ctx, `INSERT INTO health_events (node_name, event_type, severity, recommended_action,
		user_pods_eviction_message, document) VALUES ('bad-node', 'x', 'x', 'NONE', '', '{"createdAt":"2026-12-07T00:00:00Z"}')`); err != nil {
		t.Fatalf("insert a bad document: %v", err)
	}

	var last exposition
	var problems []string
	c.WaitUntil(2*deliveryTimeout, "every metric and label of the dashboard and the alerts exported", func() error {
		exp, err := scrape(metricsURL)
		if err != nil {
			return err
		}
		last, problems = exp, nil
		for _, q := range queries {
			if missing := exp.check(q); len(missing) > 0 {
				problems = append(problems, fmt.Sprintf("%s: %s\n    %s", q.where, strings.Join(missing, ", "), q.expr))
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("%d queries use what the binary does not export:\n%s", len(problems), strings.Join(problems, "\n"))
		}
		return nil
	})

	// Every courier_* series names its component, as the collector's own
	// otelcol_* series do.
	var names []string
	for n := range last {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !strings.HasPrefix(n, "courier_") {
			continue
		}
		labels := last[n]
		if !labels["receiver"] && !labels["processor"] && !labels["exporter"] && !labels["extension"] {
			t.Errorf("%s has no receiver, processor, exporter or extension label: %v", n, labels)
		}
	}
	t.Logf("%d queries checked against %d exported metric names", len(queries), len(names))
	if out := os.Getenv("COURIER_DASHBOARD_SAMPLES"); out != "" {
		recordSamples(t, metricsURL, out)
	}
	cancel()
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// sampleSet is one scrape for testbed/dashboardpng: every sample's name,
// labels and value at a time.
type sampleSet struct {
	Time    time.Time `json:"time"`
	Samples []struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
		Value  float64           `json:"value"`
	} `json:"samples"`
}

// recordSamples scrapes url every second for a minute of the running load
// and writes the scrapes as JSON to path: the input of testbed/dashboardpng,
// which plots the dashboard's panels from them (the chart README's picture).
func recordSamples(t *testing.T, url, path string) {
	t.Helper()
	var sets []sampleSet
	for range 60 {
		resp, err := httpClient.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		set := sampleSet{Time: time.Now()}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			m := sampleLine.FindStringSubmatch(line)
			fields := strings.Fields(line)
			if m == nil || len(fields) < 2 {
				continue
			}
			var v float64
			if _, err := fmt.Sscan(fields[len(fields)-1], &v); err != nil {
				continue
			}
			labels := map[string]string{}
			for _, l := range labelValue.FindAllStringSubmatch(m[2], -1) {
				labels[l[1]] = l[2]
			}
			set.Samples = append(set.Samples, struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
				Value  float64           `json:"value"`
			}{m[1], labels, v})
		}
		_ = resp.Body.Close()
		sets = append(sets, set)
		time.Sleep(time.Second)
	}
	b, err := json.Marshal(sets)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d scrapes written to %s", len(sets), path)
}

var labelValue = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
