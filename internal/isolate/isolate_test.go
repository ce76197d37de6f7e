package isolate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
)

// batch has n events over two resources and three scopes, each with a
// "n" attribute.
func batch(n int) plog.Logs {
	ld := plog.NewLogs()
	for i := 0; i < n; {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("host", fmt.Sprintf("h%d", i))
		for s := 0; s < 3 && i < n; s++ {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(fmt.Sprintf("scope%d", s))
			for k := 0; k < 7 && i < n; k++ {
				sl.LogRecords().AppendEmpty().Attributes().PutInt("n", int64(i))
				i++
			}
		}
	}
	return ld
}

func numbers(ld plog.Logs) []int {
	var out []int
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				v, _ := lr.Attributes().Get("n")
				out = append(out, int(v.Int()))
			}
		}
	}
	return out
}

// kafkaLike refuses for good, as the Kafka exporter does, any batch over
// limit events or holding a poisoned event, and empties what it is given
// (as a batching queue would).
type kafkaLike struct {
	limit    int
	poison   map[int]bool
	accepted []int
	failNext error
}

func (k *kafkaLike) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if k.failNext != nil {
		err := k.failNext
		k.failNext = nil
		return err
	}
	ns := numbers(ld)
	ld.ResourceLogs().RemoveIf(func(plog.ResourceLogs) bool { return true })
	for _, n := range ns {
		if k.poison[n] {
			return consumererror.NewPermanent(errors.New("event " + strconv.Itoa(n) + " refused"))
		}
	}
	if len(ns) > k.limit {
		return consumererror.NewPermanent(errors.New(`error exporting to topic "t": record size 551012 exceeds max 65536: MESSAGE_TOO_LARGE: The request included a message larger than the max message size the server will accept.`))
	}
	k.accepted = append(k.accepted, ns...)
	return nil
}

func (*kafkaLike) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func TestDeliverSplitsUntilEverythingFits(t *testing.T) {
	k := &kafkaLike{limit: 100, poison: map[int]bool{17: true, 500: true}}
	var dead []int
	var reasons []string
	res, err := Deliver(context.Background(), k, batch(1000), Options{}, func(_ context.Context, ld plog.Logs, reason string, _ error) {
		dead = append(dead, numbers(ld)...)
		reasons = append(reasons, reason)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 998 || res.Dead != 2 || len(k.accepted) != 998 {
		t.Fatalf("result %+v, %d accepted", res, len(k.accepted))
	}
	for i, n := range k.accepted { // in order, each once
		want := i
		if i >= 17 {
			want++
		}
		if i >= 499 {
			want++
		}
		if n != want {
			t.Fatalf("accepted[%d] = %d, want %d", i, n, want)
		}
	}
	if fmt.Sprint(dead) != "[17 500]" || fmt.Sprint(reasons) != "[rejected rejected]" {
		t.Fatalf("dead %v %v", dead, reasons)
	}
	t.Logf("%d offers for 1,000 events", res.Offers)
}

func TestDeliverTooLargeAlone(t *testing.T) {
	k := &kafkaLike{limit: 0} // every event is too large alone
	var reasons []string
	res, err := Deliver(context.Background(), k, batch(5), Options{}, func(_ context.Context, ld plog.Logs, reason string, _ error) {
		reasons = append(reasons, reason)
	})
	if err != nil || res.Dead != 5 || res.Offers != 9 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, r := range reasons {
		if r != "too_large" {
			t.Fatalf("reason %q", r)
		}
	}
}

func TestDeliverMaxDepth(t *testing.T) {
	k := &kafkaLike{limit: 0}
	var chunks []int
	res, err := Deliver(context.Background(), k, batch(64), Options{MaxDepth: 2}, func(_ context.Context, ld plog.Logs, _ string, _ error) {
		chunks = append(chunks, ld.LogRecordCount())
	})
	if err != nil || res.Offers != 7 || fmt.Sprint(chunks) != "[16 16 16 16]" {
		t.Fatalf("%+v %v %v", res, err, chunks)
	}
}

func TestDeliverRefusedStartsWithHalves(t *testing.T) {
	k := &kafkaLike{limit: 10}
	cause := consumererror.NewPermanent(errors.New("MESSAGE_TOO_LARGE"))
	res, err := Deliver(context.Background(), k, batch(20), Options{Refused: true, Cause: cause}, nil)
	if err != nil || res.Offers != 2 || res.Accepted != 20 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestDeliverTransientErrorReturns(t *testing.T) {
	k := &kafkaLike{limit: 10, failNext: errors.New("broker away")}
	res, err := Deliver(context.Background(), k, batch(20), Options{}, nil)
	if err == nil || res.Accepted != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestSlice(t *testing.T) {
	ld := batch(50)
	for _, r := range [][2]int{{0, 50}, {0, 1}, {6, 8}, {20, 43}, {49, 50}, {10, 10}} {
		s := Slice(ld, r[0], r[1])
		got := numbers(s)
		if len(got) != r[1]-r[0] || (len(got) > 0 && got[0] != r[0]) {
			t.Fatalf("slice %v: %v", r, got)
		}
		for _, rl := range s.ResourceLogs().All() {
			if _, ok := rl.Resource().Attributes().Get("host"); !ok || rl.ScopeLogs().Len() == 0 {
				t.Fatalf("slice %v lost its resource or has an empty one", r)
			}
		}
	}
	if ld.LogRecordCount() != 50 {
		t.Fatal("Slice changed its input")
	}
}
