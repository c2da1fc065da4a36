package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxRetainedWriteBuf is the largest encode buffer a writer keeps between
// responses; a bigger one (a large Fetch) is dropped after use so idle
// connections do not pin memory.
const maxRetainedWriteBuf = 1 << 20

var (
	errHandlerPanic     = errors.New("handler panicked")
	errWrongResponseKey = errors.New("handler returned a response of another api key")
	errResponseTooLarge = errors.New("response larger than 2 GiB")
)

// conn is one client connection: a reader goroutine (read, decode, dispatch)
// and a writer goroutine (encode, write), joined by an unbuffered channel so
// responses leave in request order and at most one response waits while the
// next request is handled.
type conn struct {
	s        *Server
	listener string
	nc       net.Conn
	log      *logrus.Entry
	ctx      context.Context // cancelled when the connection closes
	cancel   context.CancelFunc
	fr       frameReader
	inFrame  bool // reader only: the first byte of the current frame arrived
	// fileRegions: the socket can take sendfile(2), so handlers may answer
	// with a SplicedResponse (Request.FileRegions).
	fileRegions bool

	respCh     chan outgoing // reader -> writer; closed by the reader on exit
	writerDone chan struct{} // closed by the writer on exit

	// Set by the reader before it closes respCh; read by the writer after.
	readerReason string
	readerErr    error

	closeOnce sync.Once
	// draining: the server is closing; read no new request, answer the
	// one in hand, then close (Server.Close).
	draining atomic.Bool
}

// outgoing is a response on its way to the writer.
type outgoing struct {
	resp          kmsg.Response
	correlationID int32
}

func newConn(s *Server, listener string, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		s:          s,
		listener:   listener,
		nc:         nc,
		log:        s.log.WithFields(logrus.Fields{"listener": listener, "remote": nc.RemoteAddr().String()}),
		ctx:        ctx,
		cancel:     cancel,
		respCh:     make(chan outgoing),
		writerDone: make(chan struct{}),
	}
	c.fr = frameReader{r: nc, maxSize: s.cfg.SocketRequestMaxBytes, started: c.frameStarted}
	_, c.fileRegions = nc.(*net.TCPConn)
	return c
}

// start runs the reader and the writer; the server's WaitGroup covers both.
func (c *conn) start() {
	c.s.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// shutdown closes the connection once: logs why, closes the socket (which
// unblocks the reader and the writer) and cancels in-flight handlers.
func (c *conn) shutdown(reason string, err error) {
	c.closeOnce.Do(func() {
		e := c.log.WithField("reason", reason)
		if err != nil {
			e = e.WithError(err)
		}
		e.Debug("connection closed")
		c.nc.Close()
		c.cancel()
		c.s.untrack(c)
	})
}

// frameStarted arms the per-frame deadline once a frame's first byte is in.
func (c *conn) frameStarted() {
	c.inFrame = true
	c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.FrameTimeout))
	c.unblockIfDraining()
}

// errDraining ends the reader when the server closes: not an abortive close,
// so the writer still sends the response in hand.
var errDraining = errors.New("server closing")

// drain makes the reader stop before its next request (or out of the read
// it is blocked in); the writer then sends what it holds and closes.
func (c *conn) drain() {
	c.draining.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

// unblockIfDraining re-arms an expired read deadline after the reader set a
// later one: drain stores the flag before its deadline, so either the
// reader sees the flag here or drain's deadline comes after the reader's.
func (c *conn) unblockIfDraining() {
	if c.draining.Load() {
		c.nc.SetReadDeadline(time.Now())
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	reason, err := c.serve()
	c.readerReason, c.readerErr = reason, err
	if !errors.Is(err, io.EOF) && !errors.Is(err, errDraining) {
		// Abortive close; on a clean EOF the writer finishes the
		// response it holds (the client may have only half-closed).
		c.shutdown(reason, err)
	}
	close(c.respCh)
}

// serve reads, decodes and handles requests until the connection must close,
// and says why.
func (c *conn) serve() (reason string, err error) {
	for {
		c.inFrame = false
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.ConnectionsMaxIdle))
		c.unblockIfDraining()
		frame, err := c.fr.next()
		if c.draining.Load() {
			// A request read now would meet a cancelled context: leave it
			// unanswered, as a closed connection leaves it.
			return errDraining.Error(), errDraining
		}
		if err != nil {
			return c.readFailed(err)
		}
		req, err := decodeFrame(frame, c.s.d, true)
		if err != nil {
			c.badRequest(err, req, len(frame))
			return err.Error(), err
		}
		req.Listener, req.Remote, req.FileRegions = c.listener, c.nc.RemoteAddr(), c.fileRegions
		resp, err := c.handle(req)
		if err != nil {
			return "handler error", err
		}
		if resp == nil {
			continue // acks=0 Produce: nothing to send
		}
		select {
		case c.respCh <- outgoing{resp: resp, correlationID: req.CorrelationID}:
		case <-c.writerDone:
			return "writer stopped", nil
		}
	}
}

