// Package authrefresh is what Courier's HTTP client authenticators
// (oidc_client, auth_token) share: a token cache with single-flight refresh and
// backoff, the http.RoundTripper they hand to confighttp, and the hook an
// exporter uses when a sink rejects a credential.
//
// # The contract for exporters
//
// An exporter sees only the http.Client that confighttp builds; the
// authenticator's RoundTripper sits inside it (below compression and the
// configured headers). For every request that RoundTripper:
//
//  1. Takes the cached token, or waits for one. While no usable token exists
//     (token endpoint down, token file missing) the request waits; it is never
//     dropped. The wait ends when a token arrives, or when the request's
//     context ends (the http.Client timeout sets that deadline): RoundTrip then
//     returns an error that matches [ErrNoToken] with errors.Is. That error is
//     not permanent: the exporter should retry the data as for a network error.
//  2. Sends the request with the token in the configured header.
//  3. On a 401 or 403 answer, invalidates the token it used, so the next
//     request obtains a fresh one. If the request can be sent again (its body
//     is empty, or req.GetBody is set, as it is for bodies built from bytes,
//     which includes confighttp's compression) and a token different from the
//     rejected one can be obtained within the request's context, it discards
//     the first answer and sends the request once more with the new token.
//     Otherwise it returns the 401/403 answer unchanged. There is at most one
//     such retry per RoundTrip call; a 401/403 on the retry also invalidates
//     the token used for it and is returned as is.
//
// So an exporter needs no code for token refresh: a 401/403 that reaches it
// has already caused the refresh and, when possible, the one retry. It should
// treat that status as retryable once (the next attempt uses the new token),
// and as failed after that. [Retried] tells whether the response is already
// the answer to the authenticator's own retry.
//
// An exporter that builds requests in a way the RoundTripper cannot replay, or
// that learns of a stale credential some other way, calls [Invalidator] on the
// extension (find it with [InvalidatorFor]) and passes the token that was
// rejected ([UsedToken] reads it from the response). Invalidation is keyed by
// that token: it only takes effect while the extension still holds that token,
// so N concurrent 401s for the same stale token cause exactly one refresh, and
// an invalidation that arrives after the refresh is a no-op.
//
// Refreshes caused by invalidation are rate-limited: the first one after a
// token was accepted happens at once; if fresh tokens keep being rejected
// (a sink that refuses the client, not an expired token), the next ones wait
// with the same backoff as failed fetches, so a misconfigured sink cannot make
// Courier hammer the token endpoint.
package authrefresh // import "github.com/courier-otel/courier/internal/authrefresh"

import (
	"context"
	"errors"
	"net"
	"net/http"

	"go.opentelemetry.io/collector/component"
)

// Invalidator is implemented by HTTP client authenticators whose credential
// can go stale. token is the credential that was rejected (without any scheme
// such as "Bearer "): the authenticator drops its cached token only if it is
// still that one, so concurrent rejections of one stale token cause one
// refresh only.
type Invalidator interface {
	InvalidateToken(token string)
}

// InvalidatorFor returns the extension id of host as an Invalidator, for an
// exporter whose confighttp auth.authenticator is id.
func InvalidatorFor(host component.Host, id component.ID) (Invalidator, bool) {
	if host == nil {
		return nil, false
	}
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, false
	}
	inv, ok := ext.(Invalidator)
	return inv, ok
}

// ErrNoToken is matched (errors.Is) by the error a RoundTripper returns when
// the request's context ended before a token was available. It is transient:
// retry the request later.
var ErrNoToken = errors.New("no auth token available")

// ErrClosed is matched by the error returned once the authenticator has been
// shut down.
var ErrClosed = errors.New("authenticator is shut down")

// usage is stored in the context of the request an authrefresh RoundTripper
// sends, so that it can be read back from the response.
type usage struct {
	token   string
	retried bool
}

type usageKey struct{}

func withUsage(ctx context.Context, u usage) context.Context {
	return context.WithValue(ctx, usageKey{}, u)
}

func usageOf(resp *http.Response) (usage, bool) {
	if resp == nil || resp.Request == nil {
		return usage{}, false
	}
	u, ok := resp.Request.Context().Value(usageKey{}).(usage)
	return u, ok
}

// UsedToken returns the token (without scheme) that an authrefresh
// RoundTripper sent on the request that produced resp, to pass to
// [Invalidator.InvalidateToken]. ok is false when resp did not pass through
// one.
func UsedToken(resp *http.Response) (token string, ok bool) {
	u, ok := usageOf(resp)
	return u.token, ok
}

// Retried reports whether resp is the answer to the RoundTripper's own retry
// after a 401/403, i.e. the token was already refreshed once for this request.
func Retried(resp *http.Response) bool {
	u, _ := usageOf(resp)
	return u.retried
}

// IsLoopback reports whether host (a URL's host name) is on this machine,
// where plain http carries no secret across a network.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
