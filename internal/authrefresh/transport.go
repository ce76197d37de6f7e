package authrefresh

import (
	"io"
	"net/http"
)

// NewRoundTripper returns the RoundTripper that puts the cache's token on
// every request as header: scheme + " " + token (just the token when scheme
// is empty), and handles 401/403 as the package doc says.
func NewRoundTripper(base http.RoundTripper, cache *Cache, header, scheme string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	prefix := ""
	if scheme != "" {
		prefix = scheme + " "
	}
	return &roundTripper{base: base, cache: cache, header: http.CanonicalHeaderKey(header), prefix: prefix}
}

type roundTripper struct {
	base   http.RoundTripper
	cache  *Cache
	header string
	prefix string
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tok, err := t.cache.Token(ctx)
	if err != nil {
		closeBody(req.Body) // a RoundTripper closes the body, even on error
		return nil, err
	}
	resp, err := t.base.RoundTrip(t.authorized(req, req.Body, tok, false))
	if err != nil {
		return nil, err
	}
	if !rejected(resp.StatusCode) {
		t.cache.accepted(tok)
		return resp, nil
	}
	t.cache.InvalidateToken(tok)

	body, replayable := replayBody(req)
	if !replayable {
		return resp, nil
	}
	fresh, err := t.cache.Token(ctx)
	if err != nil || fresh == tok {
		// No better token in time (or the source still has the same one):
		// the caller gets the rejection as it came.
		closeBody(body)
		return resp, nil
	}
	drain(resp.Body)
	resp, err = t.base.RoundTrip(t.authorized(req, body, fresh, true))
	if err != nil {
		return nil, err
	}
	if rejected(resp.StatusCode) {
		t.cache.InvalidateToken(fresh)
	} else {
		t.cache.accepted(fresh)
	}
	return resp, nil
}

// authorized returns a copy of req, as a RoundTripper must not change its
// argument, with body and the token header. Its context records the token
// for UsedToken and Retried.
func (t *roundTripper) authorized(req *http.Request, body io.ReadCloser, tok string, retried bool) *http.Request {
	r := req.Clone(withUsage(req.Context(), usage{token: tok, retried: retried}))
	r.Body = body
	r.Header.Set(t.header, t.prefix+tok)
	return r
}

func rejected(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// replayBody returns a fresh copy of req's body for a second attempt.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return body, true
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}

// drain reads a little of a discarded response so that its connection can be
// reused, then closes it.
func drain(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, 64<<10)
	_ = b.Close()
}
