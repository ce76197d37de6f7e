package deploytest

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// saslPasswordStandIn is what `validate` gets for the SASL password the
// container reads from its Secret; it must never appear in a manifest.
const saslPasswordStandIn = "stand-in-sasl-password"

// e2eKafkaDir holds the Kafka tier's configs the end-to-end test runs
// against a Kafka broker (testbed/e2e/kafka_test.go).
const e2eKafkaDir = "../../../testbed/e2e/testdata/"

// The at-least-once settings of the Kafka tier, as the end-to-end test runs
// them: what the chart must render for the gateway's receiver and the agent's
// exporter.
var (
	gatewayReceiverSettings = map[string]any{
		"initial_offset":                 "earliest",
		"logs.encoding":                  "otlp_proto",
		"message_marking":                map[string]any{"after": true, "on_error": false},
		"error_backoff.enabled":          true,
		"error_backoff.max_elapsed_time": 0.0,
	}
	agentExporterSettings = map[string]any{
		"logs.encoding":                     "otlp_proto",
		"producer.required_acks":            "all",
		"sending_queue.wait_for_result":     true,
		"retry_on_failure.max_elapsed_time": 0.0,
	}
)

func wantSettings(t *testing.T, config any, prefix string, settings map[string]any) {
	t.Helper()
	for key, want := range settings {
		wantConfig(t, config, prefix+"."+key, want)
	}
}

// TestKafkaE2EConfigs: the settings above are those of the end-to-end test's
// configs, so the chart renders what was tested against a broker.
func TestKafkaE2EConfigs(t *testing.T) {
	for file, c := range map[string]struct {
		prefix   string
		settings map[string]any
	}{
		"kafka_gateway.yaml": {"receivers.kafka", gatewayReceiverSettings},
		"kafka_agent.yaml":   {"exporters.kafka", agentExporterSettings},
	} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(e2eKafkaDir + file)
			if os.IsNotExist(err) {
				t.Skipf("%s%s is not in this tree (the Kafka tier's end-to-end test lands with the collector upgrade)", e2eKafkaDir, file)
			}
			if err != nil {
				t.Fatal(err)
			}
			var config map[string]any
			if err := yaml.Unmarshal(b, &config); err != nil {
				t.Fatal(err)
			}
			wantSettings(t, config, c.prefix, c.settings)
		})
	}
}

// TestGateway renders the gateway example: a Deployment whose replicas share
// one consumer group, kafka receiver -> cloudevents exporter, TLS with the
// cluster's CA and SCRAM with the password from a Secret.
// TestDeadLetterReplayValue: deadLetterReplay.enabled adds a second
// pipeline, dead_letter → cloudevents/replay, reading the cloudevents
// exporter's dead-letter directory with the chosen reasons; the replay
// exporter is the sink's exporter with a dead-letter directory the
// receiver does not read. The collector validates the config.
func TestDeadLetterReplayValue(t *testing.T) {
	v := loadValues(t, examplesDir+"/gateway.yaml")
	v["deadLetterReplay"] = map[string]any{"enabled": true, "reasons": []any{"retries_exhausted", "rejected"}}
	r := renderRelease(t, v)
	validate(t, r)
	wantConfig(t, r.config, "receivers.dead_letter.directory", "/var/lib/otelcol-courier/dead-letter")
	wantConfig(t, r.config, "receivers.dead_letter.pattern", "cloudevents-*.jsonl")
	wantConfig(t, r.config, "receivers.dead_letter.reasons.include", []any{"retries_exhausted", "rejected"})
	wantConfig(t, r.config, "receivers.dead_letter.min_file_age", "30s")
	wantConfig(t, r.config, "receivers.dead_letter.done_max_size", 10485760.0)
	wantConfig(t, r.config, "exporters.cloudevents/replay.dead_letter.max_size", 10485760.0)
	wantConfig(t, r.config, "exporters.cloudevents/replay.endpoint", "https://telemetry.example.com/v1/events")
	wantConfig(t, r.config, "exporters.cloudevents/replay.auth.authenticator", "oidc_client")
	wantConfig(t, r.config, "exporters.cloudevents/replay.dead_letter.directory", "/var/lib/otelcol-courier/dead-letter/replay-failed")
	wantConfig(t, r.config, "exporters.cloudevents.dead_letter.directory", "/var/lib/otelcol-courier/dead-letter")
	wantConfig(t, r.config, "service.pipelines.logs/replay", map[string]any{
		"receivers": []any{"dead_letter"},
		"exporters": []any{"cloudevents/replay"},
	})

	v = loadValues(t, examplesDir+"/gateway.yaml")
	if _, ok := lookup(renderRelease(t, v).config, "receivers.dead_letter"); ok {
		t.Error("the replay pipeline is rendered without deadLetterReplay.enabled")
	}
	v["deadLetterReplay"] = map[string]any{"enabled": true}
	v["deadLetter"] = map[string]any{"enabled": false}
	if _, err := render(v); err == nil || !strings.Contains(err.Error(), "deadLetterReplay.enabled needs deadLetter.enabled") {
		t.Errorf("deadLetterReplay without deadLetter: %v", err)
	}
}

