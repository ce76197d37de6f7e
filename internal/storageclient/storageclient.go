// Package storageclient opens a component's client of a collector storage
// extension, the way every Courier receiver that keeps progress in one does.
package storageclient // import "github.com/courier-otel/courier/internal/storageclient"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// ForReceiver returns receiver owner's client of storage extension id.
// Callers prefix errors with the config key that named id.
func ForReceiver(ctx context.Context, host component.Host, id, owner component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("extension %s not found", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("extension %s is not a storage extension", id)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, owner, "")
	if err != nil {
		return nil, fmt.Errorf("client from %s: %w", id, err)
	}
	return client, nil
}
