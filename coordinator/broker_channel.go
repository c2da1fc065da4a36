package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/kconn"
)

// Control request versions (IBP 2.8-IV1 .. 3.1: topic ids, no leader
// recovery state, reference §3.1).
const (
	leaderAndISRVersion   = 5
	updateMetadataVersion = 7
	stopReplicaVersion    = 3
)

// retryBackoff is the pause before resending a failed request
// (RequestSendThread's 100 ms).
const retryBackoff = 100 * time.Millisecond

// channelManager is ControllerChannelManager: one brokerChannel (a queue
// and a sender goroutine) per live broker. Only the controller goroutine
// calls its methods.
type channelManager struct {
	controllerID int32
	localHost    string
	timeout      time.Duration
	log          *logrus.Entry
	brokers      map[int32]*brokerChannel
}

func newChannelManager(controllerID int32, localHost string, timeout time.Duration, log *logrus.Entry) *channelManager {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &channelManager{controllerID: controllerID, localHost: localHost, timeout: timeout, log: log, brokers: map[int32]*brokerChannel{}}
}

// addBroker starts a channel to a broker at addr (its inter-broker listener).
func (m *channelManager) addBroker(id int32, addr string) {
	if _, ok := m.brokers[id]; ok {
		return
	}
	bc := &brokerChannel{
		id:        id,
		addr:      addr,
		clientID:  fmt.Sprintf("controller-%d", m.controllerID),
		localHost: m.localHost,
		timeout:   m.timeout,
		log:       m.log.WithFields(logrus.Fields{"broker_id": id, "remote": addr}),
		signal:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	m.brokers[id] = bc
	go bc.run()
}

// removeBroker stops a broker's channel and drops its queued requests.
func (m *channelManager) removeBroker(id int32) {
	if bc, ok := m.brokers[id]; ok {
		delete(m.brokers, id)
		bc.close()
	}
}

// send queues a request for a broker; callback (may be nil) runs on the
// sender goroutine with the response once the broker answered.
func (m *channelManager) send(id int32, req kmsg.Request, callback func(kmsg.Response)) {
	bc, ok := m.brokers[id]
	if !ok {
		m.log.WithFields(logrus.Fields{"broker_id": id, "api_key": req.Key()}).Warn("no channel to broker; request dropped")
		return
	}
	bc.enqueue(queuedRequest{req: req, callback: callback})
}

// shutdown stops every channel.
func (m *channelManager) shutdown() {
	for id := range m.brokers {
		m.removeBroker(id)
	}
}

type queuedRequest struct {
	req      kmsg.Request
	callback func(kmsg.Response)
}

// brokerChannel is RequestSendThread: one request in flight at a time, each
// resent until it succeeds or the broker is removed.
type brokerChannel struct {
	id       int32
	addr     string
	clientID string
	// localHost is the IP outgoing connections bind to (the controller
	// broker's inter-broker listener host), or "".
	localHost string
	timeout   time.Duration
	log       *logrus.Entry

	mu     sync.Mutex
	queue  []queuedRequest
	conn   *kconn.Conn
	signal chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

func (b *brokerChannel) enqueue(r queuedRequest) {
	b.mu.Lock()
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *brokerChannel) close() {
	close(b.stop)
	b.mu.Lock()
	if b.conn != nil {
		b.conn.Close() // unblocks a pending read or write
	}
	b.mu.Unlock()
	<-b.done
}

func (b *brokerChannel) stopped() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

func (b *brokerChannel) run() {
	defer close(b.done)
	defer func() {
		b.mu.Lock()
		if b.conn != nil {
			b.conn.Close()
		}
		b.mu.Unlock()
	}()
	for {
		b.mu.Lock()
		var next *queuedRequest
		if len(b.queue) > 0 {
			next = &b.queue[0]
		}
		b.mu.Unlock()
		if next == nil {
			select {
			case <-b.stop:
				return
			case <-b.signal:
				continue
			}
		}
		for attempt := 0; ; attempt++ {
			resp, err := b.roundTrip(next.req)
			if err == nil {
				if next.callback != nil {
					next.callback(resp)
				}
				break
			}
			if b.stopped() {
				return
			}
			l := b.log.WithError(err).WithFields(logrus.Fields{"api_key": next.req.Key(), "attempt": attempt})
			if attempt == 0 {
				l.Warn("control request failed; retrying")
			} else {
				l.Debug("control request failed; retrying")
			}
			b.dropConn()
			select {
			case <-b.stop:
				return
			case <-time.After(retryBackoff):
			}
		}
		b.mu.Lock()
		b.queue = b.queue[1:]
		b.mu.Unlock()
	}
}

func (b *brokerChannel) dropConn() {
	b.mu.Lock()
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
	b.mu.Unlock()
}

func (b *brokerChannel) connection() (*kconn.Conn, error) {
	b.mu.Lock()
	c := b.conn
	b.mu.Unlock()
	if c != nil {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	c, err := kconn.Dial(ctx, b.addr, kconn.Options{ClientID: b.clientID, LocalHost: b.localHost, Timeout: b.timeout})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped() {
		c.Close()
		return nil, errors.New("channel closed")
	}
	b.conn = c
	return c, nil
}

// roundTrip sends one request on the channel's connection.
func (b *brokerChannel) roundTrip(req kmsg.Request) (kmsg.Response, error) {
	conn, err := b.connection()
	if err != nil {
		return nil, err
	}
	return conn.Request(req, b.timeout)
}
