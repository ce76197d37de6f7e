package deploytest

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestSeedFileHoldsTheSeedsBlocks: testdata/seed.yaml is the seed document's
// values file: every YAML block of the page that starts at `global:` or
// `event-exporter:` is in it, value for value.
func TestSeedFileHoldsTheSeedsBlocks(t *testing.T) {
	page := readFile(t, "testdata/seed-event-exporter.md")
	seed, err := chartutil.ReadValuesFile("testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(page, -1)
	n := 0
	for _, b := range blocks {
		if !strings.HasPrefix(b[1], "global:") && !strings.HasPrefix(b[1], "event-exporter:") {
			continue // a fragment shown out of its place (backfill:, failureHandling: examples)
		}
		n++
		var block map[string]any
		if err := yaml.Unmarshal([]byte(b[1]), &block); err != nil {
			t.Fatalf("seed block %q: %v", b[1], err)
		}
		if path, ok := contains(seed, block, ""); !ok {
			t.Errorf("seed.yaml does not hold the seed's block at %s:\n%s", path, b[1])
		}
	}
	if n < 8 {
		t.Errorf("found %d value blocks in the seed, want at least 8", n)
	}
}

// contains reports whether every value of sub is in m, and the first key
// where it is not.
func contains(m map[string]any, sub map[string]any, prefix string) (string, bool) {
	for k, v := range sub {
		if sm, ok := v.(map[string]any); ok {
			mm, _ := m[k].(map[string]any)
			if p, ok := contains(mm, sm, prefix+k+"."); !ok {
				return p, false
			}
			continue
		}
		if !reflect.DeepEqual(m[k], v) {
			return prefix + k, false
		}
	}
	return "", true
}

// TestSeedFile: the seed's values file, unchanged and alone, renders the
// collector NVSentinel's exporter would be (its default datastore, the
// in-cluster MongoDB), with the user's cluster, metadata, sink and OIDC
// settings, and a config that validates. As the event-exporter subchart of
// an umbrella chart it renders the same.
func TestSeedFile(t *testing.T) {
	values := loadValues(t, "seed.yaml")
	r := renderRelease(t, values)
	validate(t, r)

	wantConfig(t, r.config, "processors.event_metadata.metadata", map[string]any{
		"cluster": "my-cluster", "environment": "production", "region": "us-west-2", "datacenter": "dc01", "tenant": "acme-corp",
	})
	wantConfig(t, r.config, "exporters.cloudevents.endpoint", seedEndpoint)
	wantConfig(t, r.config, "exporters.cloudevents.timeout", "30s")
	wantConfig(t, r.config, "extensions.oidc_client.token_url", seedTokenURL)
	wantConfig(t, r.config, "extensions.oidc_client.client_id", "nvsentinel-exporter")
	wantConfig(t, r.config, "extensions.oidc_client.scopes", []any{"events:write"})
	wantConfig(t, r.config, "receivers.datastore.provider", "mongodb")
	wantConfig(t, r.config, "receivers.datastore.mongodb.uri", "${env:MONGODB_URI}")
	wantConfig(t, r.config, "exporters.cloudevents.retry_on_failure.max_retries", 17.0)
	wantConfig(t, r.config, "receivers.datastore.backfill.max_events", 1000000.0)
	wantConfig(t, r.config, "service.telemetry.metrics.readers", []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{
		"host": "0.0.0.0", "port": 8888.0, "without_scope_info": true, "without_type_suffix": true, "without_units": true,
	}}}}})
	if from := r.container(t).EnvFrom; len(from) != 1 || from[0].ConfigMapRef == nil || from[0].ConfigMapRef.Name != "mongodb-config" {
		t.Errorf("envFrom %+v, want NVSentinel's mongodb-config ConfigMap", from)
	}
	if oidc := volume(t, r, "oidc-secret"); oidc.Secret == nil || oidc.Secret.SecretName != "event-exporter-oidc-secret" {
		t.Errorf("oidc-secret volume: %+v", oidc.VolumeSource)
	}

	alias := renderUmbrella(t, values)
	if got, want := alias.configMap.Data["config.yaml"], r.configMap.Data["config.yaml"]; got != want {
		t.Errorf("as the event-exporter subchart the config differs:\n%s\nstandalone:\n%s", got, want)
	}
	if !reflect.DeepEqual(alias.container(t).EnvFrom, r.container(t).EnvFrom) ||
		!reflect.DeepEqual(volume(t, alias, "datastore-tls"), volume(t, r, "datastore-tls")) ||
		!reflect.DeepEqual(volume(t, alias, "oidc-secret"), volume(t, r, "oidc-secret")) {
		t.Error("as the event-exporter subchart the pod reads other sources")
	}
	if got := alias.deployment.Name; got != "nvsentinel-event-exporter" {
		t.Errorf("as the event-exporter subchart the Deployment is %s", got)
	}
}

