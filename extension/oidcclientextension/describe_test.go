package oidcclientextension

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/courier-otel/courier/internal/authrefresh"
)

func TestDescribe(t *testing.T) {
	const secret = "s3cr3t/Value+42"
	resp := func(code int) *http.Response {
		return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code))}
	}
	for _, tc := range []struct {
		name, want, reason string
		err                error
	}{
		{"raw_body_not_quoted", `token endpoint answered 400 Bad Request`, authrefresh.ReasonRejected,
			&oauth2.RetrieveError{Response: resp(400), Body: []byte("client_secret=" + secret)}},
		{"rfc6749_fields", `token endpoint answered 401 Unauthorized: "invalid_client" ("bad secret [REDACTED]")`, authrefresh.ReasonRejected,
			&oauth2.RetrieveError{Response: resp(401), ErrorCode: "invalid_client", ErrorDescription: "bad secret " + secret}},
		{"form_encoded_echo", `("got client_secret=[REDACTED]")`, authrefresh.ReasonRejected,
			&oauth2.RetrieveError{Response: resp(400), ErrorCode: "invalid_request", ErrorDescription: "got client_secret=" + url.QueryEscape(secret)}},
		{"error_in_200", `token endpoint answered 200 OK with error "server_error"`, authrefresh.ReasonInvalidResponse,
			&oauth2.RetrieveError{Response: resp(200), ErrorCode: "server_error"}},
		{"url_not_repeated", "token request failed: connection refused", authrefresh.ReasonUnreachable,
			&url.Error{Op: "Post", URL: "https://auth.example.com/token?client_secret=" + secret, Err: errors.New("connection refused")}},
		{"timeout", "token request timed out after 10s", authrefresh.ReasonTimeout, context.DeadlineExceeded},
		{"broken_body", "oauth2: cannot fetch token: unexpected EOF", authrefresh.ReasonUnreachable,
			errors.New("oauth2: cannot fetch token: unexpected EOF")},
		{"missing_token", "oauth2: server response missing access_token", authrefresh.ReasonInvalidResponse,
			errors.New("oauth2: server response missing access_token")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := describe(tc.err, "10s", secret)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, err.Error(), url.QueryEscape(secret))
			var fe *authrefresh.FetchError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.reason, fe.Reason)
			assert.Nil(t, errors.Unwrap(fe.Err), "the oauth2 error, which holds the response body, is not kept")
		})
	}
}
