package sink

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server runs a Sink on a TCP listener it owns, so that Faults.RefuseFor
// can refuse connections for real: the listener is closed (connecting
// fails with "connection refused") and idle keep-alive connections are
// closed, then after the duration a new listener is opened on the same
// address. Requests already in progress are answered.
type Server struct {
	// Addr is the listening address (host:port), URL "http://" + Addr.
	Addr, URL string

	sink *Sink
	srv  *http.Server
	wg   sync.WaitGroup

	mu     sync.Mutex
	ln     net.Listener // nil while refusing
	timer  *time.Timer  // reopens the listener
	closed bool
	err    error // the last reopening's failure
}

// Serve listens on addr ("127.0.0.1:0" for any free loopback port) and
// serves s until Close or Shutdown. A Config.Faults.RefuseFor starts
// refusing at once.
func Serve(s *Sink, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	sv := &Server{
		Addr: ln.Addr().String(),
		URL:  "http://" + ln.Addr().String(),
		sink: s,
		srv:  &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second},
	}
	s.setRefuser(sv.refuse)
	sv.serve(ln)
	if d := s.cfg.Faults.RefuseFor; d > 0 && s.cfg.Faults.Validate() == nil {
		sv.refuse(d)
	}
	return sv, nil
}

func (sv *Server) serve(ln net.Listener) {
	sv.ln = ln
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		_ = sv.srv.Serve(ln) // returns when ln closes
	}()
}

// refuse closes the listener now and reopens it after d; a refusal during
// a refusal extends it to d from now.
func (sv *Server) refuse(d time.Duration) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.closed {
		return
	}
	if sv.ln != nil {
		_ = sv.ln.Close()
		sv.ln = nil
		// Closes the idle connections, and the busy ones once answered.
		sv.srv.SetKeepAlivesEnabled(false)
	}
	if sv.timer != nil {
		sv.timer.Stop()
	}
	sv.timer = time.AfterFunc(d, sv.reopen)
}

// reopen listens on the same address again. The port is free (nothing
// else listens on it unless another process grabbed it meanwhile), so a
// few short retries cover a slow release.
func (sv *Server) reopen() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.closed || sv.ln != nil {
		return
	}
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", sv.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		sv.err = err
		return
	}
	sv.err = nil
	sv.srv.SetKeepAlivesEnabled(true)
	sv.serve(ln)
}

// Err reports why the listener could not be reopened after a refusal, or
// nil.
func (sv *Server) Err() error {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.err
}

// Close stops at once, closing every connection.
func (sv *Server) Close() error {
	sv.stop()
	err := sv.srv.Close()
	sv.wg.Wait()
	return err
}

// Shutdown stops listening and waits for the requests in progress, until
// ctx ends.
func (sv *Server) Shutdown(ctx context.Context) error {
	sv.stop()
	err := sv.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, sv.srv.Close())
	}
	sv.wg.Wait()
	return err
}

func (sv *Server) stop() {
	sv.mu.Lock()
	sv.closed = true
	if sv.timer != nil {
		sv.timer.Stop()
	}
	sv.mu.Unlock()
	sv.sink.setRefuser(nil)
}
