package authtokenextension

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/courier-otel/courier/internal/authrefresh"
)

// tokenFormat says how to find the token and its expiry in what was read.
type tokenFormat struct {
	keyName    string
	expiryName string
	jwt        bool // read exp from the JWT payload when expiryName gives none
	strictJWT  bool // type: jwt was configured: a token that is no JWT is an error
}

// parse extracts the token from content. Its errors never quote the content:
// it is a credential.
func (f tokenFormat) parse(content []byte) (authrefresh.Token, error) {
	var tok authrefresh.Token
	if f.keyName == "" {
		tok.Value = string(bytes.TrimSpace(content))
	} else {
		var err error
		if tok, err = f.parseJSON(content); err != nil {
			return authrefresh.Token{}, invalid(err)
		}
	}
	if tok.Value == "" {
		return authrefresh.Token{}, invalid(errors.New("the token is empty"))
	}
	if strings.ContainsFunc(tok.Value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return authrefresh.Token{}, invalid(errors.New("the token contains control characters, which cannot be sent in a header"))
	}
	if tok.Expiry.IsZero() && f.jwt {
		exp, err := jwtExpiry(tok.Value)
		switch {
		case err == nil:
			tok.Expiry = exp
		case f.strictJWT:
			return authrefresh.Token{}, invalid(fmt.Errorf("type jwt: %w", err))
		}
		// With type auto a token that is no JWT is used as it is.
	}
	return tok, nil
}

func (f tokenFormat) parseJSON(content []byte) (authrefresh.Token, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(content, &doc); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return authrefresh.Token{}, fmt.Errorf("not valid JSON (error at byte %d); set key_name to \"\" to use the whole content as the token", se.Offset)
		case errors.As(err, &te):
			return authrefresh.Token{}, fmt.Errorf("a JSON %s, not an object; set key_name to \"\" to use the whole content as the token", te.Value)
		default:
			return authrefresh.Token{}, errors.New("not a JSON object")
		}
	}
	var tok authrefresh.Token
	raw, ok := doc[f.keyName]
	if !ok {
		return tok, fmt.Errorf("no member %q (key_name)", f.keyName)
	}
	if err := json.Unmarshal(raw, &tok.Value); err != nil {
		return tok, fmt.Errorf("member %q (key_name) is not a string", f.keyName)
	}
	if f.expiryName == "" {
		return tok, nil
	}
	raw, ok = doc[f.expiryName]
	if !ok || string(raw) == "null" {
		return tok, nil
	}
	exp, err := parseExpiry(raw)
	if err != nil {
		return tok, fmt.Errorf("member %q (expiry_name): %w", f.expiryName, err)
	}
	tok.Expiry = exp
	return tok, nil
}

// parseExpiry reads an RFC 3339 string or a number of seconds since the
// epoch.
func parseExpiry(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		return t, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return epoch(n)
	}
	return time.Time{}, errors.New("neither an RFC 3339 string nor a number")
}

func epoch(n json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, fmt.Errorf("%s is not a time in seconds since the epoch", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// jwtExpiry reads the exp claim of a compact JWS without verifying the
// signature: the token is the server's business, we only need to know when
// to fetch a new one. No exp claim means no known expiry.
func jwtExpiry(tok string) (time.Time, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("the token is not a JWT (three dot-separated parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, errors.New("the JWT payload is not base64url")
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return time.Time{}, errors.New("the JWT payload is not a JSON object with a numeric exp")
	}
	if claims.Exp == nil {
		return time.Time{}, nil
	}
	exp, err := epoch(*claims.Exp)
	if err != nil {
		return time.Time{}, fmt.Errorf("the JWT exp claim: %w", err)
	}
	return exp, nil
}

func invalid(err error) error {
	return &authrefresh.FetchError{Reason: authrefresh.ReasonInvalidResponse, Err: err}
}
