package schemaregistryextension

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cacheFile is the name of the cached package in cache_dir.
const cacheFile = "schemas.zip"

// cacheSourcePrefix starts the zip comment that records where the cached
// package came from.
const cacheSourcePrefix = "courier schema_registry cache of "

// saveCache writes the documents of the last good package as a zip in dir,
// atomically: a crash leaves either the old or the new cache.
func saveCache(dir string, docs []document, source string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create cache_dir: %w", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, d := range docs {
		w, err := zw.Create(d.name)
		if err != nil {
			return fmt.Errorf("cache %s: %w", d.name, err)
		}
		if _, err := w.Write(d.data); err != nil {
			return fmt.Errorf("cache %s: %w", d.name, err)
		}
	}
	if err := zw.SetComment(cacheSourcePrefix + source); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, cacheFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("write cache: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // after a successful rename there is nothing to remove
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, cacheFile)); err != nil {
		return fmt.Errorf("write cache: %w", err)
	}
	return nil
}

// loadCache reads the cached package and the source it came from.
func loadCache(dir string, lim limits) ([]document, string, error) {
	p := filepath.Join(dir, cacheFile)
	b, err := readFile(p, lim.maxDownload)
	if err != nil {
		return nil, "", err
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", p, err)
	}
	source := strings.TrimPrefix(zr.Comment, cacheSourcePrefix)
	docs, err := readZip(b, lim)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", p, err)
	}
	return docs, source, nil
}
