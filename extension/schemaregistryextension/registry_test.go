package schemaregistryextension_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/courier-otel/courier/extension/schemaregistryextension"
	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

type nopComponent struct {
	component.StartFunc
	component.ShutdownFunc
}

func TestFromHost(t *testing.T) {
	ext := schemaregistrytest.Start(t)
	r, err := schemaregistryextension.FromHost(schemaregistrytest.NewHost(ext), schemaregistrytest.ID)
	require.NoError(t, err)
	_, res := r.Lookup(schemaregistrytest.ExampleApp, "com.example.app.featureUsed")
	assert.Equal(t, schemaregistryextension.Found, res)

	_, err = schemaregistryextension.FromHost(componenttest.NewNopHost(), schemaregistrytest.ID)
	assert.ErrorContains(t, err, "extension schema_registry not found")
	other := component.MustNewID("other")
	_, err = schemaregistryextension.FromHost(schemaregistrytest.Host{Extensions: map[component.ID]component.Component{other: nopComponent{}}}, other)
	assert.ErrorContains(t, err, "extension other is not a schema_registry")
}

func TestNVDFPrefix(t *testing.T) {
	reg := schemaregistrytest.Registry(t)
	es, res := reg.Lookup(schemaregistrytest.IsaacSim, "com.nvidia.isaac.sim.simulation.stats")
	require.Equal(t, schemaregistryextension.Found, res)
	assert.Equal(t, schemaregistryextension.Property{Type: "string", Format: "date-time"}, es.Properties["sampledAt"])
	assert.Equal(t, schemaregistryextension.Property{Type: "object"}, es.Properties["gpu"], "through $ref")
	assert.Equal(t, &schemaregistryextension.Property{Type: "number"}, es.Properties["cpuLoad"].Items)

	str := pcommon.NewValueStr
	for _, tc := range []struct {
		name string
		v    pcommon.Value
		want string
	}{
		{"sampledAt", str("2026-07-14T10:29:59.9Z"), cloudevent.PrefixTimestamp},
		{"sampledAt", pcommon.NewValueInt(5), ""}, // not what the schema says: the value decides
		{"fps", pcommon.NewValueInt(58), cloudevent.PrefixFloat},
		{"fps", pcommon.NewValueDouble(58.5), cloudevent.PrefixFloat},
		{"fps", str("58"), ""},
		{"frameCount", pcommon.NewValueInt(1), cloudevent.PrefixInt},
		{"gpuDynamics", pcommon.NewValueBool(true), cloudevent.PrefixBool},
		{"sceneId", str("7c9e6679-7425-40de-944b-e07fc1f90ae7"), cloudevent.PrefixString},
		{"gpu", pcommon.NewValueMap(), cloudevent.PrefixObject},
		{"cpuLoad", sliceOf(pcommon.NewValueInt(41), pcommon.NewValueDouble(38.25)), cloudevent.PrefixFloat},
		{"cpuLoad", sliceOf(), ""},
		{"tags", sliceOf(str("a")), cloudevent.PrefixString},
		{"notDeclared", str("x"), ""},
	} {
		assert.Equal(t, tc.want, es.NVDFPrefix(tc.name, tc.v), "%s = %v", tc.name, tc.v.AsRaw())
	}
	es, _ = reg.Lookup(schemaregistrytest.IsaacSim, "com.nvidia.isaac.sim.crash")
	assert.Equal(t, cloudevent.PrefixInt, es.NVDFPrefix("dumpSizeBytes", pcommon.NewValueInt(1)), `type ["integer", "null"]`)
	es, _ = reg.Lookup(schemaregistrytest.IsaacSim, "com.nvidia.isaac.sim.ui.preferences")
	assert.Equal(t, cloudevent.PrefixString, es.NVDFPrefix("recentStages", sliceOf(str("omniverse://h/a.usd"))))
}

func sliceOf(vs ...pcommon.Value) pcommon.Value {
	v := pcommon.NewValueSlice()
	for _, e := range vs {
		e.CopyTo(v.Slice().AppendEmpty())
	}
	return v
}

func TestNVDFTypes(t *testing.T) {
	reg := schemaregistrytest.Registry(t)
	line := bytes.Replace(schemaregistrytest.EventLines()[0], []byte(`"fps":58.7`), []byte(`"fps":58`), 1)
	lr := schemaregistrytest.Event(t, line)
	out, err := cloudevent.NVDF{Types: schemaregistryextension.NVDFTypes(reg)}.AppendEvent(nil, lr)
	require.NoError(t, err)
	s := string(out)
	assert.Contains(t, s, `"d_fps":58,`, "declared number, integral value")
	assert.Contains(t, s, `"ts_sampledAt":1784024999900}`)
	assert.Contains(t, s, `"d_cpuLoad":[41.5,38.25,77.0,12.5]`)
	assert.Contains(t, s, `"l_frameCount":184320`)

	// Without the registry the value's type decides.
	out, err = cloudevent.NVDF{}.AppendEvent(nil, lr)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"l_fps":58,`)
	assert.Contains(t, string(out), `"s_sampledAt":"2026-07-14T10:29:59.900000Z"`)

	// An unknown schema keeps the value types.
	lr.Attributes().PutStr(cloudevent.AttrDataSchema, "unknown-1")
	out, err = cloudevent.NVDF{Types: schemaregistryextension.NVDFTypes(reg)}.AppendEvent(nil, lr)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"l_fps":58,`)
}
