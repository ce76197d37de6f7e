package configtranslate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden.yaml (rewritten with
// -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), string(got), "differs from %s (go test -update rewrites it)", path)
}

// decodeConfig reads a generated config back as a map.
func decodeConfig(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m))
	return m
}

// dig walks a decoded config along a path of keys.
func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func TestOmniverseGolden(t *testing.T) {
	tests := []struct {
		file     string
		warnings []string
		notes    int
	}{
		{file: "seed_two_transmitters.json", notes: 3},
		{file: "seed_single.json", notes: 2},
		{
			file: "all_settings.json",
			warnings: []string{
				"/telemetry/log/file: not translated: the collector's own logs are set under service::telemetry::logs",
				"/telemetry/log/level: not translated: the collector's own logs are set under service::telemetry::logs",
			},
			notes: 2,
		},
		{
			file: "legacy.toml",
			warnings: []string{
				"/structuredLog: not a /telemetry setting, not translated",
				"/telemetry/enableDiagnostics: unknown setting, not translated",
			},
			notes: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "omniverse", tt.file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			res, err := Omniverse(data, path)
			require.NoError(t, err)
			assert.Equal(t, tt.warnings, res.Warnings)
			assert.Len(t, res.Notes, tt.notes, "notes: %q", res.Notes)
			golden(t, filepath.Join("omniverse", strings.TrimSuffix(tt.file, filepath.Ext(tt.file))), res.Config)
		})
	}
}

// TestOmniverseSeedStructure checks the seed's two-transmitter example: two
// independent pipelines, each with its own seek tag and endpoint, sharing the
// schema registry and the token.
func TestOmniverseSeedStructure(t *testing.T) {
	data, err := os.ReadFile("testdata/omniverse/seed_two_transmitters.json")
	require.NoError(t, err)
	res, err := Omniverse(data, "settings.json")
	require.NoError(t, err)
	cfg := decodeConfig(t, res.Config)

	for i, ep := range []string{"https://telemetry.not-a-real-url.nvidia.com", "https://metrics.also-not-a-real-url.nvidia.com"} {
		id := []string{"0", "1"}[i]
		assert.Equal(t, ep, dig(cfg, "exporters", "cloudevents/"+id, "endpoint"))
		assert.Equal(t, "jsonl", dig(cfg, "exporters", "cloudevents/"+id, "encoding"))
		assert.Equal(t, "auth_token/0", dig(cfg, "exporters", "cloudevents/"+id, "auth", "authenticator"))
		assert.Equal(t, -1, dig(cfg, "exporters", "cloudevents/"+id, "retry_on_failure", "max_retries"))
		assert.Equal(t, map[string]any{
			"receivers":  []any{"structured_log/" + id},
			"processors": []any{"schema_validation/" + id, "old_events/" + id},
			"exporters":  []any{"cloudevents/" + id},
		}, dig(cfg, "service", "pipelines", "logs/"+id))
		assert.Equal(t, "schema_registry/0", dig(cfg, "processors", "schema_validation/"+id, "registry"))
	}
	assert.Equal(t, "seek", dig(cfg, "receivers", "structured_log/0", "seek_tag_name"))
	assert.Equal(t, "seek-1", dig(cfg, "receivers", "structured_log/1", "seek_tag_name"))
	assert.Equal(t, []any{"schema_registry/0", "auth_token/0"}, dig(cfg, "service", "extensions"))
	assert.Equal(t, []any{"${env:COURIER_SCHEMAS_URL}"}, dig(cfg, "extensions", "schema_registry/0", "sources"))
	assert.Equal(t, "${env:COURIER_AUTH_TOKEN_URL}", dig(cfg, "extensions", "auth_token/0", "url"))
}

