package server

import (
	"errors"
	"net"
	"time"

	"github.com/sirupsen/logrus"
)

// listener is one bound listener and its accept loop.
type listener struct {
	name string
	ln   net.Listener
	s    *Server
}

// acceptLoop accepts until the listener is closed, starting a connection for
// each accepted socket. Temporary accept errors (EMFILE, ...) back off like
// net/http does rather than spinning.
func (l *listener) acceptLoop() {
	defer l.s.wg.Done()
	log := l.s.log.WithField("listener", l.name)
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || l.s.closed.Load() {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.s.warn.warn(log.WithError(err), "accept", "accept failed, backing off")
			select {
			case <-time.After(backoff):
			case <-l.s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		l.setBuffers(nc, log)
		c := newConn(l.s, l.name, nc)
		if !l.s.track(c) {
			nc.Close()
			return
		}
		c.start()
	}
}

func (l *listener) setBuffers(nc net.Conn, log *logrus.Entry) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if n := l.s.cfg.SendBufferBytes; n > 0 {
		if err := tc.SetWriteBuffer(n); err != nil {
			log.WithError(err).Debug("set socket.send.buffer.bytes")
		}
	}
	if n := l.s.cfg.ReceiveBufferBytes; n > 0 {
		if err := tc.SetReadBuffer(n); err != nil {
			log.WithError(err).Debug("set socket.receive.buffer.bytes")
		}
	}
}
