package deploytest

import (
	"fmt"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../helm/courier"
	examplesDir = chartDir + "/examples"
	releaseName = "courier"
	namespace   = "nvsentinel"
)

// The values of the seed's `event-exporter:` block that the rendered config
// must carry.
const (
	seedEndpoint = "https://events.example.com/api/v1/events"
	seedTokenURL = "https://auth.example.com/oauth2/token"
)

// apiVersions of the kinds the chart renders.
var apiVersions = map[string]string{
	"ConfigMap":           "v1",
	"ServiceAccount":      "v1",
	"Service":             "v1",
	"Deployment":          "apps/v1",
	"DaemonSet":           "apps/v1",
	"PodDisruptionBudget": "policy/v1",
	"NetworkPolicy":       "networking.k8s.io/v1",
	"PodMonitor":          "monitoring.coreos.com/v1",
	"ServiceMonitor":      "monitoring.coreos.com/v1",
	"PrometheusRule":      "monitoring.coreos.com/v1",
}

// release is a rendered chart, every manifest decoded into its k8s.io/api type.
type release struct {
	configMap      *corev1.ConfigMap
	serviceAccount *corev1.ServiceAccount
	deployment     *appsv1.Deployment
	daemonSet      *appsv1.DaemonSet
	// Optional objects.
	service        *corev1.Service
	pdb            *policyv1.PodDisruptionBudget
	networkPolicy  *networkingv1.NetworkPolicy
	podMonitor     *monitoringv1.PodMonitor
	serviceMonitor *monitoringv1.ServiceMonitor

	config map[string]any // the collector config in the ConfigMap

	// monitoring.dashboard and monitoring.prometheusRule, when enabled.
	dashboard      *corev1.ConfigMap
	prometheusRule map[string]any
}

func (r *release) pod() *corev1.PodTemplateSpec {
	if r.deployment != nil {
		return &r.deployment.Spec.Template
	}
	return &r.daemonSet.Spec.Template
}

func (r *release) container(t *testing.T) *corev1.Container {
	t.Helper()
	c := r.pod().Spec.Containers
	if len(c) != 1 {
		t.Fatalf("pod has %d containers, want 1", len(c))
	}
	return &c[0]
}

// loadValues merges values files the way `helm -f a -f b` does. A bare name
// is in testdata/, a path (the chart's examples) is relative to this
// directory. Files are given to the chart as they are: seed.yaml keeps its
// `event-exporter:` and `global:` blocks.
func loadValues(t *testing.T, files ...string) map[string]any {
	t.Helper()
	merged := map[string]any{}
	for _, f := range files {
		file := f
		if !strings.Contains(f, "/") {
			file = filepath.Join("testdata", f)
		}
		vals, err := chartutil.ReadValuesFile(file)
		if err != nil {
			t.Fatal(err)
		}
		mergeValues(merged, vals)
	}
	return merged
}

// mergeValues is Helm's merge of values files: maps merge, anything else replaces.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// render renders the chart as `helm template` does.
func render(values map[string]any) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", err
	}
	return renderChart(chrt, values)
}

