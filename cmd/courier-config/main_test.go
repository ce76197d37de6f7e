package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter"
	"github.com/courier-otel/courier/internal/testutil"
)

// The translator's test inputs: the seeds' examples and more.
const testdata = "../../internal/configtranslate/testdata"

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"omniverse"},
		{"omniverse", "a.json", "b.json"},
		{"splunk", "x"},
		{"omniverse", "-provider", "mongodb", "a.json"}, // an nvsentinel flag
		{"nvsentinel", "-nope", "v.yaml"},
	} {
		code, stdout, stderr := runCmd(t, "", args...)
		assert.Equal(t, 2, code, "%q", args)
		assert.Empty(t, stdout, "%q", args)
		assert.Contains(t, stderr, "usage:\n  courier-config omniverse", "%q", args)
	}
}

func TestErrors(t *testing.T) {
	code, stdout, stderr := runCmd(t, "", "omniverse", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "courier-config: open ")
	assert.Contains(t, stderr, "missing.json: no such file or directory\n")

	// Every error on a line of its own, each naming the file.
	code, stdout, stderr = runCmd(t, `{"telemetry": {"transmitter": {"endpoint": 1, "queueLimit": "x"}}}`, "omniverse", "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "courier-config: -: /telemetry/transmitter/endpoint: want a string or an array of strings, got number 1\n"+
		"courier-config: -: /telemetry/transmitter/queueLimit: want an integer, got string \"x\"\n", stderr)
}

func TestWarningsAndStrict(t *testing.T) {
	const settings = `{"telemetry": {"transmitter": {"endpoint": "https://a.example", "schemasUrl": "/s", "compression": "gzip"}, "stayAlive": true}}`
	code, stdout, stderr := runCmd(t, settings, "omniverse", "-")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "cloudevents/0:")
	assert.Contains(t, stderr, "courier-config: warning: /telemetry/transmitter/compression: unknown setting, not translated\n")
	assert.Contains(t, stderr, "courier-config: note: /telemetry/stayAlive: not needed: the collector runs until it is stopped\n")

	code, stdout, stderr = runCmd(t, settings, "omniverse", "-strict", "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "courier-config: warning: /telemetry/transmitter/compression: unknown setting, not translated\n")
	assert.Contains(t, stderr, "courier-config: 1 setting(s) not translated; failing because of -strict\n")

	// Notes alone do not fail -strict.
	code, stdout, _ = runCmd(t, `{"telemetry": {"endpoint": "https://a.example", "stayAlive": true}}`, "omniverse", "-strict", "-")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "cloudevents/0:")
}

