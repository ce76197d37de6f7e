package healthevent

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsonpdata"
	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

const (
	pgID     = "3f1e7c2a-9b4d-4e8f-a1c6-5d2b7e9f0a13"
	mongoHex = "66f1c2a4e4b0a1b2c3d4e5f6"
	// generatedTimestamp of SPEC.md A.3: 2026-07-14T10:30:00.123456789Z.
	genSeconds = 1784025000
	genNanos   = 123456789
)

var (
	mongoID   = must(bson.ObjectIDFromHex(mongoHex))
	createdAt = time.Date(2026, 7, 14, 10, 30, 1, 250_000_000, time.UTC) // the record's createdAt (ms: BSON DateTime)
	rowTime   = time.Date(2026, 7, 14, 10, 30, 2, 0, time.UTC)           // health_events.created_at
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// healthEventA3 is data.healthEvent of SPEC.md A.3, byte for byte.
const healthEventA3 = `{"version":1,"agent":"gpu-health-monitor","componentClass":"GPU","checkName":"GpuXidError",` +
	`"isFatal":true,"isHealthy":false,"message":"XID error occurred","recommendedAction":"RESTART_VM",` +
	`"errorCode":["79"],"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"}],` +
	`"generatedTimestamp":"2026-07-14T10:30:00.123456789Z","nodeName":"node-1",` +
	`"processingStrategy":"EXECUTE_REMEDIATION"}`

// cloudEvent is the CloudEvent of SPEC.md A.3 for an event with the given
// id, time and healthEvent, once event_metadata has added its metadata and
// source (see enrich).
func cloudEvent(id, at, healthEvent string) string {
	return `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1",` +
		`"source":"nvsentinel://prod-us-west-2/healthevents","id":"` + id + `","time":"` + at + `",` +
		`"data":{"metadata":{"cluster":"prod-us-west-2","environment":"production"},"healthEvent":` + healthEvent + `}}`
}

// pgA3 is the document of the A.3 event as NVSentinel stores it in
// health_events.document and PostgreSQL returns it (jsonb orders keys by
// length, then bytes; encoding/json left out isHealthy and the proto id).
const pgA3 = `{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"agent": "gpu-health-monitor", ` +
	`"isFatal": true, "message": "XID error occurred", "version": 1, "nodeName": "node-1", "checkName": "GpuXidError", ` +
	`"errorCode": ["79"], "componentClass": "GPU", "entitiesImpacted": [{"entityType": "GPU", "entityValue": "0"}], ` +
	`"recommendedAction": 15, "generatedTimestamp": {"nanos": 123456789, "seconds": 1784025000}, ` +
	`"processingStrategy": 1}, "healtheventstatus": {"spanIds": {"platform-connector": "5f2a9c1e7b3d4a60"}, ` +
	`"userPodsEvictionStatus": {}}}`

// mongoDoc is a HealthEvents document as the driver's default codec writes
// it: every field present, lowercase names, nulls for what is unset.
func mongoDoc(he bson.D) bson.Raw {
	return must(bson.Marshal(bson.D{
		{Key: "_id", Value: mongoID},
		{Key: "createdAt", Value: bson.NewDateTimeFromTime(createdAt)},
		{Key: "healthevent", Value: he},
		{Key: "healtheventstatus", Value: bson.D{
			{Key: "nodequarantined", Value: ""}, {Key: "quarantinefinishtimestamp", Value: nil},
			{Key: "userpodsevictionstatus", Value: bson.D{{Key: "status", Value: ""}, {Key: "message", Value: ""}}},
			{Key: "drainfinishtimestamp", Value: nil}, {Key: "faultremediated", Value: nil},
			{Key: "lastremediationtimestamp", Value: nil},
			{Key: "spanids", Value: bson.D{{Key: "platform-connector", Value: "5f2a9c1e7b3d4a60"}}},
		}},
	}))
}

// mongoA3 is the healthevent of the A.3 event in the Mongo shape.
func mongoA3() bson.D {
	return bson.D{
		{Key: "version", Value: int64(1)}, // uint32: int64 by the default codec
		{Key: "agent", Value: "gpu-health-monitor"},
		{Key: "componentclass", Value: "GPU"},
		{Key: "checkname", Value: "GpuXidError"},
		{Key: "isfatal", Value: true},
		{Key: "ishealthy", Value: false},
		{Key: "message", Value: "XID error occurred"},
		{Key: "recommendedaction", Value: int32(15)},
		{Key: "errorcode", Value: bson.A{"79"}},
		{Key: "entitiesimpacted", Value: bson.A{bson.D{{Key: "entitytype", Value: "GPU"}, {Key: "entityvalue", Value: "0"}}}},
		{Key: "metadata", Value: nil},
		{Key: "generatedtimestamp", Value: bson.D{{Key: "seconds", Value: int64(genSeconds)}, {Key: "nanos", Value: int32(genNanos)}}},
		{Key: "nodename", Value: "node-1"},
		{Key: "quarantineoverrides", Value: nil},
		{Key: "drainoverrides", Value: nil},
		{Key: "processingstrategy", Value: int32(1)},
		{Key: "id", Value: ""},
		{Key: "customrecommendedaction", Value: ""},
	}
}

// with returns d with the value of key replaced (or appended).
func with(d bson.D, key string, value any) bson.D {
	out := append(bson.D(nil), d...)
	for i := range out {
		if out[i].Key == key {
			out[i].Value = value
			return out
		}
	}
	return append(out, bson.E{Key: key, Value: value})
}

// without returns d without key.
func without(d bson.D, key string) bson.D {
	var out bson.D
	for _, e := range d {
		if e.Key != key {
			out = append(out, e)
		}
	}
	return out
}

func newDecoder() *Decoder { return &Decoder{Source: "nvsentinel://unknown/healthevents"} }

func fromPostgres(t testing.TB, doc string) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogRecord()
	if err := newDecoder().FromPostgres(pgID, rowTime, []byte(doc), lr); err != nil {
		t.Fatalf("FromPostgres(%s): %v", doc, err)
	}
	return lr
}