// renderChart renders a loaded chart (Courier's, or an umbrella chart with
// Courier as a dependency) as `helm template` does, values.schema.json
// included.
func renderChart(chrt *chart.Chart, values map[string]any) (string, error) {
	rel, err := newInstall(releaseName).Run(chrt, values)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// newInstall is `helm template` of a release in namespace nvsentinel.
func newInstall(name string) *action.Install {
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.ReleaseName = name
	install.Namespace = namespace
	return install
}

// renderRelease renders the chart and decodes every manifest strictly: an
// unknown or misplaced field fails the test, as `kubectl apply` would fail
// (or silently drop it).
func renderRelease(t *testing.T, values map[string]any) *release {
	t.Helper()
	manifest, err := render(values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decodeRelease(t, manifest)
}

// decodeRelease decodes a rendered manifest strictly (see renderRelease).
func decodeRelease(t *testing.T, manifest string) *release {
	t.Helper()
	var r release
	for name, doc := range releaseutil.SplitManifests(manifest) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var obj any
		switch meta.Kind {
		case "ConfigMap":
			var om struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &om); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if strings.HasSuffix(om.Metadata.Name, "-dashboard") {
				r.dashboard = &corev1.ConfigMap{}
				obj = r.dashboard
				break
			}
			r.configMap = &corev1.ConfigMap{}
			obj = r.configMap
		case "PrometheusRule":
			// No Go type without the operator's module: decoded as a map and
			// checked by checkPrometheusRule (monitoring_test.go).
			r.prometheusRule = map[string]any{}
			obj = &r.prometheusRule
		case "ServiceAccount":
			r.serviceAccount = &corev1.ServiceAccount{}
			obj = r.serviceAccount
		case "Deployment":
			r.deployment = &appsv1.Deployment{}
			obj = r.deployment
		case "DaemonSet":
			r.daemonSet = &appsv1.DaemonSet{}
			obj = r.daemonSet
		case "Service":
			r.service = &corev1.Service{}
			obj = r.service
		case "PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			obj = r.pdb
		case "NetworkPolicy":
			r.networkPolicy = &networkingv1.NetworkPolicy{}
			obj = r.networkPolicy
		case "PodMonitor":
			r.podMonitor = &monitoringv1.PodMonitor{}
			obj = r.podMonitor
		case "ServiceMonitor":
			r.serviceMonitor = &monitoringv1.ServiceMonitor{}
			obj = r.serviceMonitor
		default:
			t.Fatalf("%s: unexpected kind %q", name, meta.Kind)
		}
		if want := apiVersions[meta.Kind]; meta.APIVersion != want {
			t.Fatalf("%s: %s of apiVersion %q, want %q", name, meta.Kind, meta.APIVersion, want)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s (%s) does not decode strictly into its k8s.io/api type: %v\n%s", name, meta.Kind, err, doc)
		}
	}
	if r.configMap == nil || r.serviceAccount == nil || (r.deployment == nil) == (r.daemonSet == nil) {
		t.Fatalf("want a ConfigMap, a ServiceAccount and one Deployment or DaemonSet, got:\n%s", manifest)
	}
	if err := yaml.Unmarshal([]byte(r.configMap.Data["config.yaml"]), &r.config); err != nil {
		t.Fatalf("collector config: %v", err)
	}
	checkPod(t, &r)
	checkSecrets(t, &r)
	return &r
}

// secretKeys are the config keys whose values are secrets: they must be an
// ${env:NAME} reference to a variable the container takes from a Secret, so
// that no secret is ever written into the ConfigMap. Two exceptions, both
// NVSentinel's own credential-free connections: a PostgreSQL DSN built from
// global.datastore.connection (no password: the client certificate
// authenticates), and the in-cluster MongoDB URI of NVSentinel's
// mongodb-config ConfigMap or global.datastore.connection (X.509, no
// credentials in it).
var secretKeys = map[string]bool{"password": true, "client_secret": true, "dsn": true, "uri": true}

// checkSecrets walks the collector config: every secret-valued key refers to
// an environment variable filled from a Secret.
func checkSecrets(t *testing.T, r *release) {
	t.Helper()
	fromSecret := map[string]bool{}
	for _, e := range r.container(t).Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			fromSecret[e.Name] = true
		}
	}
	for _, e := range r.container(t).EnvFrom {
		if e.ConfigMapRef != nil && e.ConfigMapRef.Name == "mongodb-config" {
			fromSecret["MONGODB_URI"] = true
		}
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				walk(strings.TrimPrefix(key+"."+k, "."), sub)
			}
		case []any:
			for i, sub := range v {
				walk(fmt.Sprintf("%s[%d]", key, i), sub)
			}
		default:
			if !secretKeys[key[strings.LastIndex(key, ".")+1:]] {
				return
			}
			s, _ := v.(string)
			if strings.HasSuffix(key, ".dsn") && !strings.HasPrefix(s, "${") && !strings.Contains(s, "password") {
				return // a DSN without a password (global.datastore.connection)
			}
			if u, err := url.Parse(s); strings.HasSuffix(key, ".uri") && err == nil && u.Scheme == "mongodb" && u.User == nil {
				return // a URI without credentials (NVSentinel's in-cluster MongoDB, from connection.host)
			}
			name, ok := strings.CutPrefix(s, "${env:")
			name, ok2 := strings.CutSuffix(name, "}")
			if !ok || !ok2 || !fromSecret[name] {
				t.Errorf("config %s = %q: a secret in the ConfigMap, not a reference to an environment variable from a Secret", key, s)
			}
		}
	}
	walk("", r.config)
}