func TestNVSentinelFlags(t *testing.T) {
	code, stdout, stderr := runCmd(t, "", "nvsentinel", "-strict", "-provider", "mongodb", "-oidc-secret-file", "/run/oidc/secret",
		filepath.Join(testdata, "nvsentinel", "seed_values.yaml"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "uri: ${env:MONGODB_URI}\n")
	assert.Contains(t, stdout, "client_secret_file: /run/oidc/secret ")
	assert.Contains(t, stdout, "provider: mongodb # courier-config -provider\n")
	assert.Contains(t, stderr, "courier-config: note: event-exporter.resources: a Kubernetes setting of the Helm chart, not part of the collector config\n")

	code, _, stderr = runCmd(t, "", "nvsentinel", "-provider", "redis", filepath.Join(testdata, "nvsentinel", "seed_values.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `provider "redis" is not postgresql or mongodb`)
}

// TestGeneratedConfigsValidate runs the built collector's validate command on
// the config generated for every example input: the generated keys must be
// the components' real ones. It needs the collector binary (make test builds
// it and sets COURIER_BINARY) and fails without it.
func TestGeneratedConfigsValidate(t *testing.T) {
	bin := testutil.CollectorBinary(t)
	// The values a deployment gives the placeholders.
	t.Setenv("COURIER_SCHEMAS_URL", "https://schemas.example.com/approved.zip")
	t.Setenv("COURIER_AUTH_TOKEN_URL", "file:///home/user/.nvidia-omniverse/auth/token.json")
	t.Setenv("COURIER_PSEUDONYMIZE_KEY", "0123456789abcdef0123456789abcdef")
	// NVSentinel's variables, as its chart gives its exporter's pod.
	t.Setenv("MONGODB_URI", "mongodb://127.0.0.1:27017/?replicaSet=rs0")
	t.Setenv("DATASTORE_HOST", "127.0.0.1")
	t.Setenv("DATASTORE_DATABASE", "nvsentinel")
	t.Setenv("DATASTORE_USERNAME", "courier")
	t.Setenv("COURIER_DEAD_LETTER_DIR", t.TempDir())

	tests := []struct {
		args []string
		env  map[string]string // overrides
	}{
		{args: []string{"omniverse", "omniverse/seed_two_transmitters.json"}},
		{args: []string{"omniverse", "omniverse/seed_single.json"}},
		{args: []string{"omniverse", "omniverse/all_settings.json"}},
		{args: []string{"omniverse", "omniverse/legacy.toml"}},
		// Without pseudonymizeOldEvents the key may stay unset.
		{args: []string{"omniverse", "omniverse/seed_single.json"}, env: map[string]string{"COURIER_PSEUDONYMIZE_KEY": ""}},
		{args: []string{"nvsentinel", "nvsentinel/seed_values.yaml"}},
		// Without a dead-letter directory events are only counted and logged.
		{args: []string{"nvsentinel", "nvsentinel/seed_values.yaml"}, env: map[string]string{"COURIER_DEAD_LETTER_DIR": ""}},
		{args: []string{"nvsentinel", "-provider", "mongodb", "nvsentinel/block_with_filter.yaml"}},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		if len(tt.env) > 0 {
			name += " (unset placeholders)"
		}
		t.Run(name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append([]string(nil), tt.args...)
			args[len(args)-1] = filepath.Join(testdata, args[len(args)-1])
			code, stdout, stderr := runCmd(t, "", args...)
			require.Equal(t, 0, code, stderr)
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte(stdout), 0o600))
			out, err := testutil.RunCommand(t, bin, time.Minute, "validate", "--config="+cfg)
			require.NoError(t, err, "%s validate:\n%s\nconfig:\n%s", bin, out, stdout)
			checkCloudEventsKeys(t, stdout)
		})
	}
}

// checkCloudEventsKeys fails on a key of a cloudevents exporter that its
// Config does not have. validate cannot tell: confighttp.ClientConfig
// (v0.164), squashed into the exporter's Config, unmarshals without
// reporting unused keys, so a misspelt key there passes validate.
func checkCloudEventsKeys(t *testing.T, config string) {
	t.Helper()
	var doc struct {
		Exporters map[string]map[string]any `yaml:"exporters"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(config), &doc))
	for id, section := range doc.Exporters {
		if strings.HasPrefix(id, "cloudevents") {
			checkKeys(t, "exporters::"+id, section, reflect.TypeFor[cloudeventsexporter.Config]())
		}
	}
}

func checkKeys(t *testing.T, path string, section map[string]any, typ reflect.Type) {
	t.Helper()
	fields := map[string]reflect.Type{}
	var collect func(reflect.Type)
	collect = func(st reflect.Type) {
		for f := range st.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			switch {
			case opts == "squash":
				collect(f.Type)
			case name != "" && name != "-":
				fields[name] = f.Type
			}
		}
	}
	collect(typ)
	for key, value := range section {
		ft, ok := fields[key]
		if !assert.True(t, ok, "%s::%s is not a key of %s", path, key, typ) {
			continue
		}
		// configoptional.Optional[T] holds its T behind Get.
		if get, ok := reflect.PointerTo(ft).MethodByName("Get"); ok && ft.Kind() == reflect.Struct {
			ft = get.Type.Out(0)
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if m, isMap := value.(map[string]any); isMap && ft.Kind() == reflect.Struct {
			checkKeys(t, path+"::"+key, m, ft)
		}
	}
}