// readFailed classifies a frame read error into a close reason, warning
// (rate-limited) for the ones a misbehaving client causes.
func (c *conn) readFailed(err error) (string, error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "client closed", err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "client closed mid-frame", err
	case errors.Is(err, net.ErrClosed):
		return "closed", nil
	case errors.As(err, &ne) && ne.Timeout() && !c.inFrame:
		return "idle timeout", nil
	case errors.As(err, &ne) && ne.Timeout():
		c.s.warn.warn(c.log, "frame timeout", "closing connection: frame not completed in time")
		return "frame timeout", nil
	case errors.Is(err, errNegativeSize), errors.Is(err, errShortFrame), errors.Is(err, errFrameTooLarge):
		c.s.warn.warn(c.log.WithField("size", c.fr.lastSize), err.Error(), "closing connection: bad frame size")
		return err.Error(), nil
	default:
		return "read error", err
	}
}

// badRequest warns (rate-limited) about a frame that decoded badly.
func (c *conn) badRequest(err error, req *Request, size int) {
	e := c.log.WithFields(logrus.Fields{"size": size})
	if req != nil {
		e = e.WithFields(logrus.Fields{"api_key": req.APIKey, "api_version": req.APIVersion, "correlation_id": req.CorrelationID})
		if req.ClientID != nil {
			e = e.WithField("client_id", *req.ClientID)
		}
	}
	reason := err.Error()
	for _, sentinel := range []error{errMalformedHeader, errUnknownAPIKey, errUnsupportedVersion, errMalformedBody} {
		if errors.Is(err, sentinel) {
			reason = sentinel.Error() // a constant key for the rate limiter
		}
	}
	c.s.warn.warn(e.WithError(err), reason, "closing connection: bad request")
}

// handle calls the Dispatcher, turning a panic into a closed connection, and
// sets the response version to the request's (v0 for ApiVersions above our
// range, whose Body is a v0 request).
func (c *conn) handle(req *Request) (resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.WithFields(logrus.Fields{
				"api_key": req.APIKey, "api_version": req.APIVersion, "correlation_id": req.CorrelationID,
				"panic": fmt.Sprint(r), "stack": string(debug.Stack()),
			}).Error("handler panicked, closing connection")
			resp, err = nil, errHandlerPanic
		}
	}()
	resp, err = c.s.d.Handle(c.ctx, req)
	if err != nil || resp == nil {
		return nil, err
	}
	if resp.Key() != req.APIKey {
		return nil, fmt.Errorf("%w: %d for %d", errWrongResponseKey, resp.Key(), req.APIKey)
	}
	resp.SetVersion(req.Body.GetVersion())
	return resp, nil
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	defer close(c.writerDone)
	var buf, head []byte
	for out := range c.respCh {
		var err error
		if buf, err = encodeResponse(buf, out); err != nil {
			c.log.WithError(err).WithField("correlation_id", out.correlationID).Error("encode response")
			c.shutdown("encode failed", err)
			return
		}
		sr, spliced := out.resp.(*SplicedResponse)
		var plan splicePlan
		if spliced && len(sr.regions) > 0 {
			if plan, err = planSplice(head, buf, sr); err != nil {
				c.log.WithError(err).WithField("correlation_id", out.correlationID).Error("encode response")
				c.shutdown("encode failed", err)
				return
			}
			head = plan.head
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.ConnectionsMaxIdle))
		if plan.head != nil {
			err = plan.write(c.nc)
		} else {
			_, err = c.nc.Write(buf)
		}
		if err != nil {
			if errors.Is(err, errRegionShort) {
				// The frame's size is already on the wire: the only
				// way out is to close; the client retries the fetch.
				c.s.warn.warn(c.log.WithError(err), "region gone", "closing connection: file region changed while queued")
			}
			c.shutdown("write failed", err)
			return
		}
		if cap(buf) > maxRetainedWriteBuf {
			buf = nil
		}
		if cap(head) > maxRetainedWriteBuf {
			head = nil
		}
	}
	c.shutdown(c.readerReason, c.readerErr)
}

// encodeResponse appends size, response header and body to buf[:0]. The
// response header is v1 (a trailing empty tag section) for flexible versions,
// except ApiVersions whose response header is always v0 (KIP-511).
func encodeResponse(buf []byte, out outgoing) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil { // a malformed response built by a handler
			err = fmt.Errorf("encode %T: %v", out.resp, r)
		}
	}()
	buf = append(buf[:0], 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(out.correlationID))
	if out.resp.IsFlexible() && out.resp.Key() != apiVersionsKey {
		buf = append(buf, 0)
	}
	buf = out.resp.AppendTo(buf)
	if len(buf)-4 > math.MaxInt32 {
		return buf, errResponseTooLarge
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf, nil
}
