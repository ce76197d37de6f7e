package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/courier-otel/courier/testbed/loadgen"
	"github.com/courier-otel/courier/testbed/mongoproc"
)

// nvsentinelMongo is NVSentinel's default datastore: MongoDB, here
// courier-mongo (the replica-set stand-in, over its own throwaway
// PostgreSQL) with TLS and X.509 client certificates, as NVSentinel's
// in-cluster MongoDB is set up. Documents are stored as NVSentinel's
// platform connector stores them (loadgen.MongoDocument).
type nvsentinelMongo struct {
	server *mongoproc.Server
	client *mongo.Client
	coll   *mongo.Collection
}

func startNVSentinelMongo(ctx context.Context, bin, dir string) (nvStore, error) {
	if bin == "" {
		return nil, errors.New("no courier-mongo binary for MongoDB: build it with `make mongo` and pass -mongo .tools/courier-mongo (`make run` does both)")
	}
	srv, err := mongoproc.Start(ctx, mongoproc.Options{Binary: bin, Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("MongoDB's stand-in did not start: %w", err)
	}
	client, err := srv.Client()
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("MongoDB: %w", err)
	}
	return &nvsentinelMongo{server: srv, client: client, coll: client.Database("nvsentinel").Collection("HealthEvents")}, nil
}

func (m *nvsentinelMongo) kind() string { return "Mongo" }
func (m *nvsentinelMongo) name() string { return "MongoDB" }
func (m *nvsentinelMongo) live() string { return "change stream" }
func (m *nvsentinelMongo) describe() string {
	return "courier-mongo, a one-member replica set over TLS with an X.509 client certificate"
}

func (m *nvsentinelMongo) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.client.Disconnect(ctx)
	m.server.Close()
}

// insert inserts the events in one InsertMany (MongoDB has no transaction
// here; the ids are the client's, so the sink learns the poison ones
// before the insert).
func (m *nvsentinelMongo) insert(ctx context.Context, n, noAction, poison int, createdAt func(i int) time.Time, beforeCommit func(poisonIDs []string) error) error {
	docs := make([]any, 0, n)
	var poisonIDs []string
	for i := range n {
		at := time.Now()
		if createdAt != nil {
			at = createdAt(i)
		}
		ev := demoEvent(i, noAction, at)
		id := bson.NewObjectID()
		docs = append(docs, loadgen.MongoDocument(id, ev, at))
		if i >= n-poison {
			poisonIDs = append(poisonIDs, id.Hex())
		}
	}
	if beforeCommit != nil {
		if err := beforeCommit(poisonIDs); err != nil {
			return err
		}
	}
	if len(docs) == 0 {
		return nil
	}
	_, err := m.coll.InsertMany(ctx, docs)
	return err
}
