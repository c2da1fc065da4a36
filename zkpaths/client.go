package zkpaths

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
)

// Sentinel errors. ZooKeeper's own (zk.ErrNoNode, zk.ErrNodeExists,
// zk.ErrBadVersion, ...) come back wrapped and match with errors.Is.
var (
	// ErrControllerMoved means the /controller_epoch CheckOp of a fenced
	// multi-op failed: another controller was elected since the caller won
	// (Kafka's ControllerMovedException). The caller must resign.
	ErrControllerMoved = errors.New("zkpaths: controller moved")
	// ErrBrokerIDInUse means /brokers/ids/<id> is held by another live
	// session: a second broker with the same broker.id.
	ErrBrokerIDInUse = errors.New("zkpaths: broker id in use")
	// ErrClosed means the Client was closed.
	ErrClosed = errors.New("zkpaths: client closed")
)

// AnyVersion matches every znode version in Set, Delete and CheckOp.
const AnyVersion int32 = -1

// Create modes (zk flags).
const (
	Persistent          int32 = 0
	Ephemeral                 = zk.FlagEphemeral
	PersistentSequental       = zk.FlagSequence
)

// SessionEvent is a change of the ZooKeeper session seen by OnSession
// handlers.
type SessionEvent int

const (
	// SessionDisconnected: the connection dropped; the session may survive.
	SessionDisconnected SessionEvent = iota + 1
	// SessionReconnected: the same session is connected again; ephemeral
	// nodes and watches survived.
	SessionReconnected
	// SessionExpired: the session is gone with its ephemeral nodes and
	// watches; a new one is being established. Delivered before SessionNew.
	SessionExpired
	// SessionNew: a new session was established after an expiry (not sent
	// for the first session). Re-register ephemeral nodes and re-elect.
	SessionNew
)

func (e SessionEvent) String() string {
	switch e {
	case SessionDisconnected:
		return "disconnected"
	case SessionReconnected:
		return "reconnected"
	case SessionExpired:
		return "expired"
	case SessionNew:
		return "new session"
	}
	return fmt.Sprintf("SessionEvent(%d)", int(e))
}

// Client is a typed, chroot-aware layer over one *zk.Conn (one session at a
// time; go-zookeeper re-establishes a new session after expiry). Paths given
// to and returned by its methods are relative to the chroot of the connect
// string. It is safe for concurrent use.
type Client struct {
	conn           *zk.Conn
	chroot         string
	sessionTimeout time.Duration
	log            *logrus.Entry

	mu         sync.Mutex
	sessions   map[int64]bool // every session this client has had (CheckedEphemeral)
	handlers   []func(SessionEvent)
	hasSession bool
	ready      chan struct{} // closed while there is a session
	raw        []zk.State    // session states waiting for the dispatcher
	rawSignal  chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// Option tunes Connect.
type Option func(*options)

type options struct {
	connectionTimeout time.Duration
	localHost         string
}

// WithLocalHost makes the session's connections leave from this local IP
// (the broker's inter-broker listener host), so that a broker bound to one
// loopback address can be cut off from ZooKeeper by address in tests.
func WithLocalHost(host string) Option {
	return func(o *options) { o.localHost = host }
}

// WithConnectionTimeout bounds how long Connect waits for the first session
// (zookeeper.connection.timeout.ms; default: the session timeout).
func WithConnectionTimeout(d time.Duration) Option {
	return func(o *options) { o.connectionTimeout = d }
}

// ParseConnectString splits zookeeper.connect, "h1:p1,h2:p2/chroot", into
// servers and chroot ("" for none).
func ParseConnectString(s string) (servers []string, chroot string, err error) {
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], strings.TrimRight(s[i:], "/")
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("zkpaths: no servers in connect string %q", s)
	}
	if strings.Contains(chroot, "//") {
		return nil, "", fmt.Errorf("zkpaths: invalid chroot in connect string %q", s)
	}
	return servers, chroot, nil
}

