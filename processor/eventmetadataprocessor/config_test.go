package eventmetadataprocessor

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/processor/eventmetadataprocessor/internal/metadata"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: &Config{Metadata: map[string]string{"cluster": "my-cluster"}, DataPath: "metadata"}},
		{name: "nvsentinel", want: &Config{
			Metadata: map[string]string{"cluster": "prod-us-west-2", "environment": "production", "region": "us-west-2",
				"datacenter": "dc01", "tenant": "acme-corp"},
			DataPath: "metadata", Source: "nvsentinel://{cluster}/healthevents",
		}},
		{name: "omniverse", want: &Config{ExtensionAttributes: map[string]string{"appname": "omni.create"}, Overwrite: true}},
		{name: "empty", wantErr: "nothing to do: set at least one of metadata, source, extension_attributes"},
		{name: "unknown_placeholder", wantErr: "source: placeholder {clustr} names no metadata key"},
		{name: "unclosed", wantErr: "source: unclosed '{'"},
		{name: "unmatched", wantErr: "source: unmatched '}'"},
		{name: "reserved_extension", wantErr: `extension_attributes: "id" is a CloudEvents context attribute`},
		{name: "bad_type", wantErr: "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := testutil.LoadConfig(t, component.NewIDWithName(metadata.Type, tc.name), NewFactory())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.(*Config)
			if got.DataPath != tc.want.DataPath || got.Source != tc.want.Source || got.Overwrite != tc.want.Overwrite ||
				!equalMaps(got.Metadata, tc.want.Metadata) || !equalMaps(got.ExtensionAttributes, tc.want.ExtensionAttributes) {
				t.Fatalf("config %+v, want %+v", got, tc.want)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
