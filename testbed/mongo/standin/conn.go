package standin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/courier-otel/courier/testbed/mongo/changestream"
	"github.com/courier-otel/courier/testbed/mongo/wire"
)

// conn is one client connection and, once a command needs it, its own
// connection to FerretDB.
type conn struct {
	s       *Server
	c       net.Conn
	r       *bufio.Reader
	id      int32
	subject string // the TLS client certificate's subject, RFC 2253
	authed  bool   // no authentication required, or MONGODB-X509 done
	back    net.Conn
	backR   *bufio.Reader
	buf     []byte
	out     []byte
}

func (s *Server) serve(nc net.Conn) {
	c := &conn{s: s, c: nc, id: s.connIDs.Add(1)}
	if s.tls != nil {
		tc := tls.Server(nc, s.tls)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			s.logger.Info("TLS handshake failed", "remote", nc.RemoteAddr().String(), "error", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		c.c = tc
		if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
			c.subject = st.PeerCertificates[0].Subject.String()
		}
	}
	c.authed = s.tls == nil || s.tls.ClientCAs == nil
	c.r = bufio.NewReaderSize(c.c, 64<<10)
	defer func() {
		if c.back != nil {
			_ = c.back.Close()
		}
	}()
	for {
		h, msg, err := wire.ReadMessage(c.r, c.buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.logger.Debug("read", "error", err)
			}
			return
		}
		c.buf = msg[:0]
		if err := c.handle(h, msg); err != nil {
			if !errors.Is(err, errDrop) {
				s.logger.Info("connection closed", "error", err)
			}
			return
		}
	}
}

// errDrop closes the connection without an answer (a fault).
var errDrop = errors.New("connection dropped")

func (c *conn) handle(h wire.Header, msg []byte) error {
	switch h.OpCode {
	case wire.OpQuery:
		q, err := wire.ParseQuery(msg)
		if err != nil {
			return err
		}
		name := commandName(q.Query)
		if !strings.HasSuffix(q.FullCollectionName, ".$cmd") || !isHello(name) {
			return c.replyLegacy(h, errorDoc(&changestream.Error{Code: 352, Name: "UnsupportedOpQueryCommand",
				Msg: "courier-mongo answers OP_QUERY only for the hello handshake; use OP_MSG"}))
		}
		return c.replyLegacy(h, c.hello(q.Query))
	case wire.OpMsg:
		m, err := wire.ParseMsg(msg)
		if err != nil {
			return err
		}
		return c.command(h, msg, m)
	default:
		return fmt.Errorf("opcode %d is not supported (no compression)", h.OpCode)
	}
}

func commandName(body bsoncore.Document) string {
	e, err := body.IndexErr(0)
	if err != nil {
		return ""
	}
	return e.Key()
}

func isHello(name string) bool { return name == "hello" || name == "isMaster" || name == "ismaster" }

// noAuthNeeded are the commands a client may run before authenticating.
var noAuthNeeded = map[string]bool{
	"hello": true, "isMaster": true, "ismaster": true, "authenticate": true, "saslStart": true,
	"saslContinue": true, "buildInfo": true, "buildinfo": true, "ping": true, "logout": true,
	"endSessions": true, "getnonce": true,
}

