package standin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/courier-otel/courier/internal/pgtest"
)

// shared is the stand-in most tests use (over one throwaway PostgreSQL,
// which also serves the tests that start their own stand-ins).
var (
	shared *Server
	pg     *pgtest.Server
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		if pg, err = pgtest.New(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pg.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dsn, err := newDatabase(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if shared, err = Start(ctx, Options{Postgres: dsn, Logs: testLogs()}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer shared.Close()
		return m.Run()
	}())
}

func testLogs() *os.File {
	if os.Getenv("COURIER_MONGO_LOGS") != "" {
		return os.Stderr
	}
	return nil
}

var dbCount int

// newDatabase creates a fresh PostgreSQL database for a stand-in.
func newDatabase(ctx context.Context) (string, error) {
	dbCount++
	name := fmt.Sprintf("standin_%d", dbCount)
	return createDB(ctx, pg, name)
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func randomName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// connectV2 connects the official Go driver v2 to uri.
func connectV2(t testing.TB, uri string, opts ...*options.ClientOptions) *mongo.Client {
	t.Helper()
	o := options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second)
	all := append([]*options.ClientOptions{o}, opts...)
	client, err := mongo.Connect(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client
}
