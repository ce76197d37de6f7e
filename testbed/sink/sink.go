// Package sink is the testbed's reference CloudEvents endpoint: an HTTP
// server that accepts every encoding the Courier cloudevents exporter sends
// (structured, binary, batch, jsonl, jsonl_stringify, json_list, nvdf),
// checks each request as strictly as a real sink would, and counts what
// arrived, so that a test or a scenario can state the delivery invariants
// (nothing lost, duplicates bounded, order kept per source) as numbers.
// It injects the faults the exporter must survive (latency, 503, 429 with
// Retry-After, poison events, refused connections) deterministically from
// a seed, set at start or changed at run time through a small JSON API
// under /_sink/ (see control.go).
//
// Memory: the sink remembers every distinct (source, id) pair it accepted,
// in a map, and the last numeric id of each source. It grows with the
// distinct events of a run (roughly 100 bytes plus the id and source per
// event, ~150 MB for a million events); that is the point of a test sink,
// which must tell a duplicate from a first delivery. POST /_sink/reset
// forgets them.
package sink

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBodyBytes bounds a request body when Config.MaxBodyBytes is 0:
// above the exporter's default transmission_limit (10 MiB).
const DefaultMaxBodyBytes = 64 << 20

// Config is set once, at New.
type Config struct {
	// Path is where deliveries are accepted; others are answered 404.
	// Empty: any path outside /_sink/.
	Path string
	// Token is the expected bearer token (Authorization: Bearer <token>);
	// empty: no check. The control API is never checked.
	Token string
	// Authorize, if set, decides instead of Token whether a bearer token
	// is accepted (a token server's Valid, so that expired tokens get 401).
	Authorize func(token string) bool
	// OnEvent, if set, is called for every event of an accepted request,
	// with whether it is a duplicate, under the sink's lock: it must be
	// quick (a scenario records the arrival time of each id with it).
	OnEvent func(source, id string, duplicate bool)
	// Seed seeds the random source of the fault shares.
	Seed uint64
	// MaxBodyBytes bounds a body (413 above); 0: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Faults are injected from the start.
	Faults Faults
}

// Stats are the sink's counts, as GET /_sink/stats returns them. Control
// requests are not counted.
type Stats struct {
	// Requests counts delivery requests by the class of their answer
	// ("2xx", "4xx", "5xx").
	Requests map[string]int64 `json:"requests"`
	// Events counts the events of accepted requests, every delivery.
	Events int64 `json:"events"`
	// Distinct counts the distinct (source, id) pairs accepted: CloudEvents
	// are identified by source and id together.
	Distinct int64 `json:"distinct"`
	// Duplicates counts deliveries beyond the first of a (source, id).
	Duplicates int64 `json:"duplicates"`
	// OrderViolations counts accepted events whose id, a decimal integer, is
	// lower than the previous numeric id accepted from the same source.
	// Events without a source or with other ids are not checked.
	OrderViolations int64 `json:"order_violations"`
	// ProtocolErrors counts refused requests by reason: the decode reasons
	// (Reason… constants and cloudevent.Reason strings).
	ProtocolErrors map[string]int64 `json:"protocol_errors"`
	// Unauthorized counts requests answered 401.
	Unauthorized int64 `json:"unauthorized"`
	// Rejected counts requests answered 400 for holding a Faults.RejectIDs id.
	Rejected int64 `json:"rejected"`
	// Refused counts connections closed unanswered by RefuseFor when the
	// sink runs as a bare handler (with Serve nothing gets through to count).
	Refused int64 `json:"refused"`
}

// Sink is the http.Handler of the reference sink. Serve runs it on a
// loopback listener; any other server (httptest) can run it too.
type Sink struct {
	cfg      Config
	decoders sync.Pool

	mu          sync.Mutex
	rnd         *rand.Rand
	faults      Faults
	rejectIDs   map[string]struct{}
	refuseUntil time.Time
	refuser     func(time.Duration) // set by Serve: close and reopen the listener
	stats       Stats
	seen        map[string]struct{} // source + "\x00" + id
	lastID      map[string]uint64   // source → last numeric id
}

