// Command nvwatch is the change-stream side of NVSentinel's event-exporter
// on MongoDB, for tests: the Go driver v1 (the version NVSentinel's
// store-client uses) used as its ChangeStreamWatcher uses it, so that an
// end-to-end test can hand a resume token from NVSentinel's exporter to
// Courier and back (testbed/e2e TestNVSentinelMongoDBTokenExchange).
//
//	nvwatch -uri URI -tls-ca F -tls-cert F -tls-key F -events N [-database nvsentinel]
//	        [-collection HealthEvents] [-token-collection ResumeTokens] [-client-name event-exporter] [-timeout 2m]
//
// As NVSentinel's exporter does, it reads the token document
// {clientName: …} of the token collection (in the events' database, as
// store-client's TokenConfigFromEnv sets it) and resumes after its
// resumeToken, or starts at "now" when there is none; it watches inserts
// ({$match: {operationType: {$in: ["insert"]}}}, fullDocument updateLookup,
// secondaryPreferred), authenticated with MONGODB-X509; after each event it
// stores the stream's resume token as MarkProcessed does (UpdateOne $set
// resumeToken, upsert, majority). It exits after N events.
//
// Its output is JSON lines: first {"watching":true,"resumed":bool} once the
// stream is open (inserts after it are seen), then {"id","node"} per event,
// the fullDocument's _id (hex) and healthevent.nodename.
//
// It lives in this module because driver v1 does: the distribution's module
// graph keeps only v2.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readconcern"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

type config struct {
	uri, ca, cert, key           string
	database, collection, tokens string
	clientName                   string
	events                       int
	timeout                      time.Duration
}

func main() {
	var c config
	fs := flag.NewFlagSet("nvwatch", flag.ExitOnError)
	fs.StringVar(&c.uri, "uri", "", "mongodb:// URI of the replica set")
	fs.StringVar(&c.ca, "tls-ca", "", "CA (PEM) of the server's certificate")
	fs.StringVar(&c.cert, "tls-cert", "", "client certificate (PEM) for MONGODB-X509")
	fs.StringVar(&c.key, "tls-key", "", "client key (PEM)")
	fs.StringVar(&c.database, "database", "nvsentinel", "database of the events and of the token collection (MONGODB_DATABASE_NAME)")
	fs.StringVar(&c.collection, "collection", "HealthEvents", "collection of the events (MONGODB_COLLECTION_NAME)")
	fs.StringVar(&c.tokens, "token-collection", "ResumeTokens", "collection of the token documents (MONGODB_TOKEN_COLLECTION_NAME)")
	fs.StringVar(&c.clientName, "client-name", "event-exporter", "the token document's clientName (the event-exporter's own)")
	fs.IntVar(&c.events, "events", 0, "exit after this many events (required, at least 1)")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "fail when the events have not all come by then")
	_ = fs.Parse(os.Args[1:])
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "nvwatch:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.uri == "" || c.events < 1 {
		return errors.New("-uri and -events (at least 1) are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	opts := options.Client().ApplyURI(c.uri).SetServerSelectionTimeout(30 * time.Second)
	if c.ca != "" {
		tc, err := tlsConfig(c)
		if err != nil {
			return err
		}
		opts.SetTLSConfig(tc)
		if len(tc.Certificates) > 0 {
			opts.SetAuth(options.Credential{AuthMechanism: "MONGODB-X509", AuthSource: "$external"})
		}
	}
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = client.Disconnect(context.Background()) }()

	// The token collection as the watcher opens it: majority, primary.
	tokens := client.Database(c.database).Collection(c.tokens, options.Collection().
		SetWriteConcern(writeconcern.Majority()).SetReadConcern(readconcern.Majority()).SetReadPreference(readpref.Primary()))
	csOpts := options.ChangeStream().SetFullDocument(options.UpdateLookup)
	var stored struct {
		ResumeToken bson.Raw `bson:"resumeToken"` // the watcher's TokenDoc
	}
	resumed := false
	switch err := tokens.FindOne(ctx, bson.M{"clientName": c.clientName}).Decode(&stored); {
	case err == nil && len(stored.ResumeToken) > 0:
		csOpts.SetResumeAfter(stored.ResumeToken)
		resumed = true
	case err != nil && !errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("read the resume token of %q: %w", c.clientName, err)
	}
	events := client.Database(c.database).Collection(c.collection, options.Collection().SetReadPreference(readpref.SecondaryPreferred()))
	pipeline := mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert"}}}}}}}}
	cs, err := events.Watch(ctx, pipeline, csOpts)
	if err != nil {
		return fmt.Errorf("open the change stream: %w", err)
	}
	defer func() { _ = cs.Close(context.Background()) }()

	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]bool{"watching": true, "resumed": resumed}); err != nil {
		return err
	}
	for n := 0; n < c.events; n++ {
		if !cs.Next(ctx) {
			return fmt.Errorf("after %d of %d events: %w", n, c.events, errors.Join(cs.Err(), ctx.Err()))
		}
		// Decoded as the watcher decodes it (a map), read as the exporter
		// reads it.
		var ev bson.M
		if err := cs.Decode(&ev); err != nil {
			return fmt.Errorf("decode event %d: %w", n+1, err)
		}
		id, node, err := idAndNode(ev)
		if err != nil {
			return fmt.Errorf("event %d: %w", n+1, err)
		}
		if err := out.Encode(map[string]string{"id": id, "node": node}); err != nil {
			return err
		}
		// MarkProcessed with no token of its own: the stream's.
		if _, err := tokens.UpdateOne(ctx, bson.M{"clientName": c.clientName},
			bson.M{"$set": bson.M{"resumeToken": cs.ResumeToken()}}, options.Update().SetUpsert(true)); err != nil {
			return fmt.Errorf("store the resume token: %w", err)
		}
	}
	return nil
}

func idAndNode(ev bson.M) (string, string, error) {
	doc, ok := ev["fullDocument"].(bson.M)
	if !ok {
		return "", "", fmt.Errorf("no fullDocument: %v", ev)
	}
	id, ok := doc["_id"].(primitive.ObjectID)
	if !ok {
		return "", "", fmt.Errorf("fullDocument._id is not an ObjectId: %v", doc["_id"])
	}
	he, _ := doc["healthevent"].(bson.M)
	node, ok := he["nodename"].(string)
	if !ok {
		return "", "", fmt.Errorf("no healthevent.nodename in %v", doc)
	}
	return id.Hex(), node, nil
}

// tlsConfig is the static TLS configuration of NVSentinel's watcher: the
// CA as the only roots, the client certificate when given.
func tlsConfig(c config) (*tls.Config, error) {
	pem, err := os.ReadFile(c.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", c.ca)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if c.cert != "" {
		kp, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return tc, nil
}