// TestEventExporterBlockWins: the event-exporter block is merged over the
// top-level values, maps key by key.
func TestEventExporterBlockWins(t *testing.T) {
	values := with("exporter.sink.timeout", "10s", "exporter.workers", 3)
	values["event-exporter"] = map[string]any{"exporter": map[string]any{"sink": map[string]any{"timeout": "45s"}}}
	r := renderRelease(t, values)
	wantConfig(t, r.config, "exporters.cloudevents.timeout", "45s")
	wantConfig(t, r.config, "exporters.cloudevents.sending_queue.num_consumers", 3.0)
	wantConfig(t, r.config, "exporters.cloudevents.endpoint", "https://sink.example.com/events")
}

// TestNVSentinelKeysAccepted: the keys of NVSentinel's own event-exporter
// values (values-full.yaml) that Courier does not need are accepted, and
// replicaCount sets the replicas.
func TestNVSentinelKeysAccepted(t *testing.T) {
	block := with(
		"replicaCount", 1,
		"image.pullPolicy", "Always",
		"podAnnotations", map[string]any{"sidecar.istio.io/inject": "false"},
		"exporter.resumeToken", map[string]any{"database": "nvsentinel", "collection": "resumetokens"},
		"mongodbStore.clientCertMountPath", "/etc/ssl/mongo-client",
	)
	values := map[string]any{
		"event-exporter": block,
		"global":         map[string]any{"image": map[string]any{"tag": "main"}, "metricsPort": 2112, "tracing": map[string]any{"enabled": false}},
	}
	r := renderRelease(t, values)
	if *r.deployment.Spec.Replicas != 1 {
		t.Errorf("replicas %d, want replicaCount's 1", *r.deployment.Spec.Replicas)
	}
	if r.pdb != nil {
		t.Error("one replica has a PodDisruptionBudget: it would block every drain")
	}
	if got := r.container(t).Image; got != "ghcr.io/courier-otel/otelcol-courier:0.1.0" {
		t.Errorf("image %s: NVSentinel's global.image.tag must not apply to Courier's image", got)
	}
	if r.pod().Annotations["sidecar.istio.io/inject"] != "false" {
		t.Error("podAnnotations not applied")
	}
	// NVSentinel's metrics port (checkPod checked that container and config
	// agree): its PodMonitor scrapes it, its metrics-access NetworkPolicy lets it in.
	i := slices.IndexFunc(r.container(t).Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	if i < 0 || r.container(t).Ports[i].ContainerPort != 2112 {
		t.Errorf("metrics port in %+v, want global.metricsPort 2112", r.container(t).Ports)
	}
}

// TestPodDisruptionBudget: rendered for two or more replicas of a Deployment.
func TestPodDisruptionBudget(t *testing.T) {
	r := renderRelease(t, required())
	if r.pdb == nil {
		t.Fatal("replicas: 2 renders no PodDisruptionBudget")
	}
	if r.pdb.Spec.MaxUnavailable == nil || r.pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("maxUnavailable %v, want 1", r.pdb.Spec.MaxUnavailable)
	}
	if !reflect.DeepEqual(r.pdb.Spec.Selector.MatchLabels, r.deployment.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selects %v, the Deployment's pods are %v", r.pdb.Spec.Selector.MatchLabels, r.deployment.Spec.Selector.MatchLabels)
	}
	if r := renderRelease(t, loadValues(t, "daemonset.yaml")); r.pdb != nil {
		t.Error("a DaemonSet has a PodDisruptionBudget")
	}
}

