package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults, Kafka's.
const (
	DefaultSocketRequestMaxBytes = 104857600         // socket.request.max.bytes
	DefaultConnectionsMaxIdle    = 600 * time.Second // connections.max.idle.ms
	DefaultFrameTimeout          = 30 * time.Second  // request.timeout.ms
)

// ListenerConfig is one entry of Kafka's `listeners`, e.g. PLAINTEXT://:9092.
type ListenerConfig struct {
	// Name is the listener name, passed to the Dispatcher as Request.Listener.
	Name string
	// Addr is "host:port"; port 0 picks a free port (see Server.Addr).
	Addr string
}

// Config is the network part of the broker configuration. Zero values take
// the defaults above; buffer sizes of 0 leave the OS defaults
// (socket.send.buffer.bytes = -1 in Kafka terms).
type Config struct {
	Listeners []ListenerConfig
	// SocketRequestMaxBytes bounds a request frame (socket.request.max.bytes);
	// a larger size prefix closes the connection before anything is allocated.
	SocketRequestMaxBytes int32
	// SendBufferBytes and ReceiveBufferBytes set SO_SNDBUF / SO_RCVBUF on
	// accepted connections (socket.send.buffer.bytes, socket.receive.buffer.bytes).
	SendBufferBytes, ReceiveBufferBytes int
	// ConnectionsMaxIdle closes a connection that has not started a frame
	// for this long (connections.max.idle.ms).
	ConnectionsMaxIdle time.Duration
	// FrameTimeout is how long a frame may take to arrive once its first
	// byte has (request.timeout.ms); it stops trickling slowloris clients,
	// which connections.max.idle.ms alone does not.
	FrameTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.SocketRequestMaxBytes <= 0 {
		c.SocketRequestMaxBytes = DefaultSocketRequestMaxBytes
	}
	if c.ConnectionsMaxIdle <= 0 {
		c.ConnectionsMaxIdle = DefaultConnectionsMaxIdle
	}
	if c.FrameTimeout <= 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
	return c
}

// Server accepts connections on its listeners and serves each with one reader
// and one writer goroutine. Create it with New, then Start; Close stops it.
type Server struct {
	cfg    Config
	d      Dispatcher
	log    *logrus.Entry
	warn   *rateLimitedLogger
	ctx    context.Context // cancelled by Close; parent of every connection's context
	cancel context.CancelFunc

	mu        sync.Mutex
	started   bool
	listeners []*listener
	conns     map[*conn]struct{}

	closed atomic.Bool
	wg     sync.WaitGroup // accept loops, readers, writers
}

// New returns a Server that is not listening yet. log should carry the
// component field; the server adds listener and remote.
func New(cfg Config, d Dispatcher, log *logrus.Entry) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:    cfg.withDefaults(),
		d:      d,
		log:    log,
		warn:   newRateLimitedLogger(time.Second),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*conn]struct{}),
	}
}

// errServerClosed is returned by Start after Close.
var errServerClosed = errors.New("server: closed")

// Start binds every listener and starts accepting. If any bind fails, the
// ones already bound are closed and the error names the listener.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return errServerClosed
	}
	if s.started {
		return errors.New("server: already started")
	}
	if len(s.cfg.Listeners) == 0 {
		return errors.New("server: no listeners configured")
	}
	var lc net.ListenConfig // keep-alive on accepted conns: Go's default (15 s), finds half-open peers
	for _, l := range s.cfg.Listeners {
		ln, err := lc.Listen(s.ctx, "tcp", l.Addr)
		if err != nil {
			for _, bound := range s.listeners {
				bound.ln.Close()
			}
			s.listeners = nil
			return fmt.Errorf("listen %s on %s: %w", l.Name, l.Addr, err)
		}
		s.listeners = append(s.listeners, &listener{name: l.Name, ln: ln, s: s})
	}
	s.started = true
	for _, l := range s.listeners {
		s.log.WithFields(logrus.Fields{"listener": l.name, "addr": l.ln.Addr().String()}).Info("listening")
		s.wg.Add(1)
		go l.acceptLoop()
	}
	return nil
}

// Addr returns the bound address of the named listener, or nil if it is not
// bound (before Start, or an unknown name).
func (s *Server) Addr(listener string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.name == listener {
			return l.ln.Addr()
		}
	}
	return nil
}

// Close stops the server and waits for every goroutine it started. It is
// idempotent and safe to call concurrently; only the first call does work.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		s.wg.Wait()
		return nil
	}
	s.mu.Lock()
	// 1. Stop accepting. No connection is tracked after this (see track).
	for _, l := range s.listeners {
		l.ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// 2. Cancel every request context, so parked handlers (acks=all
	// produce, long-poll fetch) answer now.
	s.cancel()
	// 3. Drain: each connection reads no new request and its writer sends
	// the response in hand (a retriable error rather than a connection
	// closed under an in-flight request), then closes.
	for _, c := range conns {
		c.drain()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(drainTimeout):
	}
	// 4. Close what is still open (a client that does not read): readers
	// and writers unblock and exit. (Outside s.mu: shutdown untracks
	// under it.)
	for _, c := range conns {
		c.shutdown("server closing", nil)
	}
	<-done
	return nil
}

// drainTimeout bounds how long Close waits for connections to send the
// responses they hold.
const drainTimeout = 2 * time.Second

// track registers a new connection; it returns false once Close has begun,
// and then the caller must close the connection itself.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
