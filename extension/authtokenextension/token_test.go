package authtokenextension

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/courier-otel/courier/internal/authrefresh"
)

// makeJWT returns an unsigned-looking compact JWS with claims; the signature
// is never checked here.
func makeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + "." + enc([]byte("signature"))
}

func TestParse(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	jwt := makeJWT(t, map[string]any{"sub": "user", "exp": exp.Unix()})
	jwtNoExp := makeJWT(t, map[string]any{"sub": "user"})
	jsonFmt := tokenFormat{keyName: "idToken", expiryName: "expires"}
	for _, tc := range []struct {
		name    string
		format  tokenFormat
		content string
		want    authrefresh.Token
		wantErr string
	}{
		{name: "whole_file", format: tokenFormat{}, content: "  key-123\n", want: authrefresh.Token{Value: "key-123"}},
		{name: "json", format: jsonFmt, content: `{"idToken":"abc","expires":"2030-01-02T03:04:05Z"}`,
			want: authrefresh.Token{Value: "abc", Expiry: exp}},
		{name: "json_offset", format: jsonFmt, content: `{"idToken":"abc","expires":"2030-01-02T05:04:05.5+02:00"}`,
			want: authrefresh.Token{Value: "abc", Expiry: exp.Add(500 * time.Millisecond)}},
		{name: "json_epoch", format: jsonFmt, content: `{"idToken":"abc","expires":1893553445}`,
			want: authrefresh.Token{Value: "abc", Expiry: exp}},
		{name: "json_no_expiry", format: jsonFmt, content: `{"idToken":"abc"}`, want: authrefresh.Token{Value: "abc"}},
		{name: "json_null_expiry", format: jsonFmt, content: `{"idToken":"abc","expires":null}`, want: authrefresh.Token{Value: "abc"}},
		{name: "custom_names", format: tokenFormat{keyName: "access_token", expiryName: "expires_at"},
			content: `{"access_token":"abc","expires_at":"2030-01-02T03:04:05Z","idToken":"other"}`,
			want:    authrefresh.Token{Value: "abc", Expiry: exp}},
		{name: "expiry_name_empty", format: tokenFormat{keyName: "idToken"}, content: `{"idToken":"abc","expires":"garbage"}`,
			want: authrefresh.Token{Value: "abc"}},
		{name: "jwt_exp", format: tokenFormat{keyName: "idToken", expiryName: "expires", jwt: true},
			content: `{"idToken":"` + jwt + `"}`, want: authrefresh.Token{Value: jwt, Expiry: exp}},
		{name: "expiry_field_wins_over_jwt", format: tokenFormat{keyName: "idToken", expiryName: "expires", jwt: true},
			content: `{"idToken":"` + jwt + `","expires":"2031-01-02T03:04:05Z"}`,
			want:    authrefresh.Token{Value: jwt, Expiry: exp.AddDate(1, 0, 0)}},
		{name: "jwt_whole_file", format: tokenFormat{jwt: true, strictJWT: true}, content: jwt + "\n",
			want: authrefresh.Token{Value: jwt, Expiry: exp}},
		{name: "jwt_without_exp", format: tokenFormat{jwt: true, strictJWT: true}, content: jwtNoExp,
			want: authrefresh.Token{Value: jwtNoExp}},
		{name: "auto_jwt_not_a_jwt", format: tokenFormat{jwt: true}, content: "opaque", want: authrefresh.Token{Value: "opaque"}},
		{name: "api_key_looks_like_jwt", format: tokenFormat{}, content: jwt, want: authrefresh.Token{Value: jwt}},

		{name: "strict_jwt_not_a_jwt", format: tokenFormat{jwt: true, strictJWT: true}, content: "opaque",
			wantErr: "type jwt: the token is not a JWT"},
		{name: "strict_jwt_bad_payload", format: tokenFormat{jwt: true, strictJWT: true}, content: "a.!!!.c",
			wantErr: "type jwt: the JWT payload is not base64url"},
		{name: "empty", format: tokenFormat{}, content: " \n", wantErr: "the token is empty"},
		{name: "not_json", format: jsonFmt, content: "plain-api-key", wantErr: `not valid JSON (error at byte 1); set key_name to ""`},
		{name: "json_array", format: jsonFmt, content: `["abc"]`, wantErr: "a JSON array, not an object"},
		{name: "missing_key", format: jsonFmt, content: `{"token":"abc"}`, wantErr: `no member "idToken" (key_name)`},
		{name: "key_not_string", format: jsonFmt, content: `{"idToken":42}`, wantErr: `member "idToken" (key_name) is not a string`},
		{name: "bad_expiry", format: jsonFmt, content: `{"idToken":"abc","expires":"tomorrow"}`,
			wantErr: `member "expires" (expiry_name): "tomorrow" is not an RFC 3339 time`},
		{name: "bad_expiry_type", format: jsonFmt, content: `{"idToken":"abc","expires":true}`,
			wantErr: `member "expires" (expiry_name): neither an RFC 3339 string nor a number`},
		{name: "control_chars", format: tokenFormat{}, content: "abc\r\nX-Injected: 1", wantErr: "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.format.parse([]byte(tc.content))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				var fe *authrefresh.FetchError
				require.True(t, errors.As(err, &fe))
				assert.Equal(t, authrefresh.ReasonInvalidResponse, fe.Reason)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want.Value, got.Value)
			assert.True(t, tc.want.Expiry.Equal(got.Expiry), "expiry %v, want %v", got.Expiry, tc.want.Expiry)
		})
	}
}

// Errors never quote the content: it is a credential.
func TestParseErrorsDoNotQuoteTheToken(t *testing.T) {
	const secret = "Sup3rSecretTokenValue"
	for _, content := range []string{
		secret,
		`{"idToken":` + secret + `}`,
		`{"other":"` + secret + `"}`,
		`{"idToken":"` + secret + `","expires":"` + secret + `x"}`,
		`["` + secret + `"]`,
	} {
		_, err := tokenFormat{keyName: "idToken", expiryName: "expires", jwt: true, strictJWT: true}.parse([]byte(content))
		require.Error(t, err, content)
		if strings.Contains(err.Error(), secret) && !strings.Contains(content, secret+`x"`) {
			t.Errorf("error %q quotes the content", err)
		}
	}
	_, err := tokenFormat{jwt: true, strictJWT: true}.parse([]byte(secret))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"idToken":"abc","expires":"2030-01-02T03:04:05Z"}`), "idToken", "expires", true)
	f.Add([]byte(`{"idToken":"a.eyJleHAiOjE4OTM1NTM0NDV9.c","expires":1893553445.5}`), "idToken", "expires", true)
	f.Add([]byte("eyJhbGciOiJub25lIn0.eyJleHAiOjF9.x"), "", "", true)
	f.Add([]byte("  plain-key\n"), "", "expires", false)
	f.Add([]byte(`{"idToken":null}`), "idToken", "expires", false)
	f.Fuzz(func(t *testing.T, content []byte, key, expiry string, jwt bool) {
		for _, strict := range []bool{false, true} {
			tok, err := tokenFormat{keyName: key, expiryName: expiry, jwt: jwt, strictJWT: strict && jwt}.parse(content)
			if err != nil {
				continue
			}
			if tok.Value == "" || strings.ContainsFunc(tok.Value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("accepted an unusable token %q", tok.Value)
			}
		}
	})
}