// New returns a sink. Config.Faults must be valid (Faults.Validate); an
// invalid setting is ignored, as if no fault were set.
func New(cfg Config) *Sink {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Sink{
		cfg: cfg,
		rnd: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	s.decoders.New = func() any { return new(decoder) }
	s.resetLocked()
	if cfg.Faults.Validate() == nil {
		f := cfg.Faults
		f.RefuseFor = 0 // Serve starts the window once it has a listener
		_ = s.SetFaults(f)
	}
	return s
}

// Stats returns a copy of the counts.
func (s *Sink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = copyMap(s.stats.Requests)
	st.ProtocolErrors = copyMap(s.stats.ProtocolErrors)
	return st
}

// Reset zeroes the counts and forgets the ids seen; faults stay.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Sink) resetLocked() {
	s.stats = Stats{Requests: map[string]int64{}, ProtocolErrors: map[string]int64{}}
	s.seen = map[string]struct{}{}
	s.lastID = map[string]uint64{}
}

// ServeHTTP answers a delivery or, under /_sink/, a control request.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control(w, r)
		return
	}
	if s.refusing() {
		// Closes the connection unanswered (and quietly: net/http does not
		// log this panic).
		panic(http.ErrAbortHandler)
	}
	v := s.decide()
	if v.latency > 0 {
		t := time.NewTimer(v.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case s.cfg.Path != "" && r.URL.Path != s.cfg.Path:
		s.refuse(w, http.StatusNotFound, protoErr(ReasonNotFound, "deliveries go to %s", s.cfg.Path))
		return
	case r.Method != http.MethodPost:
		s.refuse(w, http.StatusMethodNotAllowed, protoErr(ReasonMethod, "deliveries are POSTed"))
		return
	case !s.authorized(r.Header.Get("Authorization")):
		s.count(http.StatusUnauthorized, func(st *Stats) { st.Unauthorized++ })
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	case v.status != 0:
		if v.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(v.retryAfter))
		}
		s.count(v.status, nil)
		http.Error(w, "injected fault", v.status)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.refuse(w, http.StatusRequestEntityTooLarge, protoErr(ReasonTooLarge, "body over %d bytes", s.cfg.MaxBodyBytes))
		}
		return // the client went away
	}
	d := s.decoders.Get().(*decoder)
	evs, perr := d.decode(r.Header, body)
	s.decoders.Put(d)
	if perr != nil {
		s.refuse(w, http.StatusBadRequest, perr)
		return
	}
	if id, ok := s.rejected(evs); ok {
		s.count(http.StatusBadRequest, func(st *Stats) { st.Rejected++ })
		http.Error(w, "event "+id+" is refused (injected fault)", http.StatusBadRequest)
		return
	}
	s.record(evs)
	w.WriteHeader(http.StatusOK)
}

// authorized reports whether the Authorization header passes Config.Token
// or Config.Authorize.
func (s *Sink) authorized(header string) bool {
	if s.cfg.Authorize != nil {
		token, ok := strings.CutPrefix(header, "Bearer ")
		return ok && s.cfg.Authorize(token)
	}
	return s.cfg.Token == "" || header == "Bearer "+s.cfg.Token
}

// refuse answers a protocol error and counts it under its reason.
func (s *Sink) refuse(w http.ResponseWriter, status int, perr *protocolError) {
	s.count(status, func(st *Stats) { st.ProtocolErrors[perr.reason]++ })
	http.Error(w, perr.Error(), status)
}

// count counts a delivery request answered status and applies more.
func (s *Sink) count(status int, more func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests[strconv.Itoa(status/100)+"xx"]++
	if more != nil {
		more(&s.stats)
	}
}

// record counts the events of an accepted request.
func (s *Sink) record(evs []event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests["2xx"]++
	for _, ev := range evs {
		s.stats.Events++
		key := ev.source + "\x00" + ev.id // a new string: keeps no body alive
		_, dup := s.seen[key]
		if dup {
			s.stats.Duplicates++
		} else {
			s.seen[key] = struct{}{}
			s.stats.Distinct++
		}
		if s.cfg.OnEvent != nil {
			s.cfg.OnEvent(ev.source, ev.id, dup)
		}
		if ev.source == "" {
			continue
		}
		n, err := strconv.ParseUint(ev.id, 10, 64)
		if err != nil {
			continue
		}
		last, ok := s.lastID[ev.source]
		if ok && n < last {
			s.stats.OrderViolations++
		}
		if !ok {
			s.lastID[strings.Clone(ev.source)] = n
		} else {
			s.lastID[ev.source] = n
		}
	}
}

func copyMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