// TestOmniverseMapping checks each transmitter setting's Courier key.
func TestOmniverseMapping(t *testing.T) {
	tests := []struct {
		name     string
		settings string // a transmitter object
		path     []string
		want     any
	}{
		{"one endpoint", `"endpoint": ["https://a.example"]`, []string{"exporters", "cloudevents/0", "endpoint"}, "https://a.example"},
		{"fallbacks", `"endpoint": ["https://a.example", "https://b.example"]`, []string{"exporters", "cloudevents/0", "endpoints"}, []any{"https://a.example", "https://b.example"}},
		{"retryLimit", `"endpoint": ["https://a.example", "https://b.example"], "retryLimit": 3`, []string{"exporters", "cloudevents/0", "failover", "retry_limit"}, 3},
		{"transmissionLimit", `"transmissionLimit": 4096`, []string{"exporters", "cloudevents/0", "transmission_limit"}, 4096},
		{"queueLimit", `"queueLimit": 500`, []string{"receivers", "structured_log/0", "max_batch_events"}, 500},
		{"small queueLimit keeps the queue", `"queueLimit": 500`, []string{"exporters", "cloudevents/0", "sending_queue"}, nil},
		{"large queueLimit grows the queue", `"queueLimit": 30000`, []string{"exporters", "cloudevents/0", "sending_queue", "queue_size"}, 30000},
		{"protocol default", `"eventProtocol": "default"`, []string{"exporters", "cloudevents/0", "encoding"}, "jsonl"},
		{"protocol case", `"eventProtocol": "DefaultWithStringify"`, []string{"exporters", "cloudevents/0", "encoding"}, "jsonl_stringify"},
		{"protocol list", `"eventProtocol": "defaultWithList"`, []string{"exporters", "cloudevents/0", "encoding"}, "json_list"},
		{"protocol NVDF", `"eventProtocol": "nvdf"`, []string{"exporters", "cloudevents/0", "encoding"}, "nvdf"},
		{"NVDF types by the schemas", `"eventProtocol": "NVDF"`, []string{"exporters", "cloudevents/0", "schema_registry"}, "schema_registry/0"},
		{"schemasUrl", `"schemasUrl": "file:///opt/schemas"`, []string{"extensions", "schema_registry/0", "sources"}, []any{"file:///opt/schemas"}},
		{"authenticate false", `"authenticate": false`, []string{"exporters", "cloudevents/0", "auth"}, nil},
		{"authTokenUrl", `"authTokenUrl": "/home/u/token.txt"`, []string{"extensions", "auth_token/0", "url"}, "/home/u/token.txt"},
		{"empty key name", `"authTokenKeyName": ""`, []string{"extensions", "auth_token/0", "key_name"}, ""},
		{"authTokenExpiryName", `"authTokenExpiryName": "exp"`, []string{"extensions", "auth_token/0", "expiry_name"}, "exp"},
		{"authTokenType", `"authTokenType": "JWT"`, []string{"extensions", "auth_token/0", "type"}, "jwt"},
		{"seekTagName", `"seekTagName": "seek_courier"`, []string{"receivers", "structured_log/0", "seek_tag_name"}, "seek_courier"},
		{"messageMatchMode", `"messageMatchMode": "dev,prod"`, []string{"receivers", "structured_log/0", "message_match_mode"}, "dev,prod"},
		{"resendEvents", `"resendEvents": true`, []string{"receivers", "structured_log/0", "resend_events"}, true},
		{"oldEventsThreshold", `"oldEventsThreshold": 7`, []string{"processors", "old_events/0", "threshold_days"}, 7},
		{"ignoreOldEvents", `"ignoreOldEvents": true`, []string{"processors", "old_events/0", "ignore_old_events"}, true},
		{"pseudonymizeOldEvents", `"pseudonymizeOldEvents": true`, []string{"processors", "old_events/0", "pseudonymize_old_events"}, true},
		{"old events use the schemas", ``, []string{"processors", "old_events/0", "registry"}, "schema_registry/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := `{"telemetry": {"transmitter": {"endpoint": "https://default.example", ` + tt.settings + `}}}`
			if strings.Contains(tt.settings, `"endpoint"`) {
				settings = `{"telemetry": {"transmitter": {` + tt.settings + `}}}`
			}
			res, err := Omniverse([]byte(settings), "settings.json")
			require.NoError(t, err)
			assert.Empty(t, res.Warnings)
			assert.Equal(t, tt.want, dig(decodeConfig(t, res.Config), tt.path...))
		})
	}
}