func fromMongo(t testing.TB, doc bson.Raw) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogRecord()
	if err := newDecoder().FromMongo(doc, lr); err != nil {
		t.Fatalf("FromMongo(%v): %v", doc, err)
	}
	return lr
}

// enrich does what the event_metadata processor of the NVSentinel config
// does (metadata cluster and environment, source nvsentinel://{cluster}/
// healthevents, overwrite: true) and returns the structured encoding.
func enrich(t testing.TB, lr plog.LogRecord) string {
	t.Helper()
	lr.Attributes().PutStr(cloudevent.AttrSource, "nvsentinel://prod-us-west-2/healthevents")
	m := lr.Body().Map().PutEmptyMap("metadata")
	m.PutStr("cluster", "prod-us-west-2")
	m.PutStr("environment", "production")
	b, err := cloudevent.Structured{}.AppendEvent(nil, lr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// healthEventText is the JSON of data.healthEvent, in the record's order.
func healthEventText(t testing.TB, lr plog.LogRecord) string {
	t.Helper()
	v, ok := lr.Body().Map().Get("healthEvent")
	if !ok {
		t.Fatal("no healthEvent in the body")
	}
	b, err := jsonpdata.AppendValue(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	if eq, err := jsontest.Equal([]byte(got), []byte(want)); err != nil || !eq {
		t.Fatalf("got  %s\nwant %s (%v)", got, want, err)
	}
}

// check compares the decoded record with the A.3-style event: as JSON
// values, and data.healthEvent byte for byte (member order included).
func check(t *testing.T, lr plog.LogRecord, id, at, healthEvent string) {
	t.Helper()
	if got := healthEventText(t, lr); got != healthEvent {
		t.Errorf("healthEvent\ngot  %s\nwant %s", got, healthEvent)
	}
	assertJSON(t, enrich(t, lr), cloudEvent(id, at, healthEvent))
}

func TestSPECExample(t *testing.T) {
	const at = "2026-07-14T10:30:00.123456789Z"
	t.Run("postgres", func(t *testing.T) {
		lr := fromPostgres(t, pgA3)
		check(t, lr, pgID, at, healthEventA3)
		want := time.Date(2026, 7, 14, 10, 30, 0, genNanos, time.UTC)
		if !lr.Timestamp().AsTime().Equal(want) || lr.EventName() != Type {
			t.Errorf("Timestamp, EventName = %v, %q", lr.Timestamp().AsTime(), lr.EventName())
		}
	})
	t.Run("mongo", func(t *testing.T) {
		check(t, fromMongo(t, mongoDoc(mongoA3())), mongoHex, at, healthEventA3)
	})
}

// TestValidOnItsOwn: before any processor, the record is a whole CloudEvent
// with the decoder's source; without one it lacks only the source.
func TestValidOnItsOwn(t *testing.T) {
	lr := fromPostgres(t, pgA3)
	b, err := cloudevent.Structured{}.AppendEvent(nil, lr)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, string(b), `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1",`+
		`"source":"nvsentinel://unknown/healthevents","id":"`+pgID+`","time":"2026-07-14T10:30:00.123456789Z",`+
		`"data":{"healthEvent":`+healthEventA3+`}}`)
	// The JSON reads back as the same record.
	back := plog.NewLogRecord()
	var dec cloudevent.Decoder
	if err := dec.Decode(b, back); err != nil {
		t.Fatal(err)
	}
	if !back.Attributes().Equal(lr.Attributes()) || !back.Body().Equal(lr.Body()) || back.Timestamp() != lr.Timestamp() {
		t.Errorf("decoding the encoding gives another record")
	}

	lr = plog.NewLogRecord()
	if err := (&Decoder{}).FromPostgres(pgID, rowTime, []byte(pgA3), lr); err != nil {
		t.Fatal(err)
	}
	if _, ok := lr.Attributes().Get(cloudevent.AttrSource); ok {
		t.Error("a decoder without Source set a source")
	}
}

func TestAllOptionalFields(t *testing.T) {
	const heWant = `{"version":1,"agent":"syslog-health-monitor","componentClass":"NODE","checkName":"SysLogsXIDError",` +
		`"isFatal":true,"isHealthy":false,"message":"reboot needed","recommendedAction":"CUSTOM",` +
		`"errorCode":["79","48"],"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"},{"entityType":"PCI","entityValue":""}],` +
		`"metadata":{"a":"1","b":"","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},` +
		`"generatedTimestamp":"2026-07-14T10:30:00Z","nodeName":"node-7",` +
		`"quarantineOverrides":{"force":true,"skip":false},"drainOverrides":{"force":false,"skip":false},` +
		`"processingStrategy":"STORE_ONLY","customRecommendedAction":"reboot-node-xyz"}`
	const at = "2026-07-14T10:30:00Z"
	t.Run("postgres", func(t *testing.T) {
		// drainOverrides {} is BehaviourOverrides{} after omitempty; "PCI"'s
		// empty entityValue was left out the same way.
		doc := `{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"id": "proto-id", "agent": "syslog-health-monitor", ` +
			`"isFatal": true, "message": "reboot needed", "version": 1, "metadata": {"b": "", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "a": "1"}, ` +
			`"nodeName": "node-7", "checkName": "SysLogsXIDError", "errorCode": ["79", "48"], "componentClass": "NODE", ` +
			`"drainOverrides": {}, "entitiesImpacted": [{"entityType": "GPU", "entityValue": "0"}, {"entityType": "PCI"}], ` +
			`"recommendedAction": 27, "generatedTimestamp": {"seconds": 1784025000}, "processingStrategy": 2, ` +
			`"quarantineOverrides": {"force": true}, "customRecommendedAction": "reboot-node-xyz"}, "healtheventstatus": {}}`
		check(t, fromPostgres(t, doc), pgID, at, heWant)
	})
	t.Run("mongo", func(t *testing.T) {
		he := mongoA3()
		for _, kv := range []bson.E{
			{Key: "agent", Value: "syslog-health-monitor"}, {Key: "componentclass", Value: "NODE"},
			{Key: "checkname", Value: "SysLogsXIDError"}, {Key: "message", Value: "reboot needed"},
			{Key: "recommendedaction", Value: int32(27)}, {Key: "errorcode", Value: bson.A{"79", "48"}},
			{Key: "entitiesimpacted", Value: bson.A{
				bson.D{{Key: "entitytype", Value: "GPU"}, {Key: "entityvalue", Value: "0"}},
				bson.D{{Key: "entitytype", Value: "PCI"}, {Key: "entityvalue", Value: ""}},
			}},
			{Key: "metadata", Value: bson.D{{Key: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}, {Key: "b", Value: ""}, {Key: "a", Value: "1"}}},
			{Key: "generatedtimestamp", Value: bson.D{{Key: "seconds", Value: int64(genSeconds)}, {Key: "nanos", Value: int32(0)}}},
			{Key: "nodename", Value: "node-7"},
			{Key: "quarantineoverrides", Value: bson.D{{Key: "force", Value: true}, {Key: "skip", Value: false}}},
			{Key: "drainoverrides", Value: bson.D{{Key: "force", Value: false}, {Key: "skip", Value: false}}},
			{Key: "processingstrategy", Value: int32(2)}, {Key: "id", Value: "proto-id"},
			{Key: "customrecommendedaction", Value: "reboot-node-xyz"},
		} {
			he = with(he, kv.Key, kv.Value)
		}
		check(t, fromMongo(t, mongoDoc(he)), mongoHex, at, heWant)
	})
}

// TestAllAbsent: omitempty false booleans, null or missing lists, maps and
// messages, no generatedTimestamp: the always-present members still are,
// with zero values, errorCode and entitiesImpacted [] and the time taken
// from createdAt.
func TestAllAbsent(t *testing.T) {
	const heWant = `{"version":0,"agent":"","componentClass":"","checkName":"","isFatal":false,"isHealthy":false,` +
		`"message":"","recommendedAction":"NONE","errorCode":[],"entitiesImpacted":[],` +
		`"generatedTimestamp":"2026-07-14T10:30:01.25Z","nodeName":"","processingStrategy":"UNSPECIFIED"}`
	const at = "2026-07-14T10:30:01.25Z"
	t.Run("postgres", func(t *testing.T) {
		for _, he := range []string{`{}`, `{"errorCode": null, "metadata": {}, "generatedTimestamp": {}, "customRecommendedAction": "", ` +
			`"quarantineOverrides": null, "agent": null, "isFatal": null, "recommendedAction": null, "version": null}`} {
			check(t, fromPostgres(t, `{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": `+he+`}`), pgID, at, heWant)
		}
	})
	t.Run("mongo", func(t *testing.T) {
		he := bson.D{{Key: "version", Value: int64(0)}, {Key: "agent", Value: ""}, {Key: "componentclass", Value: ""},
			{Key: "checkname", Value: ""}, {Key: "isfatal", Value: false}, {Key: "ishealthy", Value: false},
			{Key: "message", Value: ""}, {Key: "recommendedaction", Value: int32(0)}, {Key: "errorcode", Value: nil},
			{Key: "entitiesimpacted", Value: nil}, {Key: "metadata", Value: nil}, {Key: "generatedtimestamp", Value: nil},
			{Key: "nodename", Value: ""}, {Key: "quarantineoverrides", Value: nil}, {Key: "drainoverrides", Value: nil},
			{Key: "processingstrategy", Value: int32(0)}, {Key: "id", Value: ""}, {Key: "customrecommendedaction", Value: ""}}
		check(t, fromMongo(t, mongoDoc(he)), mongoHex, at, heWant)
		check(t, fromMongo(t, mongoDoc(bson.D{})), mongoHex, at, heWant)
		check(t, fromMongo(t, mongoDoc(with(he, "errorcode", bson.A{}))), mongoHex, at, heWant)
	})
}

// TestTimeFallback: no (or a zero) generatedTimestamp gives the record's
// createdAt, never the time of decoding; PostgreSQL falls back further to
// the row's created_at.
func TestTimeFallback(t *testing.T) {
	he := func(lr plog.LogRecord) string {
		v, _ := lr.Body().Map().Get("healthEvent")
		g, _ := v.Map().Get("generatedTimestamp")
		at, _ := lr.Attributes().Get(cloudevent.AttrTime)
		if g.Str() != at.Str() || lr.Timestamp().AsTime().UTC().Format(time.RFC3339Nano) != at.Str() {
			t.Errorf("generatedTimestamp %q, time %q, Timestamp %v disagree", g.Str(), at.Str(), lr.Timestamp())
		}
		return at.Str()
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"createdAt": "2026-07-14T12:30:01.25+02:00", "healthevent": {}}`, "2026-07-14T10:30:01.25Z"},
		{`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"generatedTimestamp": {"seconds": 0, "nanos": 0}}}`, "2026-07-14T10:30:01.25Z"},
		{`{"healthevent": {}}`, "2026-07-14T10:30:02Z"},
		{`{"createdAt": "0001-01-01T00:00:00Z", "healthevent": {}}`, "2026-07-14T10:30:02Z"},
		{`{"createdAt": "yesterday", "healthevent": {}}`, "2026-07-14T10:30:02Z"},
		{`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"generatedTimestamp": "2026-07-14T10:29:59.5Z"}}`, "2026-07-14T10:29:59.5Z"},
		{`{"healthevent": {"generatedTimestamp": {"seconds": -1, "nanos": 5}}}`, "1969-12-31T23:59:59.000000005Z"},
	} {
		if got := he(fromPostgres(t, tc.doc)); got != tc.want {
			t.Errorf("%s: time %q, want %q", tc.doc, got, tc.want)
		}
	}
	for _, ts := range []any{nil, bson.D{}, bson.D{{Key: "seconds", Value: int64(0)}, {Key: "nanos", Value: int32(0)}}} {
		if got := he(fromMongo(t, mongoDoc(with(mongoA3(), "generatedtimestamp", ts)))); got != "2026-07-14T10:30:01.25Z" {
			t.Errorf("generatedtimestamp %v: time %q, want createdAt", ts, got)
		}
	}
	if got := he(fromMongo(t, mongoDoc(with(mongoA3(), "generatedtimestamp", bson.NewDateTimeFromTime(rowTime))))); got != "2026-07-14T10:30:02Z" {
		t.Errorf("a DateTime generatedtimestamp gives %q", got)
	}

	// Neither time: rejected, not stamped with the time of decoding.
	err := newDecoder().FromPostgres(pgID, time.Time{}, []byte(`{"healthevent": {}}`), plog.NewLogRecord())
	if ReasonOf(err) != ReasonMissingField {
		t.Errorf("no time at all: %v", err)
	}
	doc := must(bson.Marshal(bson.D{{Key: "_id", Value: mongoID}, {Key: "healthevent", Value: without(mongoA3(), "generatedtimestamp")}}))
	if err := newDecoder().FromMongo(doc, plog.NewLogRecord()); ReasonOf(err) != ReasonMissingField {
		t.Errorf("no time at all: %v", err)
	}
}

func TestEveryEnumValue(t *testing.T) {
	for _, tc := range []struct {
		f      field
		values []enumValue
	}{{fRecommendedAction, recommendedActions}, {fProcessingStrategy, processingStrategies}} {
		jsonName, bsonName := tc.f.String(), strings.ToLower(tc.f.String())
		for _, v := range tc.values {
			for _, doc := range []string{
				`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"` + jsonName + `": ` + itoa(v.number) + `}}`,
				`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"` + jsonName + `": "` + v.name + `"}}`,
				`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"` + jsonName + `": ` + itoa(v.number) + `.0}}`,
			} {
				if got := member(t, fromPostgres(t, doc), jsonName); got != v.name {
					t.Errorf("%s: %s = %q, want %q", doc, jsonName, got, v.name)
				}
			}
			for _, n := range []any{int32(v.number), v.number, float64(v.number), v.name} {
				if got := member(t, fromMongo(t, mongoDoc(with(mongoA3(), bsonName, n))), jsonName); got != v.name {
					t.Errorf("%s %T(%v): %q, want %q", bsonName, n, n, got, v.name)
				}
			}
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func member(t *testing.T, lr plog.LogRecord, name string) string {
	t.Helper()
	he, _ := lr.Body().Map().Get("healthEvent")
	v, ok := he.Map().Get(name)
	if !ok {
		t.Fatalf("no %s in %v", name, he.AsRaw())
	}
	return v.AsString()
}

// TestCaseInsensitiveNames: NVSentinel reads its documents with
// encoding/json and the BSON struct codec, which match names without regard
// to case; a document written with Go field names (the model type
// marshalled directly) reads the same.
func TestCaseInsensitiveNames(t *testing.T) {
	doc := `{"CreatedAt": "2026-07-14T10:30:01.25Z", "HealthEvent": {"Version": 1, "Agent": "gpu-health-monitor", ` +
		`"ComponentClass": "GPU", "CheckName": "GpuXidError", "IsFatal": true, "Message": "XID error occurred", ` +
		`"RecommendedAction": 15, "ErrorCode": ["79"], "EntitiesImpacted": [{"EntityType": "GPU", "EntityValue": "0"}], ` +
		`"GeneratedTimestamp": {"Seconds": 1784025000, "Nanos": 123456789}, "NodeName": "node-1", "ProcessingStrategy": 1}}`
	check(t, fromPostgres(t, doc), pgID, "2026-07-14T10:30:00.123456789Z", healthEventA3)
	// The Mongo shape's lowercase names in JSON.
	doc = `{"createdat": "2026-07-14T10:30:01.25Z", "healthevent": {"version": 1, "agent": "gpu-health-monitor", ` +
		`"componentclass": "GPU", "checkname": "GpuXidError", "isfatal": true, "ishealthy": false, "message": "XID error occurred", ` +
		`"recommendedaction": 15, "errorcode": ["79"], "entitiesimpacted": [{"entitytype": "GPU", "entityvalue": "0"}], ` +
		`"generatedtimestamp": {"seconds": 1784025000, "nanos": 123456789}, "nodename": "node-1", "processingstrategy": 1}}`
	check(t, fromPostgres(t, doc), pgID, "2026-07-14T10:30:00.123456789Z", healthEventA3)
}

func TestBadDocuments(t *testing.T) {
	pg := func(he string) string { return `{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": ` + he + `}` }
	for _, tc := range []struct{ doc, reason string }{
		{``, ReasonNotDocument},
		{`{"healthevent": {}`, ReasonNotDocument},
		{`[{"healthevent": {}}]`, ReasonNotDocument},
		{`"healthevent"`, ReasonNotDocument},
		{`{}`, ReasonNotHealthEvent},
		{`{"createdAt": "2026-07-14T10:30:01.25Z", "healtheventstatus": {}}`, ReasonNotHealthEvent},
		{pg(`null`), ReasonNotHealthEvent},
		{pg(`"GpuXidError"`), ReasonNotHealthEvent},
		{pg(`[]`), ReasonNotHealthEvent},
		{pg(`{"isFatal": "yes"}`), ReasonBadField},
		{pg(`{"isHealthy": 1}`), ReasonBadField},
		{pg(`{"agent": 7}`), ReasonBadField},
		{pg(`{"nodeName": {}}`), ReasonBadField},
		{pg(`{"version": -1}`), ReasonBadField},
		{pg(`{"version": 4294967296}`), ReasonBadField},
		{pg(`{"version": 1.5}`), ReasonBadField},
		{pg(`{"version": "1"}`), ReasonBadField},
		{pg(`{"recommendedAction": 42}`), ReasonUnknownEnum},
		{pg(`{"recommendedAction": "REBOOT"}`), ReasonUnknownEnum},
		{pg(`{"recommendedAction": "restart_vm"}`), ReasonUnknownEnum},
		{pg(`{"processingStrategy": 4}`), ReasonUnknownEnum},
		{pg(`{"processingStrategy": true}`), ReasonBadField},
		{pg(`{"recommendedAction": 1e400}`), ReasonBadField},
		{pg(`{"errorCode": "79"}`), ReasonBadField},
		{pg(`{"errorCode": [79]}`), ReasonBadField},
		{pg(`{"entitiesImpacted": {"entityType": "GPU"}}`), ReasonBadField},
		{pg(`{"entitiesImpacted": ["GPU"]}`), ReasonBadField},
		{pg(`{"entitiesImpacted": [null]}`), ReasonBadField},
		{pg(`{"entitiesImpacted": [{"entityValue": 0}]}`), ReasonBadField},
		{pg(`{"metadata": ["trace_id"]}`), ReasonBadField},
		{pg(`{"metadata": {"trace_id": 1}}`), ReasonBadField},
		{pg(`{"generatedTimestamp": 1784025000}`), ReasonBadField},
		{pg(`{"generatedTimestamp": "2026-07-14"}`), ReasonBadField},
		{pg(`{"generatedTimestamp": {"seconds": "1784025000"}}`), ReasonBadField},
		{pg(`{"generatedTimestamp": {"seconds": 1784025000, "nanos": 1000000000}}`), ReasonBadField},
		{pg(`{"generatedTimestamp": {"seconds": 253402300800}}`), ReasonBadField},
		{pg(`{"quarantineOverrides": true}`), ReasonBadField},
		{pg(`{"drainOverrides": {"force": "true"}}`), ReasonBadField},
	} {
		err := newDecoder().FromPostgres(pgID, rowTime, []byte(tc.doc), plog.NewLogRecord())
		if got := ReasonOf(err); got != tc.reason {
			t.Errorf("FromPostgres(%s): %v (reason %q), want reason %q", tc.doc, err, got, tc.reason)
		}
	}
	if err := newDecoder().FromPostgres("", rowTime, []byte(pgA3), plog.NewLogRecord()); ReasonOf(err) != ReasonMissingField {
		t.Errorf("no id: %v", err)
	}

	a3 := mongoA3()
	valid := mongoDoc(a3)
	for _, tc := range []struct {
		name   string
		doc    bson.Raw
		reason string
	}{
		{"empty", nil, ReasonNotDocument},
		{"garbage", bson.Raw("not bson at all"), ReasonNotDocument},
		{"truncated", valid[:len(valid)/2], ReasonNotDocument},
		{"bad length", append(bson.Raw{0xff, 0xff, 0xff, 0x7f}, valid[4:]...), ReasonNotDocument},
		{"no healthevent", must(bson.Marshal(bson.D{{Key: "_id", Value: mongoID}})), ReasonNotHealthEvent},
		{"null healthevent", must(bson.Marshal(bson.D{{Key: "_id", Value: mongoID}, {Key: "healthevent", Value: nil}})), ReasonNotHealthEvent},
		{"string healthevent", must(bson.Marshal(bson.D{{Key: "_id", Value: mongoID}, {Key: "healthevent", Value: "x"}})), ReasonNotHealthEvent},
		{"no _id", must(bson.Marshal(bson.D{{Key: "createdAt", Value: bson.NewDateTimeFromTime(createdAt)}, {Key: "healthevent", Value: a3}})), ReasonMissingField},
		{"int _id", must(bson.Marshal(bson.D{{Key: "_id", Value: 7}, {Key: "healthevent", Value: a3}})), ReasonBadField},
		{"string isfatal", mongoDoc(with(a3, "isfatal", "true")), ReasonBadField},
		{"int agent", mongoDoc(with(a3, "agent", 1)), ReasonBadField},
		{"negative version", mongoDoc(with(a3, "version", int64(-1))), ReasonBadField},
		{"fractional version", mongoDoc(with(a3, "version", 1.5)), ReasonBadField},
		{"unknown action", mongoDoc(with(a3, "recommendedaction", int32(3))), ReasonUnknownEnum},
		{"unknown strategy", mongoDoc(with(a3, "processingstrategy", int64(9))), ReasonUnknownEnum},
		{"unknown action name", mongoDoc(with(a3, "recommendedaction", "REBOOT")), ReasonUnknownEnum},
		{"bool action", mongoDoc(with(a3, "recommendedaction", true)), ReasonBadField},
		{"errorcode string", mongoDoc(with(a3, "errorcode", "79")), ReasonBadField},
		{"errorcode ints", mongoDoc(with(a3, "errorcode", bson.A{79})), ReasonBadField},
		{"entity string", mongoDoc(with(a3, "entitiesimpacted", bson.A{"GPU"})), ReasonBadField},
		{"entity int value", mongoDoc(with(a3, "entitiesimpacted", bson.A{bson.D{{Key: "entityvalue", Value: 0}}})), ReasonBadField},
		{"metadata array", mongoDoc(with(a3, "metadata", bson.A{"a"})), ReasonBadField},
		{"metadata int", mongoDoc(with(a3, "metadata", bson.D{{Key: "a", Value: 1}})), ReasonBadField},
		{"timestamp int", mongoDoc(with(a3, "generatedtimestamp", int64(genSeconds))), ReasonBadField},
		{"timestamp string seconds", mongoDoc(with(a3, "generatedtimestamp", bson.D{{Key: "seconds", Value: "1"}})), ReasonBadField},
		{"timestamp nanos", mongoDoc(with(a3, "generatedtimestamp", bson.D{{Key: "seconds", Value: int64(1)}, {Key: "nanos", Value: int32(-1)}})), ReasonBadField},
		{"overrides bool", mongoDoc(with(a3, "drainoverrides", true)), ReasonBadField},
		{"overrides string", mongoDoc(with(a3, "quarantineoverrides", bson.D{{Key: "skip", Value: "no"}})), ReasonBadField},
	} {
		err := newDecoder().FromMongo(tc.doc, plog.NewLogRecord())
		if got := ReasonOf(err); got != tc.reason {
			t.Errorf("FromMongo(%s): %v (reason %q), want reason %q", tc.name, err, got, tc.reason)
		}
	}
}

