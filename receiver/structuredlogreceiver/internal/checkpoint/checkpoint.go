// Package checkpoint persists each file's progress in a storage extension.
//
// All files are saved together under one key, as one small JSON document,
// after every commit: a single Set is atomic, and files the receiver forgot
// (deleted, rotated away) drop out of it, so the stored state is bounded by
// the files being tracked. Progress written into file headers as seek tags
// is handled by the tailer through pkg/structuredlog; this package is only
// the storage side.
package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
)

// StorageKey is the key the document is stored under; storage clients are
// per component, so it only needs to be unique within this receiver.
const StorageKey = "structured_log.files"

const version = 1

// Key identifies one file: its device and inode plus the creation time in
// its header, which tells a file apart from a later one reusing the inode.
type Key struct {
	ID         fileid.ID
	HeaderTime string
}

// Entry is one file's committed progress.
type Entry struct {
	Key    Key
	Path   string // last path seen, for people reading the state
	Offset int64  // bytes from the start of the file
}

type document struct {
	Version int         `json:"version"`
	Files   []fileEntry `json:"files"`
}

type fileEntry struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Time   string `json:"time"`
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
}

// Store reads and writes progress through a storage client.
type Store struct {
	client storage.Client
}

// New returns a Store on client.
func New(client storage.Client) *Store { return &Store{client: client} }

// Load returns the saved progress by file. Nothing saved yet is an empty map.
func (s *Store) Load(ctx context.Context) (map[Key]Entry, error) {
	b, err := s.client.Get(ctx, StorageKey)
	if err != nil {
		return nil, fmt.Errorf("load progress: %w", err)
	}
	entries := make(map[Key]Entry)
	if len(b) == 0 {
		return entries, nil
	}
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("load progress: %w", err)
	}
	if doc.Version != version {
		return nil, fmt.Errorf("load progress: unknown state version %d", doc.Version)
	}
	for _, f := range doc.Files {
		k := Key{ID: fileid.ID{Dev: f.Dev, Ino: f.Ino}, HeaderTime: f.Time}
		entries[k] = Entry{Key: k, Path: f.Path, Offset: f.Offset}
	}
	return entries, nil
}

// Save replaces the saved progress with entries.
func (s *Store) Save(ctx context.Context, entries []Entry) error {
	doc := document{Version: version, Files: make([]fileEntry, len(entries))}
	for i, e := range entries {
		doc.Files[i] = fileEntry{Dev: e.Key.ID.Dev, Ino: e.Key.ID.Ino, Time: e.Key.HeaderTime, Path: e.Path, Offset: e.Offset}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	if err := s.client.Set(ctx, StorageKey, b); err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	return nil
}
