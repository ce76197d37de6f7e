package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/courier-otel/courier/internal/testutil"
)

// deliveryTimeout bounds how long a log record may take from the collector's
// input to the sink; batch and poll intervals in the test config are 100ms.
const deliveryTimeout = 30 * time.Second

// otlpLogsSink is a real OTLP/HTTP logs endpoint on loopback. It decodes each
// request as an ExportLogsServiceRequest and keeps the log records' bodies.
type otlpLogsSink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	errs   []string
}

func newOTLPLogsSink(t *testing.T) *otlpLogsSink {
	s := &otlpLogsSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *otlpLogsSink) handle(w http.ResponseWriter, r *http.Request) {
	req, err := decodeLogsRequest(r)
	if err != nil {
		s.mu.Lock()
		s.errs = append(s.errs, err.Error())
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	forEachLogRecord(req.Logs(), func(lr plog.LogRecord) {
		s.bodies = append(s.bodies, lr.Body().AsString())
	})
	s.mu.Unlock()

	resp, err := plogotlp.NewExportResponse().MarshalProto()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func decodeLogsRequest(r *http.Request) (plogotlp.ExportRequest, error) {
	req := plogotlp.NewExportRequest()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/logs" {
		return req, fmt.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		return req, fmt.Errorf("unexpected Content-Type %q", ct)
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" { // otlp_http compresses by default
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return req, fmt.Errorf("gzip body: %w", err)
		}
		defer func() { _ = zr.Close() }()
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return req, fmt.Errorf("read body: %w", err)
	}
	if err := req.UnmarshalProto(raw); err != nil {
		return req, fmt.Errorf("decode ExportLogsServiceRequest: %w", err)
	}
	return req, nil
}

func forEachLogRecord(ld plog.Logs, fn func(plog.LogRecord)) {
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				fn(lr)
			}
		}
	}
}

// received returns nil once a received record's body equals body, and
// otherwise what the sink has seen so far.
func (s *otlpLogsSink) received(body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bodies {
		if b == body {
			return nil
		}
	}
	return fmt.Errorf("record %q not received; bodies so far: %q; rejected requests: %q", body, s.bodies, s.errs)
}

// postLogs sends ld to the collector's OTLP/HTTP receiver.
func postLogs(url string, ld plog.Logs) error {
	payload, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		return err
	}
	resp, err := httpClient.Post(url, "application/x-protobuf", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, msg)
	}
	return nil
}

func TestLogsFlowToOTLPHTTPSink(t *testing.T) {
	sink := newOTLPLogsSink(t)
	nonce := fmt.Sprintf("%d", time.Now().UnixNano())
	fileLine := "file_log e2e line " + nonce
	c := startAllComponents(t, sink.URL, func(c *allComponents) {
		// Written before start; file_log starts at the beginning of the file.
		path := filepath.Join(c.logDir, "app.log")
		if err := os.WriteFile(path, []byte(fileLine+"\n"), 0o600); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	})
	c.waitReady(t)

	t.Run("otlp receiver", func(t *testing.T) {
		body := "otlp e2e record " + nonce
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "courier-e2e")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Body().SetStr(body)
		lr.Attributes().PutStr("e2e.nonce", nonce)

		if err := postLogs(c.url(c.otlpHTTPPort, "/v1/logs"), ld); err != nil {
			t.Fatalf("send log record: %v", err)
		}
		c.WaitUntil(deliveryTimeout, "OTLP record reaches the otlp_http sink", func() error {
			return sink.received(body)
		})
	})

	t.Run("file_log receiver", func(t *testing.T) {
		c.WaitUntil(deliveryTimeout, "file_log line reaches the otlp_http sink", func() error {
			return sink.received(fileLine)
		})
	})

	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown on SIGTERM: %v", err)
	}
	if out := c.Output(); strings.Contains(out, "\terror\t") {
		t.Errorf("collector logged errors:\n%s", out)
	}
}
