package configtranslate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNVSentinelGolden(t *testing.T) {
	tests := []struct {
		file  string
		opts  NVSentinelOptions
		notes []string
	}{
		{
			file: "seed_values.yaml",
			notes: []string{
				"event-exporter.resources: a Kubernetes setting of the Helm chart, not part of the collector config",
			},
		},
		{
			file: "block_with_filter.yaml",
			opts: NVSentinelOptions{Provider: ProviderMongoDB, OIDCSecretFile: "/var/run/secrets/oidc/oidc-client-secret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "nvsentinel", tt.file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			res, err := NVSentinel(data, path, tt.opts)
			require.NoError(t, err)
			assert.Empty(t, res.Warnings)
			assert.Equal(t, tt.notes, res.Notes)
			golden(t, filepath.Join("nvsentinel", strings.TrimSuffix(tt.file, ".yaml")), res.Config)
		})
	}
}

// TestNVSentinelMatchesE2EConfig checks the translation of the seed's values
// against testbed/e2e/testdata/nvsentinel.yaml, the hand translation the
// end-to-end tests run: every setting there is the same here, except the
// addresses the tests fill in, the test-only health check and telemetry, and
// the event filter, which the seed's values do not hold.
func TestNVSentinelMatchesE2EConfig(t *testing.T) {
	e2eData, err := os.ReadFile("../../testbed/e2e/testdata/nvsentinel.yaml")
	require.NoError(t, err)
	e2e := decodeConfig(t, e2eData)

	data, err := os.ReadFile("testdata/nvsentinel/seed_values.yaml")
	require.NoError(t, err)
	// The filter is not in the seed's values; the e2e config has the one the
	// upstream exporter's filter documentation shows.
	data = []byte(strings.Replace(string(data), "    workers: 10\n",
		"    workers: 10\n    filter:\n      expression: \"event.recommendedAction != 'NONE'\"\n", 1))
	res, err := NVSentinel(data, "values.yaml", NVSentinelOptions{Provider: ProviderPostgreSQL})
	require.NoError(t, err)
	got := decodeConfig(t, res.Config)

	skip := map[string]bool{
		"receivers.datastore.postgresql.dsn":                 true, // the test's server
		"receivers.datastore.postgresql.poll_interval":       true, // the default, written out
		"receivers.datastore.leader_election.enabled":        true, // the default, written out
		"receivers.datastore.leader_election.retry_interval": true, // the default, written out
		"exporters.cloudevents.endpoint":                     true, // the test's sink
		"exporters.cloudevents.dead_letter.directory":        true, // the test's directory
		"extensions.oidc_client.token_url":                   true, // the test's token server
		"extensions.oidc_client.client_secret_file":          true, // the test's secret
		"extensions.health_check.endpoint":                   true, // test-only
		"service.extensions":                                 true, // + health_check
		"service.telemetry.metrics.level":                    true, // test-only
	}
	var compare func(path string, want any)
	compare = func(path string, want any) {
		if skip[path] {
			return
		}
		if m, ok := want.(map[string]any); ok {
			for k, v := range m {
				compare(strings.TrimPrefix(path+"."+k, "."), v)
			}
			return
		}
		assert.Equal(t, want, dig(got, strings.Split(path, ".")...), path)
	}
	compare("", e2e)
	assert.Equal(t, []any{"oidc_client"}, dig(got, "service", "extensions"))
	// No global.datastore.connection: NVSentinel's defaults.
	assert.Equal(t, "host='localhost' port='5432' dbname='nvsentinel'", dig(got, "receivers", "datastore", "postgresql", "dsn"))
	assert.Equal(t, "https://events.example.com/api/v1/events", dig(got, "exporters", "cloudevents", "endpoint"))
	assert.Equal(t, "https://auth.example.com/oauth2/token", dig(got, "extensions", "oidc_client", "token_url"))
}