// TestMessages: a rejection names the field and what was wrong with it.
func TestMessages(t *testing.T) {
	err := newDecoder().FromPostgres(pgID, rowTime, []byte(`{"healthevent": {"recommendedAction": 42}}`), plog.NewLogRecord())
	if err == nil || err.Error() != "healthevent.recommendedAction: 42 is not a known value" {
		t.Errorf("unknown enum: %v", err)
	}
	err = newDecoder().FromMongo(mongoDoc(with(mongoA3(), "isfatal", "true")), plog.NewLogRecord())
	if err == nil || err.Error() != "healthevent.isFatal: not a boolean" {
		t.Errorf("bad type: %v", err)
	}
}

// The generated protobuf struct, reduced to what the two codecs see: its
// exported fields with their json tags (the BSON codec lowercases the field
// names).
type (
	pbHealthEvent struct {
		Version                 uint32            `json:"version,omitempty"`
		Agent                   string            `json:"agent,omitempty"`
		ComponentClass          string            `json:"componentClass,omitempty"`
		CheckName               string            `json:"checkName,omitempty"`
		IsFatal                 bool              `json:"isFatal,omitempty"`
		IsHealthy               bool              `json:"isHealthy,omitempty"`
		Message                 string            `json:"message,omitempty"`
		RecommendedAction       int32             `json:"recommendedAction,omitempty"`
		ErrorCode               []string          `json:"errorCode,omitempty"`
		EntitiesImpacted        []*pbEntity       `json:"entitiesImpacted,omitempty"`
		Metadata                map[string]string `json:"metadata,omitempty"`
		GeneratedTimestamp      *pbTimestamp      `json:"generatedTimestamp,omitempty"`
		NodeName                string            `json:"nodeName,omitempty"`
		QuarantineOverrides     *pbOverrides      `json:"quarantineOverrides,omitempty"`
		DrainOverrides          *pbOverrides      `json:"drainOverrides,omitempty"`
		ProcessingStrategy      int32             `json:"processingStrategy,omitempty"`
		Id                      string            `json:"id,omitempty"` //nolint:revive // the generated name
		CustomRecommendedAction string            `json:"customRecommendedAction,omitempty"`
	}
	pbEntity struct {
		EntityType  string `json:"entityType,omitempty"`
		EntityValue string `json:"entityValue,omitempty"`
	}
	pbTimestamp struct {
		Seconds int64 `json:"seconds,omitempty"`
		Nanos   int32 `json:"nanos,omitempty"`
	}
	pbOverrides struct {
		Force bool `json:"force,omitempty"`
		Skip  bool `json:"skip,omitempty"`
	}
)

