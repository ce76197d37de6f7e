package schemaregistryextension

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// document is one JSON file of a schema package.
type document struct {
	name string // path inside the package, '/'-separated
	data []byte
}

// limits bound what one package may cost (zip bombs, runaway downloads).
type limits struct {
	maxDownload int64 // bytes of a package as fetched: a zip or a JSON file
	maxExpanded int64 // bytes of all JSON documents of a package together
	maxFiles    int   // JSON documents in a package
}

// maxPackageFiles bounds the documents of one package. Real packages hold
// tens of schemas.
const maxPackageFiles = 10000

// digest identifies a package's content, so an unchanged refresh is cheap.
func digest(docs []document) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, d := range docs {
		binary.LittleEndian.PutUint64(n[:], uint64(len(d.name)))
		h.Write(n[:])
		h.Write([]byte(d.name))
		binary.LittleEndian.PutUint64(n[:], uint64(len(d.data)))
		h.Write(n[:])
		h.Write(d.data)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// isZip reports whether b starts like a zip archive (a local file header or
// the end record of an empty archive).
func isZip(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

// parsePackage reads the content of a fetched package: a zip of JSON files
// or one JSON file, told apart by content rather than by name or content
// type.
func parsePackage(name string, b []byte, lim limits) ([]document, error) {
	if isZip(b) {
		return readZip(b, lim)
	}
	if t := bytes.TrimLeft(b, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		if int64(len(b)) > lim.maxExpanded {
			return nil, fmt.Errorf("%d bytes exceed max_expanded_size (%d)", len(b), lim.maxExpanded)
		}
		return []document{{name: path.Base(filepath.ToSlash(name)), data: b}}, nil
	}
	return nil, errors.New("neither a zip archive nor a JSON schema")
}

// isSchemaFile reports whether a package entry is a JSON document to load.
// Hidden files and macOS resource forks are left out.
func isSchemaFile(name string) bool {
	base := path.Base(name)
	return strings.EqualFold(path.Ext(base), ".json") && !strings.HasPrefix(base, ".") &&
		!strings.HasPrefix(name, "__MACOSX/") && !strings.Contains(name, "/__MACOSX/")
}

// readZip reads the JSON files of a zip archive, at any depth. Sizes are
// counted while decompressing, not taken from the headers, which a zip bomb
// can fake.
func readZip(b []byte, lim limits) ([]document, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	var docs []document
	var total int64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !isSchemaFile(f.Name) {
			continue
		}
		if len(docs) >= lim.maxFiles {
			return nil, fmt.Errorf("zip holds more than %d JSON files", lim.maxFiles)
		}
		remaining := lim.maxExpanded - total
		if f.UncompressedSize64 > uint64(remaining) {
			return nil, fmt.Errorf("zip entry %s: expands beyond max_expanded_size (%d bytes)", f.Name, lim.maxExpanded)
		}
		data, err := readEntry(f, remaining)
		if err != nil {
			return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
		}
		total += int64(len(data))
		docs = append(docs, document{name: f.Name, data: data})
	}
	return sortedDocs(docs)
}

func readEntry(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New("expands beyond max_expanded_size")
	}
	return data, nil
}

// readDir reads the JSON files under dir, at any depth. Hidden files and
// directories are left out; symbolic links to files are followed, links to
// directories are not.
func readDir(dir string, lim limits) ([]document, error) {
	var docs []document
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !isSchemaFile(rel) {
			return nil
		}
		info, err := os.Stat(p) // follows a link to a file
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		if len(docs) >= lim.maxFiles {
			return fmt.Errorf("more than %d JSON files", lim.maxFiles)
		}
		data, err := readFile(p, lim.maxExpanded-total)
		if err != nil {
			return err
		}
		total += int64(len(data))
		docs = append(docs, document{name: rel, data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sortedDocs(docs)
}

// readFile reads a file of at most limit bytes.
func readFile(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than the size limit (%d bytes)", p, limit)
	}
	return data, nil
}

func sortedDocs(docs []document) ([]document, error) {
	if len(docs) == 0 {
		return nil, errors.New("no .json files")
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].name < docs[j].name })
	return docs, nil
}