func TestOmniverseLegacySettings(t *testing.T) {
	// A per-transmitter setting overrides the legacy /telemetry one.
	res, err := Omniverse([]byte(`{"telemetry": {
		"messageMatchMode": "prod", "schemasUrl": "/schemas",
		"transmitter": [{"endpoint": "https://a.example", "messageMatchMode": "dev"}, {"endpoint": "https://b.example"}]}}`), "s.json")
	require.NoError(t, err)
	cfg := decodeConfig(t, res.Config)
	assert.Equal(t, "dev", dig(cfg, "receivers", "structured_log/0", "message_match_mode"))
	assert.Equal(t, "prod", dig(cfg, "receivers", "structured_log/1", "message_match_mode"))
	assert.Equal(t, []any{"/schemas"}, dig(cfg, "extensions", "schema_registry/0", "sources"))
	assert.Nil(t, dig(cfg, "extensions", "schema_registry/1"), "one registry for the same sources")

	// The /telemetry form without the "telemetry" wrapper.
	res, err = Omniverse([]byte(`{"endpoint": "https://a.example", "mode": "test"}`), "s.json")
	require.NoError(t, err)
	cfg = decodeConfig(t, res.Config)
	assert.Equal(t, "https://a.example", dig(cfg, "exporters", "cloudevents/0", "endpoint"))
	assert.Equal(t, "test", dig(cfg, "receivers", "structured_log/0", "mode"))
}

func TestOmniverseSeekTags(t *testing.T) {
	res, err := Omniverse([]byte(`{"telemetry": {"transmitter": [
		{"endpoint": "https://a.example"},
		{"endpoint": "https://b.example", "seekTagName": "seek"},
		{"endpoint": "https://c.example"}]}}`), "s.json")
	require.NoError(t, err)
	cfg := decodeConfig(t, res.Config)
	assert.Equal(t, "seek-0", dig(cfg, "receivers", "structured_log/0", "seek_tag_name"))
	assert.Equal(t, "seek", dig(cfg, "receivers", "structured_log/1", "seek_tag_name"))
	assert.Equal(t, "seek-2", dig(cfg, "receivers", "structured_log/2", "seek_tag_name"))
}