func TestNVSentinelMapping(t *testing.T) {
	const base = "exporter:\n  metadata: {cluster: c1}\n  sink: {endpoint: https://sink.example}\n"
	tests := []struct {
		name, values string
		path         []string
		want         any
	}{
		{"source from the cluster", base, []string{"processors", "event_metadata", "source"}, "nvsentinel://{cluster}/healthevents"},
		{"metadata as text", "metadata: {cluster: c1, rack: 7, gpu: true}\nexporter:\n  sink: {endpoint: https://sink.example}\n",
			[]string{"processors", "event_metadata", "metadata"}, map[string]any{"cluster": "c1", "rack": "7", "gpu": "true"}},
		{"exporter metadata wins", "metadata: {cluster: c0}\n" + base, []string{"processors", "event_metadata", "metadata", "cluster"}, "c1"},
		{"no oidc, no auth", base, []string{"exporters", "cloudevents", "auth"}, nil},
		{"no oidc, no extensions", base, []string{"service", "extensions"}, nil},
		{"scopes split", base + "  oidc: {tokenUrl: https://idp.example/token, clientId: c, scope: 'a b'}\n",
			[]string{"extensions", "oidc_client", "scopes"}, []any{"a", "b"}},
		{"blank filter", base + "  filter: {expression: '  '}\n", []string{"processors", "cel_filter"}, nil},
		{"workers", base + "  workers: 20\n", []string{"exporters", "cloudevents", "sending_queue", "num_consumers"}, 20},
		{"backfill off", base + "  backfill: {enabled: false}\n", []string{"receivers", "datastore", "backfill"}, map[string]any{"enabled": false}},
		{"fractional rate limit", base + "  backfill: {rateLimit: 2.5}\n", []string{"receivers", "datastore", "backfill", "rate_limit"}, 2.5},
		{"retries", base + "  failureHandling: {maxRetries: 30, initialBackoff: 5s, maxBackoff: 15m, backoffMultiplier: 2.5}\n",
			[]string{"exporters", "cloudevents", "retry_on_failure"},
			map[string]any{"max_retries": 30, "initial_interval": "5s", "max_interval": "15m", "multiplier": 2.5}},
		{"dead letters from the environment", base, []string{"exporters", "cloudevents", "dead_letter", "directory"}, "${env:COURIER_DEAD_LETTER_DIR}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := NVSentinel([]byte(tt.values), "values.yaml", NVSentinelOptions{})
			require.NoError(t, err)
			assert.Empty(t, res.Warnings)
			assert.Equal(t, tt.want, dig(decodeConfig(t, res.Config), tt.path...))
		})
	}
}

func TestNVSentinelMongoDBResumeToken(t *testing.T) {
	values := "exporter:\n  metadata: {cluster: c1}\n  sink: {endpoint: https://sink.example}\n  resumeToken: {database: db1, collection: tokens}\n"
	res, err := NVSentinel([]byte(values), "v.yaml", NVSentinelOptions{Provider: ProviderMongoDB})
	require.NoError(t, err)
	cfg := decodeConfig(t, res.Config)
	assert.Equal(t, "db1", dig(cfg, "receivers", "datastore", "mongodb", "database"))
	assert.Equal(t, "tokens", dig(cfg, "receivers", "datastore", "mongodb", "token_collection"))
	assert.Equal(t, "${env:MONGODB_URI}", dig(cfg, "receivers", "datastore", "mongodb", "uri"))

	// PostgreSQL keeps its tokens in its own table: the values are noted.
	res, err = NVSentinel([]byte(values), "v.yaml", NVSentinelOptions{Provider: ProviderPostgreSQL})
	require.NoError(t, err)
	assert.Equal(t, []string{"exporter.resumeToken: not used with PostgreSQL: the resume token is in NVSentinel's resume_tokens table"}, res.Notes)
}