// checkPod checks what every rendered pod must have: the security settings,
// probes and ports, GOMEMLIMIT, and a mount for every file the config names.
func checkPod(t *testing.T, r *release) {
	t.Helper()
	pod := r.pod()
	c := r.container(t)

	if pod.Annotations["checksum/config"] == "" {
		t.Error("pod template has no checksum/config annotation")
	}
	if got := r.serviceAccount.AutomountServiceAccountToken; got == nil || *got {
		t.Error("ServiceAccount mounts a token")
	}
	if got := pod.Spec.AutomountServiceAccountToken; got == nil || *got {
		t.Error("pod mounts a service account token")
	}
	if pod.Spec.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("pod runs as service account %q, chart created %q", pod.Spec.ServiceAccountName, r.serviceAccount.Name)
	}
	if psc := pod.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context does not run as non-root: %+v", psc)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context: %+v", sc)
	}
	if !slices.Contains(c.Args, "--config=/etc/otelcol-courier/config.yaml") {
		t.Errorf("args %q do not name the mounted config", c.Args)
	}

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	// The metrics port is 8888 or NVSentinel's global.metricsPort; the
	// container and the config must agree on it.
	if want := map[string]int32{"health": 13133, "ready": 13134, "metrics": ports["metrics"]}; ports["metrics"] == 0 || !reflect.DeepEqual(ports, want) {
		t.Errorf("ports %v, want %v", ports, want)
	}
	checkProbes(t, r, c)
	readers, _ := lookup(r.config, "service.telemetry.metrics.readers")
	if list, ok := readers.([]any); !ok || len(list) != 1 {
		t.Fatalf("service.telemetry.metrics.readers: %v", readers)
	} else {
		wantConfig(t, list[0], "pull.exporter.prometheus.host", "0.0.0.0")
		wantConfig(t, list[0], "pull.exporter.prometheus.port", float64(ports["metrics"]))
	}

	// Every file or directory the config names is on a mounted volume.
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = true
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			t.Errorf("volume mount %q names no volume", m.Name)
		}
		mounts[m.MountPath] = m
	}
	for _, key := range []string{
		"extensions.oidc_client.client_secret_file",
		"exporters.cloudevents.dead_letter.directory",
		"extensions.file_storage.directory",
		"receivers.datastore.postgresql.tls.ca_file",
		"receivers.datastore.postgresql.tls.cert_file",
		"receivers.datastore.postgresql.tls.key_file",
		"receivers.datastore.mongodb.tls.ca_file",
		"receivers.datastore.mongodb.tls.cert_file",
		"receivers.datastore.mongodb.tls.key_file",
		"receivers.kafka.tls.ca_file",
		"receivers.kafka.tls.cert_file",
		"receivers.kafka.tls.key_file",
		"exporters.kafka.tls.ca_file",
		"exporters.kafka.tls.cert_file",
		"exporters.kafka.tls.key_file",
	} {
		if v, ok := lookup(r.config, key); ok {
			if !mounted(mounts, v.(string)) {
				t.Errorf("%s: %v is on no volume mount", key, v)
			}
		}
	}
	for _, pattern := range lookupStringsOpt(r.config, "receivers.structured_log.include") {
		m, ok := mounts[path.Dir(pattern)]
		if !ok || m.ReadOnly {
			t.Errorf("structured_log folder %s is not mounted read-write: %+v", path.Dir(pattern), m)
		}
	}

	// GOMEMLIMIT: 80 % of the memory limit.
	var gomemlimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			gomemlimit = e.Value
		}
	}
	if limit, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		if want := fmt.Sprintf("%dMiB", limit.Value()*8/10>>20); gomemlimit != want {
			t.Errorf("GOMEMLIMIT = %q, want %q (80 %% of %s)", gomemlimit, want, limit.String())
		}
	}
}

func mounted(mounts map[string]corev1.VolumeMount, file string) bool {
	for dir := file; dir != "/"; dir = path.Dir(dir) {
		if _, ok := mounts[dir]; ok {
			return true
		}
	}
	return false
}

// validate runs `otelcol-courier validate` on the rendered config, with the
// container's environment: literal values as rendered, values from Secrets
// replaced by realistic stand-ins, NVSentinel's mongodb-config ConfigMap by
// what its chart renders.
func validate(t *testing.T, r *release) {
	t.Helper()
	validateWith(t, r, map[string]map[string]string{"mongodb-config": mongodbConfigStandIn})
}

