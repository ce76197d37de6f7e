package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// EnvKafkaBroker names the testbed/kafka broker binary (`make test` builds
// it); without it the test builds one.
const EnvKafkaBroker = "COURIER_KAFKA_BROKER_BINARY"

// kafkaBroker returns the path of the testbed/kafka broker command.
func kafkaBroker(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(EnvKafkaBroker); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "kafka-broker")
	cmd := exec.Command("go", "-C", filepath.Join(testutil.ModuleRoot(t), "testbed", "kafka"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the Kafka broker: %v\n%s", err, out)
	}
	return bin
}

// startKafkaBroker runs the broker on port and waits until it listens.
func startKafkaBroker(t testing.TB, bin string, port int) string {
	t.Helper()
	cmd := exec.Command(bin, "-port", strconv.Itoa(port), "-topics", "courier-events")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the Kafka broker printed no address: %v", err)
	}
	return string(bytes.TrimSpace([]byte(addr)))
}

// TestKafkaTier runs README "At fleet scale": node agent → Kafka → gateway
// → sink, with the real Kafka protocol (testbed/kafka). The agent's seek
// tag stays put while the broker is down and moves once Kafka has
// acknowledged; the gateway is killed with SIGKILL while the sink is down
// and resumes from its committed offsets; every event arrives, and arrives
// byte for byte as the direct structured_log → cloudevents path sends it.
func TestKafkaTier(t *testing.T) {
	const events = 3000
	logDir, directDir := t.TempDir(), t.TempDir()
	path := filepath.Join(logDir, "app.log")
	want := map[string]bool{}
	writeEvents(t, structuredlog.Options{Dir: logDir, Name: "app.log", Source: "e2e@kafka"}, "k", events, want)
	copyFile(t, path, filepath.Join(directDir, "app.log")) // before any seek tag is written

	port := testutil.FreePorts(t, 1)[0]
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", port)
	agent := startHealthy(t, deliveryTimeout, []string{"COURIER_E2E_LOG_DIR=" + logDir, "COURIER_E2E_KAFKA_BROKER=" + brokerAddr}, "--config=testdata/kafka_agent.yaml")

	// No broker yet: nothing is acknowledged, so the seek tag stays at
	// the start.
	time.Sleep(3 * time.Second)
	if off, err := seekTag(path); err == nil && off > 0 {
		t.Fatalf("the seek tag moved to %d with no broker to acknowledge", off)
	}
	startKafkaBroker(t, kafkaBroker(t), port)
	agent.WaitUntil(2*deliveryTimeout, "the seek tag at the end of the file once Kafka acknowledged", func() error {
		off, err := seekTag(path)
		if err != nil {
			return err
		}
		if st, err := os.Stat(path); err != nil || off != st.Size() {
			return fmt.Errorf("seek tag at %d", off)
		}
		return nil
	})

	// The gateway reads while the sink is down and is killed.
	sink := newLinesSink(t)
	sink.refuse.Store(http.StatusServiceUnavailable)
	gatewayEnv := []string{
		"COURIER_E2E_KAFKA_BROKER=" + brokerAddr, "COURIER_E2E_SINK_URL=" + sink.URL,
		"COURIER_E2E_DEAD_LETTER_DIR=" + t.TempDir(),
	}
	gateway := startHealthy(t, deliveryTimeout, gatewayEnv, "--config=testdata/kafka_gateway.yaml")
	gateway.WaitUntil(deliveryTimeout, "the gateway trying the sink", func() error {
		if n := sink.refused.Load(); n < 20 {
			return fmt.Errorf("%d requests refused", n)
		}
		return nil
	})
	gateway.Kill()
	if n := sink.distinct(); n != 0 {
		t.Fatalf("%d events delivered while the sink refused everything", n)
	}

	// A new gateway resumes from the committed offsets once the sink is back.
	gateway = startHealthy(t, deliveryTimeout, gatewayEnv, "--config=testdata/kafka_gateway.yaml")
	sink.refuse.Store(0)
	gateway.WaitUntil(2*deliveryTimeout, "every event delivered through Kafka", func() error { return sink.check(want) })
	t.Logf("%d events through Kafka, %d duplicates", events, sink.duplicates())
	for _, c := range []*testutil.Collector{gateway, agent} {
		if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}

	// The same file straight to a sink: the events must be identical.
	direct := newLinesSink(t)
	d := startHealthy(t, deliveryTimeout, []string{"COURIER_E2E_LOG_DIR=" + directDir, "COURIER_E2E_SINK_URL=" + direct.URL}, "--config=testdata/kafka_direct.yaml")
	d.WaitUntil(2*deliveryTimeout, "every event delivered directly", func() error { return direct.check(want) })
	if err := d.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	differ := 0
	for id := range want {
		if a, b := sink.line(id), direct.line(id); !bytes.Equal(a, b) {
			if differ++; differ <= 3 {
				t.Errorf("event %s differs after the Kafka hop:\n kafka  %s\n direct %s", id, a, b)
			}
		}
	}
	if differ > 0 {
		t.Fatalf("%d of %d events differ after the Kafka hop", differ, events)
	}
}

// seekTag reads the receiver's seek tag ("seek") from path's header.
func seekTag(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	h, err := structuredlog.ReadHeader(f)
	if err != nil {
		return 0, err
	}
	off, ok := h.Seek("seek")
	if !ok {
		return 0, errors.New("no seek tag yet")
	}
	return off, nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