// TestNVSentinelProvider: the datastore is read as NVSentinel's chart reads
// it: global.datastore.provider when the values have global.datastore,
// otherwise the in-cluster MongoDB; -provider wins, with a warning when it
// contradicts the values.
func TestNVSentinelProvider(t *testing.T) {
	const exporter = "  exporter:\n    metadata: {cluster: c1}\n    sink: {endpoint: https://sink.example}\n"
	tests := []struct {
		name, values, flag, want, why string
		warnings                      []string
	}{
		{name: "no global: NVSentinel's default", values: "event-exporter:\n" + exporter, want: ProviderMongoDB,
			why: "no global.datastore: NVSentinel's default, the in-cluster MongoDB"},
		{name: "global without datastore", values: "global:\n  eventExporter: {enabled: true}\nevent-exporter:\n" + exporter,
			want: ProviderMongoDB, why: "no global.datastore: NVSentinel's default, the in-cluster MongoDB"},
		{name: "postgresql", values: "global:\n  datastore: {provider: postgresql, connection: {host: pg}}\nevent-exporter:\n" + exporter,
			want: ProviderPostgreSQL, why: "global.datastore.provider"},
		{name: "external mongodb", values: "global:\n  datastore: {provider: mongodb, credentialsFromSecret: {name: s}}\nevent-exporter:\n" + exporter,
			want: ProviderMongoDB, why: "global.datastore.provider"},
		{name: "a subchart's values", values: "global:\n  datastore: {provider: postgresql}\n" + strings.ReplaceAll(exporter, "\n  ", "\n")[2:],
			want: ProviderPostgreSQL, why: "global.datastore.provider"},
		{name: "the flag", values: "event-exporter:\n" + exporter, flag: ProviderPostgreSQL, want: ProviderPostgreSQL, why: "courier-config -provider"},
		{name: "the flag against the values", values: "global:\n  datastore: {provider: postgresql}\nevent-exporter:\n" + exporter,
			flag: ProviderMongoDB, want: ProviderMongoDB, why: "courier-config -provider",
			warnings: []string{"global.datastore.provider: is postgresql, but courier-config -provider mongodb wins"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := NVSentinel([]byte(tt.values), "values.yaml", NVSentinelOptions{Provider: tt.flag})
			require.NoError(t, err)
			assert.Equal(t, tt.warnings, res.Warnings)
			assert.Equal(t, tt.want, dig(decodeConfig(t, res.Config), "receivers", "datastore", "provider"))
			assert.Contains(t, string(res.Config), "provider: "+tt.want+" # "+tt.why)
		})
	}
	_, err := NVSentinel([]byte("global:\n  datastore: {provider: redis}\nevent-exporter:\n"+exporter), "v.yaml", NVSentinelOptions{})
	require.EqualError(t, err, `global.datastore.provider: "redis" is not postgresql or mongodb`)
}

func TestNVSentinelWarnings(t *testing.T) {
	res, err := NVSentinel([]byte(`
event-exporter:
  replicaCount: 1
  debug: true
  exporter:
    metadata: {cluster: c1}
    sink: {endpoint: https://sink.example, retries: 3}
    batching: {size: 10}
`), "v.yaml", NVSentinelOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"event-exporter.debug: unknown setting, not translated",
		"event-exporter.exporter.batching: unknown setting, not translated",
		"event-exporter.exporter.sink.retries: unknown setting, not translated",
	}, res.Warnings)
	assert.Equal(t, []string{"event-exporter.replicaCount: a Kubernetes setting of the Helm chart, not part of the collector config"}, res.Notes)
}