// validateWith is validate with the data of the ConfigMaps the pod reads.
func validateWith(t *testing.T, r *release, configMaps map[string]map[string]string) {
	t.Helper()
	standIns := map[string]string{
		"COURIER_DATASTORE_DSN":       "postgres://courier@postgresql.nvsentinel:5432/nvsentinel?sslmode=verify-full",
		"COURIER_DATASTORE_URI":       "mongodb://mongodb.nvsentinel:27017/?replicaSet=rs0",
		"COURIER_KAFKA_SASL_PASSWORD": saslPasswordStandIn,
	}
	env := map[string]string{}
	for _, e := range r.container(t).EnvFrom {
		data, ok := map[string]string(nil), false
		if e.ConfigMapRef != nil {
			data, ok = configMaps[e.ConfigMapRef.Name]
		}
		if !ok {
			t.Fatalf("envFrom %+v: no stand-in", e)
		}
		maps.Copy(env, data)
	}
	for _, e := range r.container(t).Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case standIns[e.Name] != "":
			env[e.Name] = standIns[e.Name]
		default:
			t.Fatalf("env %s: no stand-in for %+v", e.Name, e.ValueFrom)
		}
	}
	validateConfig(t, r.configMap.Data["config.yaml"], env)
}

func wantConfig(t *testing.T, config any, key string, want any) {
	t.Helper()
	got, ok := lookup(config, key)
	if !ok {
		t.Errorf("config has no %s", key)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config %s = %#v, want %#v", key, got, want)
	}
}

func lookupStrings(t *testing.T, config any, key string) []string {
	t.Helper()
	if _, ok := lookup(config, key); !ok {
		t.Errorf("config has no %s", key)
	}
	return lookupStringsOpt(config, key)
}

