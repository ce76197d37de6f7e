package loadgen

import (
	"context"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/courier-otel/courier/internal/pgtest"
)

// MongoDocument is ev as NVSentinel's platform connector stores it in
// MongoDB (SPEC.md A.2): the Go driver's default codec, so lowercase keys
// and enum integers, with createdAt and the status it writes at insert.
func MongoDocument(id bson.ObjectID, ev pgtest.HealthEvent, createdAt time.Time) bson.D {
	entities := bson.A{}
	for _, e := range ev.EntitiesImpacted {
		entities = append(entities, bson.D{{Key: "entitytype", Value: e.EntityType}, {Key: "entityvalue", Value: e.EntityValue}})
	}
	errorCodes := bson.A{}
	for _, c := range ev.ErrorCode {
		errorCodes = append(errorCodes, c)
	}
	metadata := bson.D{}
	for k, v := range ev.Metadata {
		metadata = append(metadata, bson.E{Key: k, Value: v})
	}
	var generated any
	if ev.GeneratedTimestamp != nil {
		generated = bson.D{{Key: "seconds", Value: ev.GeneratedTimestamp.Seconds}, {Key: "nanos", Value: ev.GeneratedTimestamp.Nanos}}
	}
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "createdAt", Value: createdAt},
		{Key: "healthevent", Value: bson.D{
			{Key: "version", Value: int64(ev.Version)}, {Key: "agent", Value: ev.Agent},
			{Key: "componentclass", Value: ev.ComponentClass}, {Key: "checkname", Value: ev.CheckName},
			{Key: "isfatal", Value: ev.IsFatal}, {Key: "ishealthy", Value: ev.IsHealthy}, {Key: "message", Value: ev.Message},
			{Key: "recommendedaction", Value: ev.RecommendedAction}, {Key: "errorcode", Value: errorCodes},
			{Key: "entitiesimpacted", Value: entities}, {Key: "metadata", Value: metadata},
			{Key: "generatedtimestamp", Value: generated},
			{Key: "nodename", Value: ev.NodeName}, {Key: "quarantineoverrides", Value: nil}, {Key: "drainoverrides", Value: nil},
			{Key: "processingstrategy", Value: ev.ProcessingStrategy}, {Key: "id", Value: ev.ID},
			{Key: "customrecommendedaction", Value: ev.CustomRecommendedAction},
		}},
		{Key: "healtheventstatus", Value: bson.D{
			{Key: "nodequarantined", Value: nil},
			{Key: "userpodsevictionstatus", Value: bson.D{{Key: "status", Value: ""}}},
			{Key: "faultremediated", Value: nil},
		}},
	}
}

// MongoConfig says what InsertMongoHealthEvents inserts.
type MongoConfig struct {
	// Collection is NVSentinel's HealthEvents collection.
	Collection *mongo.Collection
	// Count, Rate, Batch, Node and Event as in NVSentinelConfig.
	Count int
	Rate  float64
	Batch int
	Node  string
	Event func(i int) pgtest.HealthEvent
}

// InsertMongoHealthEvents inserts health events into MongoDB as
// NVSentinel's platform connector does (one document per insert unless
// cfg.Batch) until cfg.Count are acknowledged or ctx ends, and tells rec of
// each (its _id, in hex: the CloudEvent id) with the time it was
// acknowledged. A failed insert (the server restarting) is retried with
// the same _ids, so one that committed without an answer is found by its
// duplicate-key error and recorded too.
func InsertMongoHealthEvents(ctx context.Context, cfg MongoConfig, rec Recorder) error {
	if cfg.Batch <= 0 {
		cfg.Batch = 1
	}
	if cfg.Node == "" {
		cfg.Node = "load-node"
	}
	if cfg.Event == nil {
		cfg.Event = func(i int) pgtest.HealthEvent { return pgtest.SampleEvent(cfg.Node + "-" + strconv.Itoa(i)) }
	}
	p := newPacer(cfg.Rate)
	for i := 0; cfg.Count == 0 || i < cfg.Count; {
		if err := p.wait(ctx, i); err != nil {
			return nil // the context ended: done
		}
		n := cfg.Batch
		if cfg.Count > 0 {
			n = min(n, cfg.Count-i)
		}
		docs := make([]any, n)
		ids := make([]string, n)
		for k := range n {
			id := bson.NewObjectID()
			docs[k], ids[k] = MongoDocument(id, cfg.Event(i+k), time.Now()), id.Hex()
		}
		// As for PostgreSQL, the context ends the load between inserts,
		// not during one.
		for {
			ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), insertTimeout)
			_, err := cfg.Collection.InsertMany(ictx, docs, options.InsertMany().SetOrdered(false))
			cancel()
			if err == nil || mongo.IsDuplicateKeyError(err) {
				break
			}
			select {
			case <-ctx.Done():
				return nil // what was not acknowledged is not recorded
			case <-time.After(50 * time.Millisecond):
			}
		}
		at := time.Now()
		for _, id := range ids {
			rec.Written(id, at)
		}
		i += n
	}
	return nil
}
