package sink

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// The control API, under controlPrefix, lets a scenario read the counts and
// change the faults of a running sink (another process, say) without a
// restart. Its requests are not deliveries: they are never counted, never
// delayed or failed by the faults and need no token.
//
//	GET  /_sink/stats   the Stats as JSON
//	GET  /_sink/faults  the Faults as JSON
//	POST /_sink/faults  replace the Faults by the JSON body (absent members
//	                    are zero; refuse_for starts a refusal); answers the
//	                    Faults now in force
//	POST /_sink/reset   zero the counts and forget the ids seen
const controlPrefix = "/_sink/"

func (s *Sink) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET " + controlPrefix + "stats":
		writeJSON(w, s.Stats())
	case "GET " + controlPrefix + "faults":
		writeJSON(w, s.Faults())
	case "POST " + controlPrefix + "faults":
		var f Faults
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(b, &f)
		}
		if err == nil {
			err = s.SetFaults(f)
		}
		if err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, s.Faults())
	case "POST " + controlPrefix + "reset":
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "control API: GET /_sink/stats, GET|POST /_sink/faults, POST /_sink/reset", http.StatusNotFound)
	}
}

// Faults returns the faults in force (RefuseFor is always 0: it is an
// action, not a state).
func (s *Sink) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	f.RejectIDs = append([]string(nil), f.RejectIDs...)
	return f
}

// SetFaults replaces the faults. A positive RefuseFor starts refusing
// connections for that long: through the listener when Serve runs the
// sink, else by closing each connection the handler gets.
func (s *Sink) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	refuse := f.RefuseFor
	f.RefuseFor = 0
	f.RejectIDs = append([]string(nil), f.RejectIDs...)
	ids := make(map[string]struct{}, len(f.RejectIDs))
	for _, id := range f.RejectIDs {
		ids[id] = struct{}{}
	}

	s.mu.Lock()
	s.faults, s.rejectIDs = f, ids
	refuser := s.refuser
	if refuse > 0 && refuser == nil {
		s.refuseUntil = time.Now().Add(refuse)
	}
	s.mu.Unlock()

	if refuse > 0 && refuser != nil {
		refuser(refuse)
	}
	return nil
}

// refusing reports whether a handler-level refusal is in force, counting
// the connection it closes.
func (s *Sink) refusing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseUntil.IsZero() {
		return false
	}
	if time.Now().Before(s.refuseUntil) {
		s.stats.Refused++
		return true
	}
	s.refuseUntil = time.Time{}
	return false
}

// setRefuser installs (or, with nil, removes) the listener's refusal.
func (s *Sink) setRefuser(fn func(time.Duration)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuser = fn
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
