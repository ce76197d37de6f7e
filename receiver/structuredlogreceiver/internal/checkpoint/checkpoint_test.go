package checkpoint

import (
	"context"
	"maps"
	"testing"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
)

// mapClient is the smallest storage.Client; the receiver's tests use the
// real file_storage extension.
type mapClient struct {
	storage.Client
	m map[string][]byte
}

func (c *mapClient) Get(_ context.Context, k string) ([]byte, error) { return c.m[k], nil }
func (c *mapClient) Set(_ context.Context, k string, v []byte) error {
	c.m[k] = append([]byte(nil), v...)
	return nil
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := &mapClient{m: map[string][]byte{}}
	s := New(c)
	got, err := s.Load(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Load of nothing = %v, %v", got, err)
	}
	a := Entry{Key: Key{ID: fileid.ID{Dev: 1, Ino: 2}, HeaderTime: "2025-03-04T05:06:07.123456+00:00"}, Path: "/x/a.log", Offset: 300}
	b := Entry{Key: Key{ID: fileid.ID{Dev: 1, Ino: 3}, HeaderTime: "2025-03-04T05:06:08.000000+00:00"}, Path: "/x/a.1.log", Offset: 1 << 40}
	if err := s.Save(ctx, []Entry{a, b}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[Key]Entry{a.Key: a, b.Key: b}; !maps.Equal(got, want) {
		t.Fatalf("Load() = %v, want %v", got, want)
	}
	// A file the receiver forgot is gone after the next save.
	if err := s.Save(ctx, []Entry{b}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx); len(got) != 1 {
		t.Fatalf("after forgetting a file: %v", got)
	}
	c.m[StorageKey] = []byte(`{"version":99,"files":[]}`)
	if _, err := s.Load(ctx); err == nil {
		t.Fatal("unknown version loaded")
	}
	c.m[StorageKey] = []byte(`garbage`)
	if _, err := s.Load(ctx); err == nil {
		t.Fatal("garbage loaded")
	}
}
