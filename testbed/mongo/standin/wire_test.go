package standin

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"net"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/wire"
)

// TestLegacyHandshake: the OP_QUERY isMaster a driver sends first gets an
// OP_REPLY describing the primary; a checksummed OP_MSG is answered too.
func TestLegacyHandshake(t *testing.T) {
	c, err := net.DialTimeout("tcp", shared.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	q, _ := bson.Marshal(bson.D{{Key: "isMaster", Value: 1}, {Key: "helloOk", Value: true}})
	if _, err := c.Write(wire.AppendQuery(nil, 7, "admin.$cmd", q)); err != nil {
		t.Fatal(err)
	}
	h, msg, err := wire.ReadMessage(r, nil)
	if err != nil || h.OpCode != wire.OpReply || h.ResponseTo != 7 {
		t.Fatalf("reply %+v, %v", h, err)
	}
	doc, err := wire.ParseReply(msg)
	if err != nil {
		t.Fatal(err)
	}
	var hello struct {
		IsMaster   bool   `bson:"ismaster"`
		HelloOK    bool   `bson:"helloOk"`
		SetName    string `bson:"setName"`
		MaxWire    int32  `bson:"maxWireVersion"`
		SessionMin int32  `bson:"logicalSessionTimeoutMinutes"`
	}
	if err := bson.Unmarshal(doc, &hello); err != nil || !hello.IsMaster || !hello.HelloOK || hello.SetName != "rs0" || hello.MaxWire < 9 || hello.SessionMin == 0 {
		t.Fatalf("isMaster: %v (%v)", bson.Raw(doc), err)
	}

	// OP_MSG ping with a CRC-32C checksum.
	body := bsoncore.NewDocumentBuilder().AppendInt32("ping", 1).AppendString("$db", "admin").Build()
	m := wire.AppendMsg(nil, 8, 0, wire.FlagChecksumPresent, body)
	binary.LittleEndian.PutUint32(m, uint32(len(m)+4))
	m = binary.LittleEndian.AppendUint32(m, crc32.Checksum(m, crc32.MakeTable(crc32.Castagnoli)))
	if _, err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	h, msg, err = wire.ReadMessage(r, nil)
	if err != nil || h.OpCode != wire.OpMsg || h.ResponseTo != 8 {
		t.Fatalf("reply %+v, %v", h, err)
	}
	rm, err := wire.ParseMsg(msg)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := rm.Body.Lookup("ok").AsFloat64OK(); ok != 1 {
		t.Fatalf("ping: %v", rm.Body)
	}
}