func lookupStringsOpt(config any, key string) []string {
	v, _ := lookup(config, key)
	list, _ := v.([]any)
	var out []string
	for _, s := range list {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

func volume(t *testing.T, r *release, name string) *corev1.Volume {
	t.Helper()
	for i, v := range r.pod().Spec.Volumes {
		if v.Name == name {
			return &r.pod().Spec.Volumes[i]
		}
	}
	t.Fatalf("pod has no volume %q", name)
	return nil
}

func envVar(r *release, name string) *corev1.EnvVar {
	for i, e := range r.pod().Spec.Containers[0].Env {
		if e.Name == name {
			return &r.pod().Spec.Containers[0].Env[i]
		}
	}
	return nil
}

// TestSeedValues renders the seed's values file unchanged with a standalone
// datastore connection of Courier's own (datastore.connectionSecret, a
// PostgreSQL DSN) and compares the collector config with
// testbed/e2e/testdata/nvsentinel.yaml, the hand translation the end-to-end
// tests run against a real PostgreSQL.
func TestSeedValues(t *testing.T) {
	r := renderRelease(t, loadValues(t, "seed.yaml", "postgresql.yaml"))
	validate(t, r)

	d := r.deployment
	if d == nil {
		t.Fatal("the seed's values render no Deployment")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	if d.Spec.Template.Spec.Affinity == nil || d.Spec.Template.Spec.Affinity.PodAntiAffinity == nil {
		t.Error("replicas do not prefer different nodes")
	}

	// The hand translation's settings that do not depend on the test's environment.
	var reference map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, "../../../testbed/e2e/testdata/nvsentinel.yaml")), &reference); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"receivers.datastore.provider",
		"receivers.datastore.backfill",
		"receivers.datastore.leader_election.enabled",
		"processors.event_metadata.source",
		"exporters.cloudevents.timeout",
		"exporters.cloudevents.encoding",
		"exporters.cloudevents.auth",
		"exporters.cloudevents.sending_queue",
		"exporters.cloudevents.retry_on_failure",
		"extensions.oidc_client.client_id",
		"extensions.oidc_client.scopes",
		"service.pipelines.logs.receivers",
		"service.pipelines.logs.exporters",
	} {
		want, ok := lookup(reference, key)
		if !ok {
			t.Fatalf("nvsentinel.yaml has no %s", key)
		}
		wantConfig(t, r.config, key, want)
	}
	// The seed's own values where the hand translation uses the test's.
	wantConfig(t, r.config, "exporters.cloudevents.endpoint", seedEndpoint)
	wantConfig(t, r.config, "extensions.oidc_client.token_url", seedTokenURL)
	// exporter.metadata and the seed's `metadata:` directly under event-exporter, merged.
	wantConfig(t, r.config, "processors.event_metadata.metadata", map[string]any{
		"cluster": "my-cluster", "environment": "production", "region": "us-west-2", "datacenter": "dc01", "tenant": "acme-corp",
	})
	// The seed sets no filter: everything is exported, as NVSentinel does.
	wantConfig(t, r.config, "service.pipelines.logs.processors", []any{"event_metadata"})
	wantConfig(t, r.config, "receivers.datastore.client_name", "event-exporter")
	wantConfig(t, r.config, "receivers.datastore.postgresql.dsn", "${env:COURIER_DATASTORE_DSN}")
	wantConfig(t, r.config, "receivers.datastore.postgresql.tls", map[string]any{
		"ca_file":   "/etc/ssl/client-certs/ca.crt",
		"cert_file": "/etc/ssl/client-certs/tls.crt",
		"key_file":  "/etc/ssl/client-certs/tls.key",
	})
	if _, ok := lookup(r.config, "exporters.cloudevents.tls"); ok {
		t.Error("insecureSkipVerify: false rendered a tls section")
	}

	c := r.container(t)
	if got, want := c.Resources.Limits.Memory().String(), "1Gi"; got != want {
		t.Errorf("memory limit %s, want the seed's %s", got, want)
	}
	if got, want := c.Resources.Requests.Cpu().String(), "500m"; got != want {
		t.Errorf("cpu request %s, want the seed's %s", got, want)
	}
	if e := envVar(r, "GOMEMLIMIT"); e == nil || e.Value != "819MiB" {
		t.Errorf("GOMEMLIMIT = %+v, want 819MiB", e)
	}
	if e := envVar(r, "COURIER_DATASTORE_DSN"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "courier-datastore" || e.ValueFrom.SecretKeyRef.Key != "dsn" {
		t.Errorf("COURIER_DATASTORE_DSN = %+v, want the dsn key of Secret courier-datastore", e)
	}
	oidc := volume(t, r, "oidc-secret")
	if oidc.Secret == nil || oidc.Secret.SecretName != "event-exporter-oidc-secret" ||
		len(oidc.Secret.Items) != 1 || oidc.Secret.Items[0].Key != "oidc-client-secret" {
		t.Errorf("oidc-secret volume: %+v", oidc.VolumeSource)
	}
	certs := volume(t, r, "datastore-tls")
	if certs.Secret == nil || certs.Secret.SecretName != "postgresql-client-cert" || len(certs.Secret.Items) != 3 {
		t.Errorf("datastore-tls volume: %+v", certs.VolumeSource)
	}
}