// storePostgres writes he the way NVSentinel's PostgreSQL store does:
// model.HealthEventWithStatus through encoding/json into a map-typed
// datastore.HealthEventWithStatus, and that through encoding/json again.
func storePostgres(t *testing.T, he *pbHealthEvent) []byte {
	t.Helper()
	first := must(json.Marshal(struct {
		CreatedAt         time.Time
		HealthEvent       *pbHealthEvent
		HealthEventStatus map[string]any
	}{createdAt, he, map[string]any{"userPodsEvictionStatus": map[string]any{}}}))
	var datastore struct {
		CreatedAt         time.Time      `json:"createdAt"`
		HealthEvent       any            `json:"healthevent,omitempty"`
		HealthEventStatus map[string]any `json:"healtheventstatus"`
	}
	if err := json.Unmarshal(first, &datastore); err != nil {
		t.Fatal(err)
	}
	return must(json.Marshal(datastore))
}

// storeMongo writes he the way NVSentinel's MongoDB store does: the model
// type through the driver's default codec (the driver adds _id).
func storeMongo(he *pbHealthEvent) bson.Raw {
	return must(bson.Marshal(struct {
		ID                bson.ObjectID  `bson:"_id"`
		CreatedAt         time.Time      `bson:"createdAt"`
		HealthEvent       *pbHealthEvent `bson:"healthevent,omitempty"`
		HealthEventStatus map[string]any `bson:"healtheventstatus"`
	}{mongoID, createdAt, he, map[string]any{"nodequarantined": ""}}))
}

