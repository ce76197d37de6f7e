package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Faults are the misbehaviours the sink injects, to see the exporter's
// retries, back-off, Retry-After handling, dead letters and reconnection
// at work. They are set by Config.Faults at start and replaced as a whole
// by POST /_sink/faults.
//
// In JSON (durations as Go duration strings):
//
//	{"latency":"50ms","unavailable_share":0.1,"too_many_share":0.05,
//	 "retry_after_seconds":2,"reject_ids":["42"],"refuse_for":"3s"}
type Faults struct {
	// Latency is added to every delivery request before it is answered.
	Latency time.Duration
	// UnavailableShare (0..1) of delivery requests are answered 503.
	UnavailableShare float64
	// TooManyShare (0..1) of delivery requests are answered 429 with a
	// Retry-After of RetryAfterSeconds. The two shares add up to at most 1.
	TooManyShare      float64
	RetryAfterSeconds int
	// RejectIDs are event ids answered 400: a request holding one of them is
	// refused whole, as a sink refuses a poison event.
	RejectIDs []string
	// RefuseFor is an action rather than a state: when it is positive the
	// sink refuses connections for that long, starting now (with Serve: the
	// listener is closed and reopened on the same address; as a bare
	// handler: every connection is closed unanswered). It is not kept.
	RefuseFor time.Duration
}

type faultsJSON struct {
	Latency           string   `json:"latency,omitempty"`
	UnavailableShare  float64  `json:"unavailable_share,omitempty"`
	TooManyShare      float64  `json:"too_many_share,omitempty"`
	RetryAfterSeconds int      `json:"retry_after_seconds,omitempty"`
	RejectIDs         []string `json:"reject_ids,omitempty"`
	RefuseFor         string   `json:"refuse_for,omitempty"`
}

// MarshalJSON writes the JSON form shown on Faults.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{
		UnavailableShare: f.UnavailableShare, TooManyShare: f.TooManyShare,
		RetryAfterSeconds: f.RetryAfterSeconds, RejectIDs: f.RejectIDs,
	}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	if f.RefuseFor != 0 {
		j.RefuseFor = f.RefuseFor.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the JSON form shown on Faults; absent members are
// zero and unknown members an error (a misspelt fault would silently not
// be injected).
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Faults{
		UnavailableShare: j.UnavailableShare, TooManyShare: j.TooManyShare,
		RetryAfterSeconds: j.RetryAfterSeconds, RejectIDs: j.RejectIDs,
	}
	var err error
	if j.Latency != "" {
		if out.Latency, err = time.ParseDuration(j.Latency); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if j.RefuseFor != "" {
		if out.RefuseFor, err = time.ParseDuration(j.RefuseFor); err != nil {
			return fmt.Errorf("refuse_for: %w", err)
		}
	}
	*f = out
	return nil
}

// Validate reports a fault setting that makes no sense.
func (f Faults) Validate() error {
	switch {
	case f.Latency < 0:
		return fmt.Errorf("latency %v is negative", f.Latency)
	case f.UnavailableShare < 0 || f.UnavailableShare > 1:
		return fmt.Errorf("unavailable_share %v is not within 0..1", f.UnavailableShare)
	case f.TooManyShare < 0 || f.TooManyShare > 1:
		return fmt.Errorf("too_many_share %v is not within 0..1", f.TooManyShare)
	case f.UnavailableShare+f.TooManyShare > 1:
		return fmt.Errorf("unavailable_share + too_many_share = %v is over 1", f.UnavailableShare+f.TooManyShare)
	case f.RetryAfterSeconds < 0:
		return fmt.Errorf("retry_after_seconds %d is negative", f.RetryAfterSeconds)
	case f.RefuseFor < 0:
		return fmt.Errorf("refuse_for %v is negative", f.RefuseFor)
	}
	return nil
}

// verdict is what the faults decide for one delivery request before its
// body is read: 0 to go on, or the status to answer.
type verdict struct {
	latency    time.Duration
	status     int
	retryAfter int
}

// decide draws one number from the sink's seeded source for every delivery
// request, whatever the shares, so a run with the same seed and the same
// request order gets the same answers.
func (s *Sink) decide() verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := verdict{latency: s.faults.Latency}
	r := s.rnd.Float64()
	switch {
	case r < s.faults.UnavailableShare:
		v.status = 503
	case r < s.faults.UnavailableShare+s.faults.TooManyShare:
		v.status, v.retryAfter = 429, s.faults.RetryAfterSeconds
	}
	return v
}

// rejected reports whether any of evs has an id of Faults.RejectIDs.
func (s *Sink) rejected(evs []event) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rejectIDs) == 0 {
		return "", false
	}
	for _, ev := range evs {
		if _, ok := s.rejectIDs[ev.id]; ok {
			return ev.id, true
		}
	}
	return "", false
}