// Connect opens a session to connectString ("h1:p1,h2:p2/chroot"), waits for
// it (bounded by the connection timeout), and creates the chroot if missing
// (Kafka's createChrootIfNecessary).
func Connect(connectString string, sessionTimeout time.Duration, log *logrus.Entry, opts ...Option) (*Client, error) {
	o := options{connectionTimeout: sessionTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	servers, chroot, err := ParseConnectString(connectString)
	if err != nil {
		return nil, err
	}
	c := &Client{
		chroot:         chroot,
		sessionTimeout: sessionTimeout,
		log:            log,
		sessions:       map[int64]bool{},
		ready:          make(chan struct{}),
		rawSignal:      make(chan struct{}, 1),
		closed:         make(chan struct{}),
	}
	var local net.Addr
	if ip := net.ParseIP(o.localHost); ip != nil && !ip.IsUnspecified() {
		local = &net.TCPAddr{IP: ip}
	}
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout, LocalAddr: local}
		return d.Dial(network, address)
	}
	conn, _, err := zk.Connect(servers, sessionTimeout, zk.WithDialer(dial),
		zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false), zk.WithEventCallback(c.onZKEvent))
	if err != nil {
		return nil, fmt.Errorf("zkpaths: connect %s: %w", connectString, err)
	}
	c.conn = conn
	c.mu.Lock()
	ready := c.ready
	c.mu.Unlock()
	c.wg.Add(1)
	go c.dispatch()
	select {
	case <-ready:
	case <-time.After(o.connectionTimeout):
		c.Close()
		return nil, fmt.Errorf("zkpaths: no zookeeper session with %s within %s", connectString, o.connectionTimeout)
	}
	if chroot != "" {
		if err := c.createPathRaw(chroot); err != nil {
			c.Close()
			return nil, fmt.Errorf("zkpaths: create chroot %s: %w", chroot, err)
		}
	}
	log.WithFields(logrus.Fields{"servers": strings.Join(servers, ","), "chroot": chroot, "session_id": fmt.Sprintf("0x%x", conn.SessionID())}).Info("zookeeper session established")
	return c, nil
}

// createPathRaw creates an absolute path and its parents (no chroot), null
// data, ignoring NodeExists.
func (c *Client) createPathRaw(abs string) error {
	if abs == "/" || abs == "" {
		return nil
	}
	_, err := c.conn.Create(abs, nil, 0, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNoNode) {
		if err := c.createPathRaw(parentPath(abs)); err != nil {
			return err
		}
		_, err = c.conn.Create(abs, nil, 0, zk.WorldACL(zk.PermAll))
	}
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	return nil
}

type zkLogger struct{ log *logrus.Entry }

func (l zkLogger) Printf(format string, args ...interface{}) {
	l.log.WithField("detail", fmt.Sprintf(format, args...)).Debug("zookeeper client")
}

// onZKEvent runs on go-zookeeper's connection goroutine: it must not block,
// so it only queues session states for dispatch.
func (c *Client) onZKEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession, zk.StateExpired, zk.StateDisconnected:
	default:
		return
	}
	c.mu.Lock()
	c.raw = append(c.raw, ev.State)
	c.mu.Unlock()
	select {
	case c.rawSignal <- struct{}{}:
	default:
	}
}

// dispatch turns raw session states into SessionEvents and calls the
// OnSession handlers, one event at a time and in order, off the zk goroutine
// (a handler may call ZooKeeper without deadlocking the connection, the
// lesson of KAFKA-6879).
func (c *Client) dispatch() {
	defer c.wg.Done()
	for {
		select {
		case <-c.closed:
			return
		case <-c.rawSignal:
		}
		for {
			c.mu.Lock()
			if len(c.raw) == 0 {
				c.mu.Unlock()
				break
			}
			st := c.raw[0]
			c.raw = c.raw[1:]
			var ev SessionEvent
			switch st {
			case zk.StateHasSession:
				id := c.conn.SessionID()
				switch {
				case len(c.sessions) == 0:
				case c.sessions[id]:
					ev = SessionReconnected
				default:
					ev = SessionNew
				}
				c.sessions[id] = true
				if !c.hasSession {
					c.hasSession = true
					close(c.ready)
				}
			case zk.StateExpired, zk.StateDisconnected:
				if c.hasSession {
					c.hasSession = false
					c.ready = make(chan struct{})
				}
				ev = SessionDisconnected
				if st == zk.StateExpired {
					ev = SessionExpired
				}
			}
			handlers := append([]func(SessionEvent){}, c.handlers...)
			c.mu.Unlock()
			if ev == 0 {
				continue
			}
			l := c.log.WithFields(logrus.Fields{"event": ev.String(), "session_id": fmt.Sprintf("0x%x", c.conn.SessionID())})
			if ev == SessionExpired || ev == SessionDisconnected {
				l.Warn("zookeeper session event")
			} else {
				l.Info("zookeeper session event")
			}
			for _, h := range handlers {
				h(ev)
			}
		}
	}
}