// TestShapesAgree: one event stored by each of NVSentinel's two writers
// decodes to the same record.
func TestShapesAgree(t *testing.T) {
	full := &pbHealthEvent{Version: 1, Agent: "gpu-health-monitor", ComponentClass: "GPU", CheckName: "GpuXidError",
		IsFatal: true, Message: "XID error occurred", RecommendedAction: 27,
		ErrorCode: []string{"79", "13"}, EntitiesImpacted: []*pbEntity{{"GPU", "0"}, {EntityType: "GPU_UUID"}},
		Metadata:           map[string]string{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "k": "v", "a": ""},
		GeneratedTimestamp: &pbTimestamp{genSeconds, genNanos}, NodeName: "node-1",
		QuarantineOverrides: &pbOverrides{Skip: true}, DrainOverrides: &pbOverrides{},
		ProcessingStrategy: 3, Id: "x", CustomRecommendedAction: "drain-and-reboot"}
	for _, he := range []*pbHealthEvent{
		full,
		{NodeName: "n"},
		{IsHealthy: true, GeneratedTimestamp: &pbTimestamp{Nanos: 1}, ErrorCode: []string{}, Metadata: map[string]string{}},
		{RecommendedAction: 99, ProcessingStrategy: 2, EntitiesImpacted: []*pbEntity{{}}},
	} {
		pg := fromPostgres(t, string(storePostgres(t, he)))
		mongo := fromMongo(t, storeMongo(he))
		mongo.Attributes().PutStr(cloudevent.AttrID, pgID)
		if !pg.Attributes().Equal(mongo.Attributes()) || !pg.Body().Equal(mongo.Body()) ||
			pg.Timestamp() != mongo.Timestamp() || pg.EventName() != mongo.EventName() {
			t.Errorf("%+v:\npostgres %v %v\nmongo    %v %v", he, pg.Attributes().AsRaw(), pg.Body().AsRaw(),
				mongo.Attributes().AsRaw(), mongo.Body().AsRaw())
		}
	}
}