func TestDeploymentMongoDB(t *testing.T) {
	r := renderRelease(t, loadValues(t, "seed.yaml", "mongodb.yaml"))
	validate(t, r)

	if r.deployment == nil || *r.deployment.Spec.Replicas != 3 {
		t.Fatalf("want a Deployment of 3 replicas")
	}
	wantConfig(t, r.config, "receivers.datastore.provider", "mongodb")
	wantConfig(t, r.config, "receivers.datastore.mongodb.uri", "${env:COURIER_DATASTORE_URI}")
	wantConfig(t, r.config, "receivers.datastore.mongodb.database", "nvsentinel")
	wantConfig(t, r.config, "receivers.datastore.mongodb.tls", map[string]any{"ca_file": "/etc/ssl/mongo-client/ca.crt"})
	wantConfig(t, r.config, "processors.cel_filter.expression", "event.recommendedAction != 'NONE' && !('45' in event.errorCode)")
	wantConfig(t, r.config, "service.pipelines.logs.processors", []any{"event_metadata", "cel_filter"})
	if _, ok := lookup(r.config, "receivers.datastore.postgresql"); ok {
		t.Error("mongodb config has a postgresql section")
	}
	wantConfig(t, r.config, "exporters.cloudevents.tls.insecure_skip_verify", true)
	wantConfig(t, r.config, "extensions.oidc_client.tls.insecure_skip_verify", true)
	wantConfig(t, r.config, "extensions.oidc_client.scopes", []any{"events:write", "events:read"})

	// NVSentinel's Secret for external MongoDB holds the URI under MONGODB_URI.
	if e := envVar(r, "COURIER_DATASTORE_URI"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "nvsentinel-mongodb-uri" || e.ValueFrom.SecretKeyRef.Key != "MONGODB_URI" {
		t.Errorf("COURIER_DATASTORE_URI = %+v", e)
	}
	if certs := volume(t, r, "datastore-tls"); len(certs.Secret.Items) != 1 || certs.Secret.Items[0].Key != "ca.crt" {
		t.Errorf("datastore-tls volume mounts %+v, want ca.crt only", certs.Secret.Items)
	}
	if dl := volume(t, r, "dead-letter"); dl.PersistentVolumeClaim == nil || dl.PersistentVolumeClaim.ClaimName != "courier-dead-letter" {
		t.Errorf("dead-letter volume: %+v", dl.VolumeSource)
	}
}

func TestDaemonSet(t *testing.T) {
	r := renderRelease(t, loadValues(t, "daemonset.yaml"))
	validate(t, r)

	if r.daemonSet == nil {
		t.Fatal("mode daemonset renders no DaemonSet")
	}
	wantConfig(t, r.config, "receivers.structured_log.include", []any{"/var/log/omniverse/*.log"})
	wantConfig(t, r.config, "receivers.structured_log.exclude", []any{"/var/log/omniverse/omni.telemetry.transmitter.log"})
	wantConfig(t, r.config, "receivers.structured_log.seek_tag_name", "courier")
	wantConfig(t, r.config, "receivers.structured_log.write_seek_tag", true)
	wantConfig(t, r.config, "receivers.structured_log.storage", "file_storage")
	wantConfig(t, r.config, "exporters.cloudevents.encoding", "jsonl")
	wantConfig(t, r.config, "service.extensions", []any{"healthcheckv2/live", "healthcheckv2/ready", "file_storage"})
	wantConfig(t, r.config, "service.pipelines.logs.receivers", []any{"structured_log"})
	for _, key := range []string{"receivers.datastore", "processors", "extensions.oidc_client", "exporters.cloudevents.auth"} {
		if _, ok := lookup(r.config, key); ok {
			t.Errorf("daemonset config has %s", key)
		}
	}

	logs := volume(t, r, "structured-logs")
	if logs.HostPath == nil || logs.HostPath.Path != "/var/log/omniverse" {
		t.Errorf("structured-logs volume: %+v", logs.VolumeSource)
	}
	if storage := volume(t, r, "storage"); storage.HostPath == nil || storage.HostPath.Path != "/var/lib/otelcol-courier" {
		t.Errorf("storage volume: %+v", storage.VolumeSource)
	}
	if e := envVar(r, "COURIER_DATASTORE_DSN"); e != nil {
		t.Error("daemonset pod reads a datastore Secret")
	}
	if g := r.pod().Spec.SecurityContext.RunAsGroup; g == nil || *g != 1000 {
		t.Errorf("runAsGroup = %v, want the values' 1000", g)
	}
	if s := r.daemonSet.Spec.UpdateStrategy.RollingUpdate; s == nil || s.MaxSurge == nil || s.MaxSurge.IntValue() != 0 {
		t.Error("daemonset may surge: two pods would contend for the folder's seek-tag lock")
	}
}

// TestConfigOverride merges the free-form `config` value over the rendered
// config: new components and pipelines are added, rendered settings changed,
// the rest kept.
func TestConfigOverride(t *testing.T) {
	values := loadValues(t, "seed.yaml", "override.yaml")
	r := renderRelease(t, values)
	validate(t, r)

	wantConfig(t, r.config, "receivers.otlp.protocols.http.endpoint", "0.0.0.0:4318")
	wantConfig(t, r.config, "service.pipelines.logs/otlp", map[string]any{"receivers": []any{"otlp"}, "exporters": []any{"debug"}})
	wantConfig(t, r.config, "exporters.cloudevents.timeout", "10s")
	wantConfig(t, r.config, "exporters.cloudevents.endpoint", seedEndpoint)
	wantConfig(t, r.config, "service.pipelines.logs.receivers", []any{"datastore"})

	// A change of the config rolls the pods.
	delete(values, "config")
	plain := renderRelease(t, values)
	if plain.pod().Annotations["checksum/config"] == r.pod().Annotations["checksum/config"] {
		t.Error("checksum/config does not change with the config")
	}
}

// TestGOMEMLIMIT: the quantity forms Kubernetes accepts, and none set.
func TestGOMEMLIMIT(t *testing.T) {
	for limit, want := range map[string]string{
		"1Gi":        "819MiB",
		"512Mi":      "409MiB",
		"2G":         "1525MiB",
		"1073741824": "819MiB",
		"1.5Gi":      "1228MiB",
		"":           "",
	} {
		t.Run(limit, func(t *testing.T) {
			values := loadValues(t, "seed.yaml", "postgresql.yaml")
			delete(values["event-exporter"].(map[string]any), "resources")
			values["resources"] = map[string]any{"limits": map[string]any{"memory": limit}}
			if limit == "" {
				values["resources"] = map[string]any{"limits": nil} // null deletes the chart's default
			}
			r := renderRelease(t, values)
			got := ""
			if e := envVar(r, "GOMEMLIMIT"); e != nil {
				got = e.Value
			}
			if got != want {
				t.Errorf("GOMEMLIMIT = %q, want %q", got, want)
			}
		})
	}
}

// required are the values without which the chart refuses to render in
// deployment mode (besides the datastore, which defaults to NVSentinel's).
func required() map[string]any {
	return map[string]any{"exporter": map[string]any{
		"metadata": map[string]any{"cluster": "c1"},
		"sink":     map[string]any{"endpoint": "https://sink.example.com/events"},
		"oidc":     map[string]any{"tokenUrl": "https://auth.example.com/token", "clientId": "courier"},
	}}
}

// with returns required() with the values at the dotted keys set.
func with(kv ...any) map[string]any {
	values := required()
	for i := 0; i < len(kv); i += 2 {
		m := values
		keys := strings.Split(kv[i].(string), ".")
		for _, k := range keys[:len(keys)-1] {
			sub, ok := m[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[k] = sub
			}
			m = sub
		}
		m[keys[len(keys)-1]] = kv[i+1]
	}
	return values
}

// TestRenderErrors: values that cannot make a working collector fail
// rendering with a message that names the key and says what to set.
func TestRenderErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"unknown mode", with("mode", "sidecar"), `mode: "sidecar" is not one of deployment, daemonset, gateway`},
		{"unknown provider", with("datastore.provider", "mysql", "datastore.connectionSecret.name", "x"), `datastore.provider: "mysql" is not one of postgresql, mongodb`},
		{"no cluster", with("exporter.metadata", map[string]any{"environment": "production"}), "exporter.metadata.cluster is required"},
		{"no endpoint", with("exporter.sink.endpoint", ""), "exporter.sink.endpoint is required"},
		{"no token URL", with("exporter.oidc.tokenUrl", ""), "exporter.oidc.tokenUrl is required"},
		{"no client id", with("exporter.oidc.clientId", ""), "exporter.oidc.clientId is required"},
		{"nothing at all", map[string]any{}, "exporter.metadata.cluster is required"},
		{"daemonset without folder", map[string]any{"mode": "daemonset"}, "structuredLog.hostPath is required in daemonset mode"},
		{"bad memory limit", with("resources", map[string]any{"limits": map[string]any{"memory": "1GB"}}), `resources.limits.memory: "1GB" is not a memory quantity`},
		{"external MongoDB without its Secret", with("global", map[string]any{"datastore": map[string]any{"provider": "mongodb"}}),
			"global.datastore.credentialsFromSecret.name is required for external MongoDB"},
		{"NVSentinel's image", with("image.repository", "ghcr.io/nvidia/nvsentinel/event-exporter"), "is NVSentinel's exporter image"},
		// values.schema.json: a misspelt or misplaced key is refused, named.
		{"misspelt key", with("exporter.sink.endpiont", "https://sink.example.com"), "'endpiont' not allowed"},
		{"misplaced key", with("backfill", map[string]any{"enabled": false}), "'backfill' not allowed"},
		{"misspelt key in the event-exporter block", map[string]any{"event-exporter": with("exporter.oidc.clientID", "x")}, "'clientID' not allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestREADMEListsEveryValue: every key of values.yaml is in the chart's
// README, itself or through a documented parent (`resources` covers
// resources.limits.cpu).
func TestREADMEListsEveryValue(t *testing.T) {
	values, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme := readFile(t, filepath.Join(chartDir, "README.md"))
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := prefix + k
			if strings.Contains(readme, "`"+key+"`") {
				continue
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(key+".", sub)
				continue
			}
			t.Errorf("README.md does not list value %s", key)
		}
	}
	walk("", values)
}
