package healthevent

import (
	"bytes"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// checkDecoded fails unless a decoding either was rejected with a reason or
// gave a record that encodes and reads back as the same CloudEvent. (Text
// that is not UTF-8 is written as \ufffd, so the record read back then
// differs; the JSON value it encodes to must not.)
func checkDecoded(t *testing.T, lr plog.LogRecord, err error) {
	t.Helper()
	if err != nil {
		if ReasonOf(err) == "" {
			t.Fatalf("error without a reason: %v", err)
		}
		return
	}
	b, err := cloudevent.Structured{}.AppendEvent(nil, lr)
	if err != nil {
		t.Fatalf("decoded record does not encode: %v", err)
	}
	back := plog.NewLogRecord()
	var dec cloudevent.Decoder
	if err := dec.Decode(b, back); err != nil {
		t.Fatalf("encoding %s does not decode: %v", b, err)
	}
	again, err := cloudevent.Structured{}.AppendEvent(nil, back)
	if eq, _ := jsontest.Equal(again, b); err != nil || !eq {
		t.Fatalf("%s reads back as %s (%v)", b, again, err)
	}
	if !bytes.Contains(b, []byte(`\ufffd`)) && (!back.Body().Equal(lr.Body()) || !back.Attributes().Equal(lr.Attributes())) {
		t.Fatalf("%s reads back as another record", b)
	}
}

func FuzzFromPostgres(f *testing.F) {
	for _, s := range []string{
		pgA3,
		`{"createdAt": "2026-07-14T10:30:01.25Z", "healthevent": {}}`,
		`{"healthevent": {"metadata": {"b": "\u00e9", "a": "x", "a": "y"}, "errorCode": [null, "\ud800"], "entitiesImpacted": [{}]}}`,
		`{"healthevent": {"recommendedAction": "CUSTOM", "generatedTimestamp": "2026-07-14T10:30:00+02:00", "drainOverrides": {"skip": true}}}`,
		`{"HealthEvent": {"Version": 4294967295, "RecommendedAction": 99.0, "GeneratedTimestamp": {"Seconds": -62135596800}}}`,
		`{"healthevent": {"version": -1}}`, `{"healthevent": []}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		lr := plog.NewLogRecord()
		err := newDecoder().FromPostgres(pgID, rowTime, doc, lr)
		checkDecoded(t, lr, err)
	})
}

func FuzzFromMongo(f *testing.F) {
	a3 := mongoA3()
	for _, doc := range []bson.Raw{
		mongoDoc(a3),
		mongoDoc(bson.D{}),
		mongoDoc(with(with(a3, "metadata", bson.D{{Key: "b", Value: "1"}, {Key: "a", Value: nil}}), "drainoverrides", bson.D{})),
		mongoDoc(with(with(a3, "recommendedaction", "RESTART_BM"), "generatedtimestamp", bson.NewDateTimeFromTime(rowTime))),
		mongoDoc(with(a3, "errorcode", bson.A{nil, "x"})),
		must(bson.Marshal(bson.D{{Key: "_id", Value: "string-id"}, {Key: "healthevent", Value: a3}})),
		must(bson.Marshal(bson.D{{Key: "_id", Value: 1}})),
		bson.Raw{5, 0, 0, 0, 0},
		nil,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		lr := plog.NewLogRecord()
		err := newDecoder().FromMongo(doc, lr)
		checkDecoded(t, lr, err)
	})
}
