package schemaregistryextension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// sourceKind is how a source is fetched.
type sourceKind uint8

const (
	sourceHTTP sourceKind = iota // http:// or https:// URL
	sourcePath                   // file:// URL or plain path
)

// parseSource classifies a configured source. A file:// URL becomes the
// path after the scheme (file:///abs/path, file://relative/path).
func parseSource(s string) (sourceKind, string, error) {
	if s == "" {
		return 0, "", errors.New("empty source")
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"):
		u, err := url.Parse(s)
		if err != nil {
			return 0, "", err
		}
		if u.Host == "" {
			return 0, "", fmt.Errorf("URL %q has no host", s)
		}
		return sourceHTTP, s, nil
	case strings.HasPrefix(lower, "file://"):
		p, err := url.PathUnescape(s[len("file://"):])
		if err != nil {
			return 0, "", fmt.Errorf("file URL %q: %w", s, err)
		}
		if p == "" {
			return 0, "", fmt.Errorf("file URL %q names no path", s)
		}
		return sourcePath, p, nil
	}
	if i := strings.Index(s, "://"); i > 0 && !strings.ContainsAny(s[:i], `/\`) {
		return 0, "", fmt.Errorf("unsupported URL scheme %q: use https://, http://, file:// or a path", s[:i])
	}
	return sourcePath, s, nil
}

// fetcher reads packages from sources.
type fetcher struct {
	client *http.Client
	lim    limits
}

// fetch reads the package a source names.
func (f *fetcher) fetch(ctx context.Context, src string) ([]document, error) {
	kind, target, err := parseSource(src)
	if err != nil {
		return nil, err
	}
	if kind == sourceHTTP {
		b, err := f.download(ctx, target)
		if err != nil {
			return nil, err
		}
		return parsePackage(target, b, f.lim)
	}
	info, err := os.Stat(target)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return readDir(target, f.lim)
	}
	b, err := readFile(target, f.lim.maxDownload)
	if err != nil {
		return nil, err
	}
	return parsePackage(target, b, f.lim)
}

// download GETs a package of at most maxDownload bytes.
func (f *fetcher) download(ctx context.Context, u string) ([]byte, error) {
	if f.client == nil {
		return nil, errors.New("no HTTP client")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/zip, application/json;q=0.9, */*;q=0.1")
	resp, err := f.client.Do(req)
	if err != nil {
		// The URL may carry credentials; the caller names the source redacted.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	if resp.ContentLength > f.lim.maxDownload {
		return nil, fmt.Errorf("package of %d bytes exceeds max_download_size (%d)", resp.ContentLength, f.lim.maxDownload)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.lim.maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > f.lim.maxDownload {
		return nil, fmt.Errorf("package exceeds max_download_size (%d bytes)", f.lim.maxDownload)
	}
	return b, nil
}

// redact returns a source fit for logs: the password of a URL and its query
// (signed URLs carry tokens there) are hidden.
func redact(src string) string {
	kind, _, err := parseSource(src)
	if err != nil || kind != sourceHTTP {
		return src
	}
	u, err := url.Parse(src)
	if err != nil {
		return src
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.Redacted()
}
