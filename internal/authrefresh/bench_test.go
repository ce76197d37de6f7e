package authrefresh

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type okTransport struct{}

func (okTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// BenchmarkRoundTrip is the cost the authenticator adds to one request (one
// event in structured mode) when the token is cached.
func BenchmarkRoundTrip(b *testing.B) {
	c := NewCache(Settings{
		Fetch: func(context.Context) (Token, error) {
			return Token{Value: "tok", Expiry: time.Now().Add(time.Hour)}, nil
		},
		Timeout: time.Second,
	})
	defer c.Close()
	rt := NewRoundTripper(okTransport{}, c, "Authorization", "Bearer")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", http.NoBody)
		for pb.Next() {
			req.Body = io.NopCloser(strings.NewReader("{}"))
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatal(err)
			}
		}
	})
}