// OnSession registers h for session events. Handlers run one at a time on a
// dispatcher goroutine, in registration order; SessionExpired is always
// delivered before the SessionNew that follows it.
func (c *Client) OnSession(h func(SessionEvent)) {
	c.mu.Lock()
	c.handlers = append(c.handlers, h)
	c.mu.Unlock()
}

// SessionID is the current session id (0 while there is none).
func (c *Client) SessionID() int64 { return c.conn.SessionID() }

// SessionTimeout is the requested session timeout.
func (c *Client) SessionTimeout() time.Duration { return c.sessionTimeout }

// Conn exposes the underlying connection for what this layer lacks. Paths
// on it are absolute (they include the chroot).
func (c *Client) Conn() *zk.Conn { return c.conn }

// Chroot is the chroot of the connect string ("" for none).
func (c *Client) Chroot() string { return c.chroot }

// waitSession returns a channel closed while the client has a session.
func (c *Client) waitSession() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// Close ends the session (its ephemeral nodes disappear at once) and stops
// the watches. It is idempotent.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.conn.Close()
		c.wg.Wait()
	})
}

func (c *Client) abs(p string) string {
	if p == "/" && c.chroot != "" {
		return c.chroot
	}
	return c.chroot + p
}

func (c *Client) rel(abs string) string {
	if c.chroot == "" {
		return abs
	}
	r := strings.TrimPrefix(abs, c.chroot)
	if r == "" {
		return "/"
	}
	return r
}

// retriable reports connection-level failures after which a read can be
// repeated.
func retriable(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionMoved)
}

