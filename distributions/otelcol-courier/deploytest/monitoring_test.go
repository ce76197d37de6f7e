package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// checkProbes: liveness asks healthcheckv2/live (the process works; a sink
// outage never fails it), readiness asks healthcheckv2/ready (component
// status: permanent errors at once, recoverable ones after
// monitoring.readiness.recoveryDuration).
func checkProbes(t *testing.T, r *release, c *corev1.Container) {
	t.Helper()
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "health" || p.HTTPGet.Path != "/" {
		t.Errorf("liveness probe is not GET / on the health port: %+v", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "ready" || p.HTTPGet.Path != "/status" {
		t.Errorf("readiness probe is not GET /status on the ready port: %+v", p)
	}
	wantConfig(t, r.config, "extensions.healthcheckv2/live.use_v2", true)
	wantConfig(t, r.config, "extensions.healthcheckv2/live.http.endpoint", "0.0.0.0:13133")
	wantConfig(t, r.config, "extensions.healthcheckv2/live.http.status.path", "/")
	if _, ok := lookup(r.config, "extensions.healthcheckv2/live.component_health"); ok {
		t.Error("healthcheckv2/live looks at component errors: a sink outage would restart pods")
	}
	wantConfig(t, r.config, "extensions.healthcheckv2/ready.http.endpoint", "0.0.0.0:13134")
	wantConfig(t, r.config, "extensions.healthcheckv2/ready.http.status.path", "/status")
	wantConfig(t, r.config, "extensions.healthcheckv2/ready.http.status.include_attributes", true)
	wantConfig(t, r.config, "extensions.healthcheckv2/ready.component_health.include_permanent_errors", true)
	wantConfig(t, r.config, "extensions.healthcheckv2/ready.component_health.include_recoverable_errors", true)
	if _, ok := lookup(r.config, "extensions.healthcheckv2/ready.component_health.recovery_duration"); !ok {
		t.Error("healthcheckv2/ready has no recovery_duration")
	}
	exts := lookupStrings(t, r.config, "service.extensions")
	for _, e := range []string{"healthcheckv2/live", "healthcheckv2/ready"} {
		if !slices.Contains(exts, e) {
			t.Errorf("%s is not in service.extensions %v", e, exts)
		}
	}
}

// TestMonitoring renders the dashboard ConfigMap and the PrometheusRule in
// every mode and checks them: the dashboard is the chart's JSON under the
// sidecar's label, the rules carry the values and a runbook each, and the
// collector config still validates with the built binary.
func TestMonitoring(t *testing.T) {
	dashboard, err := os.ReadFile(chartDir + "/dashboards/courier.json")
	if err != nil {
		t.Fatal(err)
	}
	readme := readFile(t, chartDir+"/README.md")
	for _, mode := range []string{"seed", "daemonset"} {
		t.Run(mode, func(t *testing.T) {
			var values map[string]any
			if mode == "seed" {
				values = loadValues(t, "seed.yaml", "postgresql.yaml")
			} else {
				values = loadValues(t, "daemonset.yaml")
			}
			mergeValues(values, map[string]any{"monitoring": map[string]any{
				"readiness": map[string]any{"recoveryDuration": "2m"},
				"dashboard": map[string]any{"enabled": true},
				"prometheusRule": map[string]any{
					"enabled":          true,
					"sinkFailingFor":   "7m",
					"labels":           map[string]any{"release": "kube-prometheus-stack"},
					"extraAlertLabels": map[string]any{"team": "gpu-health"},
				},
			}})
			r := renderRelease(t, values)
			wantConfig(t, r.config, "extensions.healthcheckv2/ready.component_health.recovery_duration", "2m")
			validate(t, r)

			if r.dashboard == nil {
				t.Fatal("no dashboard ConfigMap")
			}
			if r.dashboard.Labels["grafana_dashboard"] != "1" {
				t.Errorf("dashboard labels %v lack grafana_dashboard: \"1\" (the Grafana sidecar's default)", r.dashboard.Labels)
			}
			var got, want any
			if err := json.Unmarshal([]byte(r.dashboard.Data["courier.json"]), &got); err != nil {
				t.Fatalf("dashboard JSON: %v", err)
			}
			if err := json.Unmarshal(dashboard, &want); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Error("the ConfigMap's dashboard differs from dashboards/courier.json")
			}

			checkPrometheusRule(t, r.prometheusRule, readme)
		})
	}
	// Disabled by default; readiness waits 5 minutes for a recoverable error.
	r := renderRelease(t, loadValues(t, "seed.yaml", "postgresql.yaml"))
	wantConfig(t, r.config, "extensions.healthcheckv2/ready.component_health.recovery_duration", "5m")
	if r.dashboard != nil || r.prometheusRule != nil {
		t.Error("the dashboard or the PrometheusRule is rendered by default")
	}
}

// promRule is a PrometheusRule, the fields the operator reads.
type promRule struct {
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

func checkPrometheusRule(t *testing.T, obj map[string]any, readme string) {
	t.Helper()
	if obj == nil {
		t.Fatal("no PrometheusRule")
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var pr promRule
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Metadata.Namespace != namespace || pr.Metadata.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("metadata: %+v", pr.Metadata)
	}
	if len(pr.Spec.Groups) != 1 {
		t.Fatalf("groups: %+v", pr.Spec.Groups)
	}
	alerts := map[string]bool{}
	for _, rule := range pr.Spec.Groups[0].Rules {
		alerts[rule.Alert] = true
		if strings.Contains(rule.Expr, "__") || strings.Contains(rule.For, "__") || strings.Contains(rule.Annotations["description"], "__") {
			t.Errorf("%s: a placeholder is left: %q for %q", rule.Alert, rule.Expr, rule.For)
		}
		if !strings.Contains(rule.Expr, `namespace="`+namespace+`"`) {
			t.Errorf("%s: expr does not select the release's namespace: %s", rule.Alert, rule.Expr)
		}
		if rule.Labels["severity"] == "" || rule.Labels["team"] != "gpu-health" {
			t.Errorf("%s: labels %v", rule.Alert, rule.Labels)
		}
		anchor := strings.ToLower(rule.Alert)
		if !strings.HasSuffix(rule.Annotations["runbook_url"], "README.md#"+anchor) {
			t.Errorf("%s: runbook_url %q does not point at the README's runbook", rule.Alert, rule.Annotations["runbook_url"])
		}
		if !strings.Contains(readme, "### "+rule.Alert+"\n") {
			t.Errorf("%s: the chart README has no runbook section \"### %s\"", rule.Alert, rule.Alert)
		}
	}
	if got := pr.Spec.Groups[0].Rules; len(got) > 0 {
		for _, rule := range got {
			if rule.Alert == "CourierSinkFailing" && rule.For != "7m" {
				t.Errorf("CourierSinkFailing for %q, want monitoring.prometheusRule.sinkFailingFor 7m", rule.For)
			}
		}
	}
	for _, want := range []string{"CourierDeadLetters", "CourierSinkFailing", "CourierNoDatastoreLeader",
		"CourierDatastoreLagGrowing", "CourierComponentPermanentError", "CourierQueueNearlyFull"} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}