// TestGatewayDefaultEncoding: without exporter.sink.encoding a gateway
// sends what NVSentinel sinks accept (the chart's sink values are
// NVSentinel's), one structured CloudEvent per POST, as the deployment
// agents would directly.
func TestGatewayDefaultEncoding(t *testing.T) {
	v := loadValues(t, examplesDir+"/gateway.yaml")
	delete(v["exporter"].(map[string]any)["sink"].(map[string]any), "encoding")
	r := renderRelease(t, v)
	wantConfig(t, r.config, "exporters.cloudevents.encoding", "structured")
}

func TestGateway(t *testing.T) {
	r := renderRelease(t, loadValues(t, examplesDir+"/gateway.yaml"))
	validate(t, r)

	d := r.deployment
	if d == nil {
		t.Fatal("mode gateway renders no Deployment")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	if got := d.Labels["app.kubernetes.io/component"]; got != "gateway" {
		t.Errorf("component label %q, want gateway", got)
	}
	if a := r.pod().Spec.Affinity; a == nil || a.PodAntiAffinity == nil {
		t.Error("gateway replicas do not prefer different nodes")
	}

	wantSettings(t, r.config, "receivers.kafka", gatewayReceiverSettings)
	wantConfig(t, r.config, "receivers.kafka.brokers", []any{"courier-kafka-bootstrap.kafka.svc:9093"})
	wantConfig(t, r.config, "receivers.kafka.group_id", "courier-gateway")
	wantConfig(t, r.config, "receivers.kafka.client_id", "courier-gateway")
	wantConfig(t, r.config, "receivers.kafka.logs.topics", []any{"courier-events"})
	wantConfig(t, r.config, "receivers.kafka.tls", map[string]any{
		"insecure": false,
		"ca_file":  "/etc/otelcol-courier-secrets/kafka-tls/ca.crt",
	})
	wantConfig(t, r.config, "receivers.kafka.auth.sasl", map[string]any{
		"mechanism": "SCRAM-SHA-512",
		"username":  "courier-gateway",
		"password":  "${env:COURIER_KAFKA_SASL_PASSWORD}",
	})
	wantConfig(t, r.config, "exporters.cloudevents.endpoint", "https://telemetry.example.com/v1/events")
	wantConfig(t, r.config, "exporters.cloudevents.encoding", "jsonl")
	wantConfig(t, r.config, "exporters.cloudevents.retry_on_failure.max_retries", -1.0)
	wantConfig(t, r.config, "exporters.cloudevents.auth.authenticator", "oidc_client")
	wantConfig(t, r.config, "exporters.cloudevents.dead_letter.directory", "/var/lib/otelcol-courier/dead-letter")
	wantConfig(t, r.config, "service.extensions", []any{"healthcheckv2/live", "healthcheckv2/ready", "oidc_client"})
	wantConfig(t, r.config, "service.pipelines.logs", map[string]any{
		"receivers": []any{"kafka"},
		"exporters": []any{"cloudevents"},
	})
	for _, key := range []string{"receivers.datastore", "receivers.structured_log", "processors", "exporters.kafka"} {
		if _, ok := lookup(r.config, key); ok {
			t.Errorf("gateway config has %s", key)
		}
	}

	wantSASLPasswordFromSecret(t, r, "courier-gateway", "password")
	tls := volume(t, r, "kafka-tls")
	if p := tls.Projected; p == nil || len(p.Sources) != 1 || p.Sources[0].Secret == nil ||
		p.Sources[0].Secret.Name != "courier-cluster-ca-cert" || len(p.Sources[0].Secret.Items) != 1 ||
		p.Sources[0].Secret.Items[0].Key != "ca.crt" || p.Sources[0].Secret.Items[0].Path != "ca.crt" {
		t.Errorf("kafka-tls volume: %+v", tls.VolumeSource)
	}
	volume(t, r, "oidc-secret")
	volume(t, r, "dead-letter")
	for _, v := range r.pod().Spec.Volumes {
		if v.Name == "structured-logs" || v.Name == "datastore-tls" {
			t.Errorf("gateway pod mounts %s", v.Name)
		}
	}
	if e := envVar(r, "COURIER_DATASTORE_DSN"); e != nil {
		t.Error("gateway pod reads a datastore Secret")
	}
}

// TestAgentKafka renders the agent example: a DaemonSet whose structured log
// events go to Kafka, at least once, and nothing of the sink.
func TestAgentKafka(t *testing.T) {
	r := renderRelease(t, loadValues(t, examplesDir+"/agent-kafka.yaml"))
	validate(t, r)

	if r.daemonSet == nil {
		t.Fatal("the agent example renders no DaemonSet")
	}
	wantSettings(t, r.config, "exporters.kafka", agentExporterSettings)
	wantConfig(t, r.config, "exporters.kafka.brokers", []any{"courier-kafka-bootstrap.kafka.svc:9093"})
	wantConfig(t, r.config, "exporters.kafka.client_id", "courier-agent")
	wantConfig(t, r.config, "exporters.kafka.logs.topic", "courier-events")
	wantConfig(t, r.config, "exporters.kafka.producer.compression", "zstd")
	wantConfig(t, r.config, "exporters.kafka.tls.ca_file", "/etc/otelcol-courier-secrets/kafka-tls/ca.crt")
	wantConfig(t, r.config, "exporters.kafka.auth.sasl.password", "${env:COURIER_KAFKA_SASL_PASSWORD}")
	wantConfig(t, r.config, "receivers.structured_log.include", []any{"/var/log/omniverse/*.log"})
	wantConfig(t, r.config, "receivers.structured_log.dead_letter.directory", "/var/lib/otelcol-courier/dead-letter")
	wantConfig(t, r.config, "service.extensions", []any{"healthcheckv2/live", "healthcheckv2/ready"})
	wantConfig(t, r.config, "service.pipelines.logs", map[string]any{
		"receivers": []any{"structured_log"},
		"exporters": []any{"kafka"},
	})
	for _, key := range []string{"exporters.cloudevents", "extensions.oidc_client", "receivers.kafka", "receivers.datastore"} {
		if _, ok := lookup(r.config, key); ok {
			t.Errorf("agent config has %s", key)
		}
	}

	wantSASLPasswordFromSecret(t, r, "courier-agent", "password")
	volume(t, r, "kafka-tls")
	volume(t, r, "structured-logs")
	for _, v := range r.pod().Spec.Volumes {
		if v.Name == "oidc-secret" {
			t.Errorf("agent exporting to Kafka mounts %s", v.Name)
		}
	}
	// Events too large for a Kafka record even alone are dead-lettered by
	// the receiver.
	volume(t, r, "dead-letter")
	if e := envVar(r, "GOMEMLIMIT"); e == nil || e.Value != "204MiB" {
		t.Errorf("GOMEMLIMIT = %+v, want 204MiB (80 %% of 256Mi)", e)
	}
}

// TestDeploymentKafka: the datastore agent (the seed's values) exporting to
// Kafka, TLS with a client certificate under Strimzi's key names.
func TestDeploymentKafka(t *testing.T) {
	r := renderRelease(t, loadValues(t, "seed.yaml", "postgresql.yaml", "kafka-deployment.yaml"))
	validate(t, r)

	if r.deployment == nil {
		t.Fatal("no Deployment")
	}
	if a := r.pod().Spec.Affinity; a == nil || a.PodAntiAffinity == nil {
		t.Error("replicas do not prefer different nodes")
	}
	wantSettings(t, r.config, "exporters.kafka", agentExporterSettings)
	wantConfig(t, r.config, "exporters.kafka.brokers", []any{"kafka-0.kafka.svc:9093", "kafka-1.kafka.svc:9093"})
	wantConfig(t, r.config, "exporters.kafka.logs.topic", "nvsentinel-events")
	wantConfig(t, r.config, "exporters.kafka.producer.compression", "none")
	wantConfig(t, r.config, "exporters.kafka.tls", map[string]any{
		"insecure":             false,
		"cert_file":            "/etc/otelcol-courier-secrets/kafka-tls/tls.crt",
		"key_file":             "/etc/otelcol-courier-secrets/kafka-tls/tls.key",
		"insecure_skip_verify": true,
	})
	wantConfig(t, r.config, "receivers.datastore.leader_election.enabled", true)
	wantConfig(t, r.config, "receivers.datastore.dead_letter.directory", "/var/lib/otelcol-courier/dead-letter")
	wantConfig(t, r.config, "processors.event_metadata.source", "nvsentinel://{cluster}/healthevents")
	wantConfig(t, r.config, "service.pipelines.logs.exporters", []any{"kafka"})
	wantConfig(t, r.config, "service.pipelines.logs.processors", []any{"event_metadata"})
	wantConfig(t, r.config, "service.extensions", []any{"healthcheckv2/live", "healthcheckv2/ready"})
	for _, key := range []string{"exporters.cloudevents", "extensions.oidc_client", "exporters.kafka.auth", "exporters.kafka.client_id"} {
		if _, ok := lookup(r.config, key); ok {
			t.Errorf("config has %s", key)
		}
	}
	if e := envVar(r, "COURIER_KAFKA_SASL_PASSWORD"); e != nil {
		t.Error("no SASL configured, yet the pod reads a password")
	}
	tls := volume(t, r, "kafka-tls")
	if p := tls.Projected; p == nil || len(p.Sources) != 1 || p.Sources[0].Secret == nil ||
		p.Sources[0].Secret.Name != "courier-kafka-user" || len(p.Sources[0].Secret.Items) != 2 ||
		p.Sources[0].Secret.Items[0].Key != "user.crt" || p.Sources[0].Secret.Items[0].Path != "tls.crt" ||
		p.Sources[0].Secret.Items[1].Key != "user.key" || p.Sources[0].Secret.Items[1].Path != "tls.key" {
		t.Errorf("kafka-tls volume: %+v", tls.VolumeSource)
	} else if p.DefaultMode == nil || *p.DefaultMode != 0o440 {
		t.Errorf("kafka-tls defaultMode %v, want 0440", p.DefaultMode)
	}
	for _, v := range r.pod().Spec.Volumes {
		if v.Name == "oidc-secret" {
			t.Errorf("agent exporting to Kafka mounts %s", v.Name)
		}
	}
	// Events too large for a Kafka record even alone are dead-lettered by
	// the receiver.
	volume(t, r, "dead-letter")
}

// TestKafkaSecretsStayOutOfConfigMap: the SASL password reaches the
// collector only as an environment variable from its Secret. No manifest but
// the pod's env names it, and a password put into the values fails rendering
// instead of landing in the ConfigMap.
func TestKafkaSecretsStayOutOfConfigMap(t *testing.T) {
	for _, example := range []string{"gateway.yaml", "agent-kafka.yaml"} {
		t.Run(example, func(t *testing.T) {
			values := loadValues(t, examplesDir+"/"+example)
			r := renderRelease(t, values) // checkSecrets: every password is an ${env:} of a Secret
			for key, data := range r.configMap.Data {
				if strings.Contains(data, saslPasswordStandIn) {
					t.Errorf("ConfigMap %s holds the password", key)
				}
				if !strings.Contains(data, "password: ${env:COURIER_KAFKA_SASL_PASSWORD}") {
					t.Errorf("ConfigMap %s does not take the password from the environment:\n%s", key, data)
				}
			}

			values["kafka"].(map[string]any)["sasl"].(map[string]any)["password"] = saslPasswordStandIn
			manifest, err := render(values)
			if err == nil || !strings.Contains(err.Error(), "kafka.sasl.password is not read") {
				t.Errorf("render with kafka.sasl.password: error %v, want one saying it is not read", err)
			}
			if strings.Contains(manifest, saslPasswordStandIn) {
				t.Error("the password in the values reached a manifest")
			}
		})
	}
}

func wantSASLPasswordFromSecret(t *testing.T, r *release, secret, key string) {
	t.Helper()
	e := envVar(r, "COURIER_KAFKA_SASL_PASSWORD")
	if e == nil || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != secret || e.ValueFrom.SecretKeyRef.Key != key {
		t.Errorf("COURIER_KAFKA_SASL_PASSWORD = %+v, want key %s of Secret %s", e, key, secret)
	}
}

// TestKafkaRenderErrors: Kafka values that cannot make a working collector
// fail rendering with a message that says what to set.
func TestKafkaRenderErrors(t *testing.T) {
	datastore := map[string]any{"connectionSecret": map[string]any{"name": "x"}}
	daemonset := func(kafka map[string]any) map[string]any {
		return map[string]any{
			"mode": "daemonset", "output": "kafka",
			"structuredLog": map[string]any{"hostPath": "/var/log/omniverse"},
			"kafka":         kafka,
		}
	}
	gateway := func(kafka map[string]any) map[string]any {
		kafka["brokers"] = []any{"kafka:9092"}
		return map[string]any{"mode": "gateway", "kafka": kafka}
	}
	for _, tt := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"gateway without brokers", map[string]any{"mode": "gateway"},
			"kafka.brokers is required in gateway mode: the Kafka bootstrap servers"},
		{"daemonset agent without brokers", daemonset(map[string]any{}),
			"kafka.brokers is required with output: kafka: the Kafka bootstrap servers"},
		{"deployment agent without brokers", map[string]any{"output": "kafka", "datastore": datastore, "exporter": map[string]any{"metadata": map[string]any{"cluster": "c1"}}},
			"kafka.brokers is required with output: kafka"},
		{"brokers as one string", daemonset(map[string]any{"brokers": "a:9092,b:9092"}),
			`kafka.brokers must be a list of host:port`},
		{"empty broker", daemonset(map[string]any{"brokers": []any{""}}),
			`kafka.brokers: "" is not a host:port`},
		{"unknown output", map[string]any{"output": "otlp", "datastore": datastore},
			`output: "otlp" is not one of cloudevents, kafka`},
		{"another encoding", daemonset(map[string]any{"brokers": []any{"kafka:9092"}, "encoding": "otlp_json"}),
			`kafka.encoding: "otlp_json" is not supported`},
		{"no topic", gateway(map[string]any{"topic": ""}), "kafka.topic is required in gateway mode"},
		{"no group", gateway(map[string]any{"groupId": ""}), "kafka.groupId is required in gateway mode"},
		{"unknown initial offset", gateway(map[string]any{"initialOffset": "oldest"}),
			`kafka.initialOffset: "oldest" is not one of earliest, latest`},
		{"CA without TLS", gateway(map[string]any{"tls": map[string]any{"caSecret": map[string]any{"name": "ca"}}}),
			"need kafka.tls.enabled: true"},
		{"password in the values", gateway(map[string]any{"sasl": map[string]any{"mechanism": "PLAIN", "username": "u", "password": "p"}}),
			"kafka.sasl.password is not read"},
		{"SASL without a password Secret", gateway(map[string]any{"sasl": map[string]any{"mechanism": "SCRAM-SHA-256", "username": "u"}}),
			"kafka.sasl.passwordSecret.name is required with kafka.sasl.mechanism"},
		{"SASL without a user", gateway(map[string]any{"sasl": map[string]any{"mechanism": "PLAIN", "passwordSecret": map[string]any{"name": "s"}}}),
			"kafka.sasl.username is required with kafka.sasl.mechanism"},
		{"unknown SASL mechanism", gateway(map[string]any{"sasl": map[string]any{"mechanism": "GSSAPI"}}),
			`kafka.sasl.mechanism: "GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