// TestDecoderReuse: a decoder keeps nothing of one event in the next.
func TestDecoderReuse(t *testing.T) {
	d := newDecoder()
	first := plog.NewLogRecord()
	full := `{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {"metadata": {"a": "1"}, "errorCode": ["1"], ` +
		`"entitiesImpacted": [{"entityType": "GPU"}], "drainOverrides": {}, "customRecommendedAction": "x", "recommendedAction": 27}}`
	if err := d.FromPostgres(pgID, rowTime, []byte(full), first); err != nil {
		t.Fatal(err)
	}
	if err := d.FromPostgres(pgID, rowTime, []byte(`{"healthevent": {"agent": 1}}`), plog.NewLogRecord()); err == nil {
		t.Fatal("want an error")
	}
	for _, doc := range []string{`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {}}`} {
		lr := plog.NewLogRecord()
		if err := d.FromPostgres(pgID, rowTime, []byte(doc), lr); err != nil {
			t.Fatal(err)
		}
		want := fromPostgres(t, doc)
		if !lr.Body().Equal(want.Body()) {
			t.Errorf("reused decoder: %v, want %v", lr.Body().AsRaw(), want.Body().AsRaw())
		}
		lr = plog.NewLogRecord()
		if err := d.FromMongo(mongoDoc(mongoA3()), lr); err != nil {
			t.Fatal(err)
		}
		if got := healthEventText(t, lr); got != healthEventA3 {
			t.Errorf("reused decoder: %s", got)
		}
	}
	// The first record does not share the decoder's scratch space.
	if got := healthEventText(t, first); !strings.Contains(got, `"errorCode":["1"]`) || !strings.Contains(got, `"metadata":{"a":"1"}`) {
		t.Errorf("first record changed: %s", got)
	}
}