// TestMonitors: the PodMonitor and ServiceMonitor scrape the metrics port of
// Courier's pods; the ServiceMonitor brings its Service.
func TestMonitors(t *testing.T) {
	r := renderRelease(t, with(
		"podMonitor", map[string]any{"enabled": true, "interval": "15s", "labels": map[string]any{"release": "prometheus"}},
		"serviceMonitor", map[string]any{"enabled": true},
	))
	pm := r.podMonitor
	if pm == nil || len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port == nil ||
		*pm.Spec.PodMetricsEndpoints[0].Port != "metrics" || string(pm.Spec.PodMetricsEndpoints[0].Interval) != "15s" {
		t.Fatalf("PodMonitor: %+v", pm)
	}
	if pm.Labels["release"] != "prometheus" || !reflect.DeepEqual(pm.Spec.Selector.MatchLabels, r.deployment.Spec.Selector.MatchLabels) {
		t.Errorf("PodMonitor labels %v, selector %v", pm.Labels, pm.Spec.Selector.MatchLabels)
	}
	sm, svc := r.serviceMonitor, r.service
	if sm == nil || svc == nil {
		t.Fatal("serviceMonitor.enabled renders no ServiceMonitor and Service")
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" {
		t.Errorf("ServiceMonitor endpoints %+v", sm.Spec.Endpoints)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, the Service has %v", k, v, svc.Labels)
		}
	}
	if !reflect.DeepEqual(svc.Spec.Selector, r.deployment.Spec.Selector.MatchLabels) {
		t.Errorf("Service selects %v", svc.Spec.Selector)
	}
	ports := map[string]string{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.TargetPort.String()
	}
	if ports["metrics"] != "metrics" {
		t.Errorf("Service ports %v", ports)
	}
	if r := renderRelease(t, required()); r.podMonitor != nil || r.serviceMonitor != nil || r.service != nil {
		t.Error("monitors or a Service rendered by default")
	}
}

// TestNetworkPolicy: egress only to DNS and the ports of the sink, the token
// endpoint, the datastore and Kafka; ingress only to metrics and health.
func TestNetworkPolicy(t *testing.T) {
	peer := map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}
	values := loadValues(t, "testdata/nvsentinel/postgresql.yaml") // the sink on port 8443
	values["networkPolicy"] = map[string]any{"enabled": true, "ingressFrom": []any{peer}}
	r := renderRelease(t, values)
	np := r.networkPolicy
	if np == nil {
		t.Fatal("networkPolicy.enabled renders no NetworkPolicy")
	}
	if !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, r.deployment.Spec.Selector.MatchLabels) {
		t.Errorf("NetworkPolicy selects %v", np.Spec.PodSelector.MatchLabels)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].NamespaceSelector == nil {
		t.Fatalf("ingress %+v", np.Spec.Ingress)
	}
	var in []string
	for _, p := range np.Spec.Ingress[0].Ports {
		in = append(in, p.Port.String())
	}
	if !reflect.DeepEqual(in, []string{"metrics", "health"}) {
		t.Errorf("ingress ports %v, want metrics, health", in)
	}
	var out []string
	for _, rule := range np.Spec.Egress {
		for _, p := range rule.Ports {
			out = append(out, string(*p.Protocol)+"/"+p.Port.String())
		}
	}
	// DNS; the sink (https, :8443), the token endpoint (https), PostgreSQL.
	if want := []string{"UDP/53", "TCP/53", "TCP/8443", "TCP/443", "TCP/5432"}; !reflect.DeepEqual(out, want) {
		t.Errorf("egress ports %v, want %v", out, want)
	}

	r = renderRelease(t, map[string]any{
		"mode": "gateway", "networkPolicy": map[string]any{"enabled": true},
		"kafka":    map[string]any{"brokers": []any{"kafka-0.kafka:9093", "kafka-1.kafka:9093"}},
		"exporter": required()["exporter"],
	})
	out = nil
	for _, rule := range r.networkPolicy.Spec.Egress {
		for _, p := range rule.Ports {
			out = append(out, p.Port.String())
		}
	}
	if want := []string{"53", "53", "443", "9093"}; !reflect.DeepEqual(out, want) {
		t.Errorf("gateway egress ports %v, want %v", out, want)
	}
}