func (c *conn) command(h wire.Header, msg []byte, m wire.Msg) error {
	body := m.Body
	name := commandName(body)
	if !c.authed && !noAuthNeeded[name] {
		return c.reply(h, m, errorDoc(&changestream.Error{Code: 13, Name: "Unauthorized",
			Msg: "command " + name + " requires authentication"}))
	}
	ctx := context.Background()
	switch name {
	case "hello", "isMaster", "ismaster":
		return c.reply(h, m, c.hello(body))
	case "authenticate":
		return c.reply(h, m, c.authenticate(body))
	case "saslStart":
		return c.reply(h, m, errorDoc(&changestream.Error{Code: 18, Name: "AuthenticationFailed",
			Msg: "courier-mongo supports MONGODB-X509 only"}))
	case "logout", "endSessions":
		return c.reply(h, m, c.s.ok(nil))
	case "replSetGetStatus":
		return c.reply(h, m, c.s.replSetStatus())
	case "courierFault":
		return c.reply(h, m, c.s.faultCommand(body))
	case "courierTrimHistory":
		if err := c.s.TrimHistory(ctx); err != nil {
			return c.reply(h, m, errorDoc(err))
		}
		return c.reply(h, m, c.s.ok(nil))
	case "aggregate":
		if stage, ok := changeStreamStage(body); ok {
			return c.reply(h, m, c.s.openStream(ctx, body, stage))
		}
		if doc, ok, err := c.s.finder.Count(ctx, body); err != nil {
			c.s.logger.Info("count by SQL failed; FerretDB answers", "error", err)
		} else if ok {
			c.s.sqlFinds.Add(1)
			return c.reply(h, m, doc)
		}
	case "getMore":
		if id, ok := body.Lookup("getMore").Int64OK(); ok && changestream.IsOurs(id) {
			doc, err := c.s.getMore(ctx, id, body)
			if err != nil {
				return err
			}
			return c.reply(h, m, doc)
		}
	case "killCursors":
		if doc, ok := c.s.killCursors(body); ok {
			return c.reply(h, m, doc)
		}
	case "find":
		if doc, ok, err := c.s.finder.Find(ctx, body); err != nil {
			c.s.logger.Info("find by SQL failed; FerretDB answers", "error", err)
		} else if ok {
			c.s.sqlFinds.Add(1)
			return c.reply(h, m, doc)
		}
	case "update", "findAndModify":
		c.s.repl.note(body, m.Sequences)
	case "createIndexes":
		// The index a backfill's finds need (package sqlfind) is built
		// with the client's, before the answer, as MongoDB builds an index
		// then (not on the first query).
		return c.forwardThen(msg, m, func() {
			if err := c.s.finder.CreateIndexes(ctx, body); err != nil {
				c.s.logger.Info("index for finds by SQL not built; the first such find builds it", "error", err)
			}
		})
	}
	return c.forward(msg, m)
}

// reply answers an OP_MSG, with the cluster time added.
func (c *conn) reply(h wire.Header, m wire.Msg, doc bsoncore.Document) error {
	if m.Flags&wire.FlagMoreToCome != 0 {
		return nil // the client wants no answer
	}
	c.out = wire.AppendMsg(c.out[:0], c.s.reqIDs.Add(1), h.RequestID, 0, c.s.withClusterTime(doc))
	_, err := c.c.Write(c.out)
	return err
}

func (c *conn) replyLegacy(h wire.Header, doc bsoncore.Document) error {
	c.out = wire.AppendReply(c.out[:0], c.s.reqIDs.Add(1), h.RequestID, c.s.withClusterTime(doc))
	_, err := c.c.Write(c.out)
	return err
}

// forward sends the message to FerretDB as it is and its answer back.
func (c *conn) forward(msg []byte, m wire.Msg) error { return c.forwardThen(msg, m, nil) }

// forwardThen is forward, with then run once FerretDB has answered and
// before its answer goes back.
func (c *conn) forwardThen(msg []byte, m wire.Msg, then func()) error {
	if c.back == nil {
		b, err := net.DialTimeout("tcp", c.s.backend, 10*time.Second)
		if err != nil {
			return fmt.Errorf("connect to FerretDB: %w", err)
		}
		c.back, c.backR = b, bufio.NewReaderSize(b, 64<<10)
	}
	if _, err := c.back.Write(msg); err != nil {
		return fmt.Errorf("to FerretDB: %w", err)
	}
	if m.Flags&wire.FlagMoreToCome != 0 {
		if then != nil {
			then()
		}
		return nil
	}
	_, ans, err := wire.ReadMessage(c.backR, c.out[:0])
	if err != nil {
		return fmt.Errorf("from FerretDB: %w", err)
	}
	c.out = ans[:0]
	if then != nil {
		then()
	}
	_, err = c.c.Write(ans)
	return err
}

func changeStreamStage(body bsoncore.Document) (bsoncore.Document, bool) {
	p, ok := body.Lookup("pipeline").ArrayOK()
	if !ok {
		return nil, false
	}
	first, err := p.IndexErr(0)
	if err != nil {
		return nil, false
	}
	st, ok := first.DocumentOK()
	if !ok {
		return nil, false
	}
	opts, ok := st.Lookup("$changeStream").DocumentOK()
	return opts, ok
}