// read retries fn on connection errors for up to the session timeout, as
// Kafka's client retries "until connected". Only for reads and for writes
// whose repetition is harmless (NodeExists handled by the caller).
func (c *Client) read(fn func() error) error {
	deadline := time.Now().Add(max(c.sessionTimeout, 10*time.Second))
	for {
		err := fn()
		if err == nil || !retriable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-c.closed:
			return ErrClosed
		case <-c.waitSession():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Get reads a znode's data and stat.
func (c *Client) Get(p string) (data []byte, stat *zk.Stat, err error) {
	err = c.read(func() error {
		data, stat, err = c.conn.Get(c.abs(p))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", p, err)
	}
	return data, stat, nil
}

// Exists reports whether a znode exists, with its stat.
func (c *Client) Exists(p string) (ok bool, stat *zk.Stat, err error) {
	err = c.read(func() error {
		ok, stat, err = c.conn.Exists(c.abs(p))
		return err
	})
	if err != nil {
		return false, nil, fmt.Errorf("exists %s: %w", p, err)
	}
	return ok, stat, nil
}

// Children lists a znode's children (unsorted, as ZooKeeper returns them).
func (c *Client) Children(p string) (children []string, stat *zk.Stat, err error) {
	err = c.read(func() error {
		children, stat, err = c.conn.Children(c.abs(p))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("children %s: %w", p, err)
	}
	return children, stat, nil
}

// Set writes data if the znode's dataVersion is version (AnyVersion: any).
func (c *Client) Set(p string, data []byte, version int32) (*zk.Stat, error) {
	st, err := c.conn.Set(c.abs(p), data, version)
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", p, err)
	}
	return st, nil
}

// Create creates a znode (mode: Persistent, Ephemeral, ...) with an open ACL
// and returns its path (relative to the chroot).
func (c *Client) Create(p string, data []byte, mode int32) (string, error) {
	created, err := c.conn.Create(c.abs(p), data, mode, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	return c.rel(created), nil
}

// Delete deletes a znode if its dataVersion is version (AnyVersion: any).
func (c *Client) Delete(p string, version int32) error {
	if err := c.conn.Delete(c.abs(p), version); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return nil
}

// CreateRecursive is KafkaZkClient.createRecursive: create p as a persistent
// znode; when its parent is missing, create the parents with null data and
// retry. NodeExists on p itself is returned (errors.Is(err, zk.ErrNodeExists)).
func (c *Client) CreateRecursive(p string, data []byte) error {
	_, err := c.Create(p, data, Persistent)
	if errors.Is(err, zk.ErrNoNode) {
		if err := c.ensurePath(parentPath(p)); err != nil {
			return err
		}
		_, err = c.Create(p, data, Persistent)
	}
	return err
}

// ensurePath creates p and its parents with null data, ignoring NodeExists
// (so it can be retried after a connection loss).
func (c *Client) ensurePath(p string) error {
	if p == "/" || p == "" {
		return nil
	}
	err := c.read(func() error {
		err := c.CreateRecursive(p, nil)
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return nil
}

// Op is one operation of a multi-op; build it with CreateOp, SetDataOp,
// DeleteOp or CheckOp.
type Op struct {
	path    string
	kind    int // 0 create, 1 set, 2 delete, 3 check
	data    []byte
	flags   int32
	version int32
}

// CreateOp creates path with data and mode (Persistent, Ephemeral, ...).
func CreateOp(path string, data []byte, mode int32) Op {
	return Op{path: path, kind: 0, data: data, flags: mode}
}

// SetDataOp sets path's data if its dataVersion is version.
func SetDataOp(path string, data []byte, version int32) Op {
	return Op{path: path, kind: 1, data: data, version: version}
}

// DeleteOp deletes path if its dataVersion is version.
func DeleteOp(path string, version int32) Op { return Op{path: path, kind: 2, version: version} }

// CheckOp fails the multi-op unless path's dataVersion is version.
func CheckOp(path string, version int32) Op { return Op{path: path, kind: 3, version: version} }

// Path is the znode the op targets.
func (o Op) Path() string { return o.path }

// Multi runs ops atomically. On failure err is the first failing op's error
// and each result's Error says which op failed (the others carry
// ZooKeeper's "ok"/runtime-inconsistency codes).
func (c *Client) Multi(ops ...Op) ([]zk.MultiResponse, error) {
	reqs := make([]interface{}, len(ops))
	for i, o := range ops {
		p := c.abs(o.path)
		switch o.kind {
		case 0:
			reqs[i] = &zk.CreateRequest{Path: p, Data: o.data, Acl: zk.WorldACL(zk.PermAll), Flags: o.flags}
		case 1:
			reqs[i] = &zk.SetDataRequest{Path: p, Data: o.data, Version: o.version}
		case 2:
			reqs[i] = &zk.DeleteRequest{Path: p, Version: o.version}
		case 3:
			reqs[i] = &zk.CheckVersionRequest{Path: p, Version: o.version}
		}
	}
	res, err := c.conn.Multi(reqs...)
	for i := range res {
		if res[i].String != "" {
			res[i].String = c.rel(res[i].String)
		}
	}
	if err != nil {
		what := "multi"
		for i := range res {
			if i < len(ops) && res[i].Error != nil {
				what = "multi " + ops[i].path
				break
			}
		}
		return res, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}

// EpochFenced runs ops as one multi-op preceded by
// check(/controller_epoch, epochZkVersion), the fence of every controller
// write (KafkaZkClient.retryRequestsUntilConnected with
// expectedControllerEpochZkVersion, KAFKA-6082). If the check fails the
// error is ErrControllerMoved; otherwise results and errors are those of
// ops (without the check).
func (c *Client) EpochFenced(epochZkVersion int32, ops ...Op) ([]zk.MultiResponse, error) {
	all := append([]Op{CheckOp(ControllerEpochPath, epochZkVersion)}, ops...)
	res, err := c.Multi(all...)
	if err != nil {
		if len(res) > 0 && (errors.Is(res[0].Error, zk.ErrBadVersion) || errors.Is(res[0].Error, zk.ErrNoNode)) {
			return nil, fmt.Errorf("%w: /controller_epoch is no longer at version %d", ErrControllerMoved, epochZkVersion)
		}
		if len(res) > 0 {
			res = res[1:]
		}
		return res, err
	}
	return res[1:], nil
}

// DeleteRecursive deletes p and everything under it, ignoring nodes that
// are already gone (KafkaZkClient.deleteRecursive). With epochZkVersion >= 0
// every delete is fenced by the controller epoch.
func (c *Client) DeleteRecursive(p string, epochZkVersion int32) error {
	children, _, err := c.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ch := range children {
		if err := c.DeleteRecursive(p+"/"+ch, epochZkVersion); err != nil {
			return err
		}
	}
	if epochZkVersion >= 0 {
		_, err = c.EpochFenced(epochZkVersion, DeleteOp(p, AnyVersion))
	} else {
		err = c.Delete(p, AnyVersion)
	}
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}