// TestPlacement: NVSentinel's global.systemNodeSelector,
// systemNodeTolerations and affinity place the pods, over the chart's own
// values, as in NVSentinel's exporter chart; priorityClassName is passed on.
func TestPlacement(t *testing.T) {
	values := loadValues(t, "testdata/nvsentinel/mongodb-incluster.yaml")
	values["priorityClassName"] = "system-cluster-critical"
	values["nodeSelector"] = map[string]any{"ignored": "because-global-wins"}
	r := renderRelease(t, values)
	spec := r.pod().Spec
	if !reflect.DeepEqual(spec.NodeSelector, map[string]string{"node-role.kubernetes.io/system": "true"}) {
		t.Errorf("nodeSelector %v, want global.systemNodeSelector", spec.NodeSelector)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "node-role.kubernetes.io/system" || spec.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("tolerations %+v, want global.systemNodeTolerations", spec.Tolerations)
	}
	if spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priorityClassName %q", spec.PriorityClassName)
	}
	if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil {
		t.Error("without an affinity value, replicas no longer prefer different nodes")
	}

	own := with("nodeSelector", map[string]any{"pool": "system"},
		"tolerations", []any{map[string]any{"operator": "Exists"}},
		"affinity", map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "pool", "operator": "In", "values": []any{"system"}}}}},
		}}})
	spec = renderRelease(t, own).pod().Spec
	if spec.NodeSelector["pool"] != "system" || len(spec.Tolerations) != 1 || spec.Affinity.NodeAffinity == nil || spec.Affinity.PodAntiAffinity != nil {
		t.Errorf("the chart's own nodeSelector/tolerations/affinity: %v %v %+v", spec.NodeSelector, spec.Tolerations, spec.Affinity)
	}
}

// TestSchemaCoversEveryValue: values.schema.json and values.yaml name the
// same keys, so that a key added to one is not refused (or left unchecked)
// by the other. `global` is NVSentinel's and open.
func TestSchemaCoversEveryValue(t *testing.T) {
	values, err := chartutil.ReadValuesFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(readFile(t, chartDir+"/values.schema.json")), &schema); err != nil {
		t.Fatal(err)
	}
	root, _ := lookup(schema, "definitions.values")
	// Keys of the schema that values.yaml leaves out on purpose.
	schemaOnly := map[string]bool{"event-exporter": true, "kafka.sasl.password": true}
	var walk func(prefix string, v map[string]any, s map[string]any)
	walk = func(prefix string, v map[string]any, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		open, _ := s["additionalProperties"].(bool)
		for k, sub := range v {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if !open {
					t.Errorf("values.yaml has %s%s, the schema does not", prefix, k)
				}
				continue
			}
			if vm, ok := sub.(map[string]any); ok && ps["properties"] != nil {
				walk(prefix+k+".", vm, ps)
			}
		}
		for k, ps := range props {
			if _, ok := v[k]; !ok && !schemaOnly[prefix+k] && prefix != "global." {
				t.Errorf("the schema has %s%s, values.yaml does not (%v)", prefix, k, ps)
			}
		}
	}
	walk("", values, root.(map[string]any))
}
