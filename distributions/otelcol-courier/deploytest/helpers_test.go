package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// distDir is the distribution's directory: the Docker build context, and
// where `make build` writes the binary.
const distDir = ".."

// collectorBinary returns the otelcol-courier binary to test: $COURIER_BINARY
// when set, else the one `make build` writes. A missing binary fails the test:
// a validation that silently passes without one proves nothing.
func collectorBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("COURIER_BINARY")
	if path == "" {
		path = filepath.Join(distDir, "otelcol-courier")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	// The stat also records the binary in the test log, so go test's cache
	// notices a rebuilt binary.
	if info, err := os.Stat(abs); err != nil || info.IsDir() {
		t.Fatalf("collector binary %s: %v; run `make build` (or `make test`, which builds it and sets $COURIER_BINARY)", abs, err)
	}
	return abs
}

// validateConfig runs `otelcol-courier validate` on config with env added to
// the environment (the variables the config references).
func validateConfig(t *testing.T, config string, env map[string]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	validateConfigFile(t, path, env)
}

func validateConfigFile(t *testing.T, path string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(collectorBinary(t), "validate", "--config="+path)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("otelcol-courier validate --config=%s: %v\n%s\nconfig:\n%s", path, err, out, readFile(t, path))
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lookup follows a path of map keys ("a.b.c") through decoded YAML.
func lookup(v any, path string) (any, bool) {
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// mongodbConfigStandIn is what NVSentinel's mongodb-store chart puts into its
// mongodb-config ConfigMap in namespace nvsentinel (the part Courier reads).
var mongodbConfigStandIn = map[string]string{
	"DATASTORE_PROVIDER":            "mongodb",
	"MONGODB_URI":                   "mongodb://mongodb-headless.nvsentinel.svc.cluster.local:27017/?replicaSet=rs0&tls=true",
	"MONGODB_DATABASE_NAME":         "HealthEventsDatabase",
	"MONGODB_COLLECTION_NAME":       "HealthEvents",
	"MONGODB_TOKEN_COLLECTION_NAME": "ResumeTokens",
}