func TestOmniverseErrors(t *testing.T) {
	tx := func(settings string) string { return `{"telemetry": {"transmitter": {` + settings + `}}}` }
	tests := []struct {
		name, settings, want string
	}{
		{"malformed JSON", `{"telemetry": {"transmitter": {"endpoint": "https://a.example" "x": 1}}}`,
			"not JSON: line 1, column 64: invalid character '\"' after object key:value pair"},
		{"malformed JSON on a later line", "{\n  \"telemetry\": {\n    \"transmitter\": [}\n}",
			"not JSON: line 3, column 21: invalid character '}' looking for beginning of value"},
		{"truncated JSON", `{"telemetry": {"transmitter": {`, "not JSON: unexpected end of the file: the JSON is incomplete"},
		{"two documents", `{"telemetry": {}} {}`, "not JSON: line 1, column 19: unexpected content after the settings object"},
		{"malformed TOML", "[telemetry\nendpoint = 1", ""},
		{"not an object", `["https://a.example"]`, "the settings must be an object, got an array"},
		{"no telemetry", `{"structuredLog": {"enable": true}}`, `no /telemetry settings: want {"telemetry": {"transmitter": …}}`},
		{"no transmitter objects", `{"telemetry": {"mode": "dev"}}`,
			"no transmitter objects: set /telemetry/transmitter (an object or an array of objects) or the legacy /telemetry/endpoint"},
		{"empty transmitter array", `{"telemetry": {"transmitter": []}}`,
			"no transmitter objects: set /telemetry/transmitter (an object or an array of objects) or the legacy /telemetry/endpoint"},
		{"transmitter of the wrong type", `{"telemetry": {"transmitter": "https://a.example"}}`,
			`/telemetry/transmitter: want an object or an array of objects, got string "https://a.example"`},
		{"transmitter array member of the wrong type", `{"telemetry": {"transmitter": [{"endpoint": "https://a.example"}, 3]}}`,
			`/telemetry/transmitter/1: want a transmitter object, got number 3`},
		{"telemetry of the wrong type", `{"telemetry": []}`, `/telemetry: want an object, got an array`},
		{"no endpoint", tx(`"schemasUrl": "/s"`),
			"/telemetry/transmitter/endpoint: not set: the transmitter's default endpoint (NVIDIA's, chosen by /telemetry/mode) is not known here"},
		{"endpoint not a URL", tx(`"endpoint": "telemetry.example.com"`), `/telemetry/transmitter/endpoint: "telemetry.example.com" is not an http or https URL`},
		{"endpoint twice", tx(`"endpoint": ["https://a.example", "https://a.example"]`), `/telemetry/transmitter/endpoint/1: "https://a.example" is listed twice`},
		{"endpoint empty list", tx(`"endpoint": []`), `/telemetry/transmitter/endpoint: must name at least one URL`},
		{"endpoint of the wrong type", tx(`"endpoint": 5`), `/telemetry/transmitter/endpoint: want a string or an array of strings, got number 5`},
		{"endpoint list member of the wrong type", tx(`"endpoint": ["https://a.example", true]`), `/telemetry/transmitter/endpoint/1: want a string, got boolean true`},
		{"unsupported protocol", tx(`"endpoint": "https://a.example", "eventProtocol": "protobuf"`),
			`/telemetry/transmitter/eventProtocol: unsupported protocol "protobuf" (want default, defaultWithStringify, defaultWithList or NVDF)`},
		{"protocol of the wrong type", tx(`"endpoint": "https://a.example", "eventProtocol": 1`), `/telemetry/transmitter/eventProtocol: want a string, got number 1`},
		{"queueLimit as a string", tx(`"endpoint": "https://a.example", "queueLimit": "100"`), `/telemetry/transmitter/queueLimit: want an integer, got string "100"`},
		{"queueLimit fraction", tx(`"endpoint": "https://a.example", "queueLimit": 1.5`), `/telemetry/transmitter/queueLimit: want an integer, got number 1.5`},
		{"transmissionLimit zero", tx(`"endpoint": "https://a.example", "transmissionLimit": 0`), `/telemetry/transmitter/transmissionLimit: must be between 1 and 2147483647, got 0`},
		{"retryLimit below -1", tx(`"endpoint": "https://a.example", "retryLimit": -2`), `/telemetry/transmitter/retryLimit: must be between -1 and 2147483647, got -2`},
		{"threshold negative", tx(`"endpoint": "https://a.example", "oldEventsThreshold": -1`), `/telemetry/transmitter/oldEventsThreshold: must be between 0 and 36500, got -1`},
		{"authenticate as a string", tx(`"endpoint": "https://a.example", "authenticate": "false"`), `/telemetry/transmitter/authenticate: want true or false, got string "false"`},
		{"auth token type", tx(`"endpoint": "https://a.example", "authTokenType": "bearer"`), `/telemetry/transmitter/authTokenType: "bearer" is not one of auto, jwt, api-key`},
		{"empty token URL", tx(`"endpoint": "https://a.example", "authTokenUrl": ""`), `/telemetry/transmitter/authTokenUrl: must not be empty`},
		{"empty schemas list", tx(`"endpoint": "https://a.example", "schemasUrl": []`), `/telemetry/transmitter/schemasUrl: must name at least one URL or path, and no empty one`},
		{"seek tag with a space", tx(`"endpoint": "https://a.example", "seekTagName": "my seek"`),
			`/telemetry/transmitter/seekTagName: "my seek": use letters, digits, '_', '-' and '.' only`},
		{"seek tag is a header member", tx(`"endpoint": "https://a.example", "seekTagName": "time"`), `/telemetry/transmitter/seekTagName: "time" is a header member, not a seek tag`},
		{"match mode", tx(`"endpoint": "https://a.example", "messageMatchMode": "staging"`),
			`/telemetry/transmitter/messageMatchMode: "staging" is not all, matching, matching+, or a comma list of test, dev and prod`},
		{"mode", `{"telemetry": {"mode": "staging", "endpoint": "https://a.example"}}`, `/telemetry/mode: "staging" is not dev or test (production is the default)`},
		{"pollTime", `{"telemetry": {"pollTime": 0, "endpoint": "https://a.example"}}`, `/telemetry/pollTime: must be a positive number of seconds, got 0`},
		{"same seek tag twice", `{"telemetry": {"transmitter": [{"endpoint": "https://a.example", "seekTagName": "s"}, {"endpoint": "https://b.example", "seekTagName": "s"}]}}`,
			`/telemetry/transmitter/1/seekTagName: "s" is also the seek tag of /telemetry/transmitter/0; each transmitter object needs its own`},
		{"every error at once", tx(`"endpoint": 1, "queueLimit": "x", "eventProtocol": "y"`),
			"/telemetry/transmitter/endpoint: want a string or an array of strings, got number 1\n" +
				`/telemetry/transmitter/eventProtocol: unsupported protocol "y" (want default, defaultWithStringify, defaultWithList or NVDF)` + "\n" +
				`/telemetry/transmitter/queueLimit: want an integer, got string "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "settings.json"
			if strings.Contains(tt.name, "TOML") {
				name = "config.toml"
			}
			_, err := Omniverse([]byte(tt.settings), name)
			require.Error(t, err)
			if tt.want == "" { // the TOML library's own message
				assert.True(t, strings.HasPrefix(err.Error(), "not TOML: "), err.Error())
				return
			}
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestOmniverseWarnings(t *testing.T) {
	res, err := Omniverse([]byte(`{
		"telemetry": {
			"transmitter": {"endpoint": "https://a.example", "compression": "gzip", "authTokenUrl": "/t", "schemasUrl": "/s"},
			"allowRoot": true,
			"newSetting": 1
		},
		"app": {"name": "x"}
	}`), "s.json")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"/app: not a /telemetry setting, not translated",
		"/telemetry/newSetting: unknown setting, not translated",
		"/telemetry/transmitter/compression: unknown setting, not translated",
	}, res.Warnings)
	assert.Equal(t, []string{"/telemetry/allowRoot: not needed: the collector runs as any user that may write the log files"}, res.Notes)
	assert.Contains(t, string(res.Config), "#   /telemetry/transmitter/compression: unknown setting, not translated\n")

	// Settings the transmitter ignores without authentication are noted.
	res, err = Omniverse([]byte(`{"telemetry": {"transmitter": {"endpoint": "https://a.example", "authenticate": false, "authTokenType": "jwt", "schemasUrl": "/s"}}}`), "s.json")
	require.NoError(t, err)
	assert.Empty(t, res.Warnings)
	assert.Equal(t, []string{"/telemetry/transmitter/authTokenType: not used: authenticate is false (the transmitter ignores it too)"}, res.Notes)
}

func TestRelaxJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a": 1,}`, `{"a": 1 }`},
		{"[1, 2, \n]", "[1, 2  \n]"},
		{`{"a": "x,}" }`, `{"a": "x,}" }`},
		{"{\"a\": 1 // comment, }\n}", "{\"a\": 1              \n}"},
		{`{"a": /* c */ 1}`, `{"a":         1}`},
		{`{"a": "// not a comment"}`, `{"a": "// not a comment"}`},
		{`{"a": "\"/*"}`, `{"a": "\"/*"}`},
		{`[1, /* c */ ]`, `[1          ]`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(relaxJSON([]byte(tt.in))), "relaxJSON(%q)", tt.in)
	}
}