func TestNVSentinelErrors(t *testing.T) {
	const sink = "  sink: {endpoint: https://sink.example}\n"
	tests := []struct{ name, values, want string }{
		{"malformed YAML", "exporter:\n  sink: [\n", "not YAML: yaml: line 2: did not find expected node content"},
		{"not a mapping", "- a\n- b\n", "the values must be a mapping, got an array"},
		{"no exporter", "resources: {}\n", "exporter: required: the exporter settings (metadata, sink, oidc, …)"},
		{"block of the wrong type", "event-exporter: 3\n", "event-exporter: want an object, got number 3"},
		{"no cluster", "exporter:\n  metadata: {environment: prod}\n" + sink,
			"exporter.metadata.cluster: required: it names the cluster in the CloudEvent source nvsentinel://<cluster>/healthevents"},
		{"no sink", "exporter:\n  metadata: {cluster: c1}\n", "exporter.sink.endpoint: required: where the events are POSTed"},
		{"sink not a URL", "exporter:\n  metadata: {cluster: c1}\n  sink: {endpoint: events.example.com}\n",
			`exporter.sink.endpoint: "events.example.com" is not an http or https URL`},
		{"bad timeout", "exporter:\n  metadata: {cluster: c1}\n  sink: {endpoint: https://sink.example, timeout: 30}\n",
			`exporter.sink.timeout: want a string, got number 30`},
		{"bad duration", "exporter:\n  metadata: {cluster: c1}\n" + sink + "  backfill: {maxAge: 30d}\n",
			`exporter.backfill.maxAge: "30d" is not a duration such as 30s or 720h`},
		{"workers as a string", "exporter:\n  metadata: {cluster: c1}\n" + sink + "  workers: ten\n",
			`exporter.workers: want an integer, got string "ten"`},
		{"workers zero", "exporter:\n  metadata: {cluster: c1}\n" + sink + "  workers: 0\n",
			`exporter.workers: must be at least 1, got 0`},
		{"multiplier below 1", "exporter:\n  metadata: {cluster: c1}\n" + sink + "  failureHandling: {backoffMultiplier: 0.5}\n",
			`exporter.failureHandling.backoffMultiplier: must be at least 1, got 0.5`},
		{"oidc without client", "exporter:\n  metadata: {cluster: c1}\n" + sink + "  oidc: {tokenUrl: https://idp.example}\n",
			`exporter.oidc.clientId: required with tokenUrl`},
		{"metadata value of the wrong type", "exporter:\n  metadata: {cluster: c1, tags: [a]}\n" + sink,
			`exporter.metadata.tags: want a string, got an array`},
		{"insecure as a string", "exporter:\n  metadata: {cluster: c1}\n  sink: {endpoint: https://sink.example, insecureSkipVerify: 'no'}\n",
			`exporter.sink.insecureSkipVerify: want true or false, got string "no"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NVSentinel([]byte(tt.values), "values.yaml", NVSentinelOptions{})
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}

	_, err := NVSentinel([]byte("exporter: {}\n"), "v.yaml", NVSentinelOptions{Provider: "redis"})
	require.EqualError(t, err, `provider "redis" is not postgresql or mongodb`)
}

// TestNVSentinelDatastoreAgrees: for NVSentinel's datastore setups (the
// umbrella values files of the chart's tests), the translated config connects
// where NVSentinel's exporter connects, as its own chart renders it: the
// expected settings and the ConfigMaps its exporter's pod reads come from
// deploytest's golden file, regenerated from NVSentinel's chart. The
// config's ${env:…} references are read from those ConfigMaps, as in the
// exporter's pod. (Certificate files are checked by the chart's test.)
func TestNVSentinelDatastoreAgrees(t *testing.T) {
	const deploytest = "../../distributions/otelcol-courier/deploytest/testdata/"
	data, err := os.ReadFile(deploytest + "nvsentinel-datastore.json")
	require.NoError(t, err)
	var golden struct {
		Cases map[string]struct {
			Settings   map[string]any               `json:"settings"`
			ConfigMaps map[string]map[string]string `json:"configMaps"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &golden))
	require.NotEmpty(t, golden.Cases)
	ref := regexp.MustCompile(`\$\{env:([A-Za-z_0-9]+)(:-([^}]*))?\}`)
	for name, c := range golden.Cases {
		t.Run(name, func(t *testing.T) {
			values, err := os.ReadFile(deploytest + "nvsentinel/" + name + ".yaml")
			require.NoError(t, err)
			res, err := NVSentinel(values, name+".yaml", NVSentinelOptions{})
			require.NoError(t, err)
			cfg := decodeConfig(t, res.Config)
			expand := func(s string) string {
				return ref.ReplaceAllStringFunc(s, func(r string) string {
					m := ref.FindStringSubmatch(r)
					for _, cm := range c.ConfigMaps {
						if v, ok := cm[m[1]]; ok {
							return v
						}
					}
					if m[1] == "MONGODB_URI" {
						return c.Settings["uri"].(string) // from a Secret: the same variable
					}
					return m[3]
				})
			}
			str := func(path ...string) string { s, _ := dig(cfg, path...).(string); return expand(s) }
			want := c.Settings
			assert.Equal(t, want["provider"], str("receivers", "datastore", "provider"))
			if want["provider"] == ProviderPostgreSQL {
				got := map[string]string{}
				for _, kv := range strings.Fields(str("receivers", "datastore", "postgresql", "dsn")) {
					k, v, _ := strings.Cut(kv, "=")
					if k != "sslcert" && k != "sslkey" && k != "sslrootcert" {
						got[k] = strings.Trim(v, "'")
					}
				}
				wantDSN := map[string]string{}
				for k, v := range want["dsn"].(map[string]any) {
					wantDSN[k] = v.(string)
				}
				assert.Equal(t, wantDSN, got)
				return
			}
			for key, path := range map[string]string{"database": "database", "collection": "collection", "tokenCollection": "token_collection"} {
				assert.Equal(t, want[key], str("receivers", "datastore", "mongodb", path), key)
			}
		})
	}
}
