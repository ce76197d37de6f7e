package testutil

import (
	"context"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensiontest"
)

// StorageHost is a host with one real file_storage extension on a folder.
// Make one anew (on the same folder) for every component start, as a
// restarted collector would, and Close it after the component's Shutdown.
type StorageHost struct {
	ID  component.ID
	ext component.Component
}

// NewStorageHost starts a file_storage extension named file_storage/progress
// on dir.
func NewStorageHost(t testing.TB, dir string) *StorageHost {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &StorageHost{ID: component.NewIDWithName(f.Type(), "progress"), ext: ext}
	if err := ext.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return h
}

// GetExtensions implements component.Host.
func (h *StorageHost) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{h.ID: h.ext}
}

// Close shuts the extension down.
func (h *StorageHost) Close(t testing.TB) {
	t.Helper()
	if err := h.ext.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
