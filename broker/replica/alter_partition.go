package replica

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/kconn"
)

// alterPartitionVersion is the AlterPartition version sent: v1, the last one
// that names topics (v2+ use topic ids), as Kafka's ZooKeeper-mode brokers
// at IBP 3.2 do. LeaderRecoveryState is always RECOVERED (0).
const alterPartitionVersion = 1

// alterPartitionRetryBackoff is Kafka's AlterPartitionManager retry delay
// after a request-level error (NOT_CONTROLLER, STALE_BROKER_EPOCH, network).
const alterPartitionRetryBackoff = 50 * time.Millisecond

// alterPartitionSender is Kafka's AlterPartitionManager: it sends the
// leaders' pending ISR changes to the controller, at most one request in
// flight, batching every partition queued meanwhile; a request-level error
// re-sends the batch after a short delay, forever (requests never time out).
type alterPartitionSender struct {
	m    *Manager
	log  *logrus.Entry
	wake chan struct{}

	mu     sync.Mutex
	queued map[TopicPartition]*Partition
	conn   *kconn.Conn // set and cleared by the run goroutine; closed by interrupt too

	// Used only by the run goroutine.
	controller int32
	lastWarn   time.Time // retries every 50 ms warn at most every 5 s
}

// warnRetry logs a retried failure, rate-limited: the sender retries every
// 50 ms while the controller is unknown or unreachable.
func (s *alterPartitionSender) warnRetry(e *logrus.Entry, msg string) {
	if now := time.Now(); now.Sub(s.lastWarn) >= 5*time.Second {
		s.lastWarn = now
		e.Warn(msg)
		return
	}
	e.Debug(msg)
}

func newAlterPartitionSender(m *Manager) *alterPartitionSender {
	return &alterPartitionSender{
		m:          m,
		log:        m.log.WithField("subcomponent", "alter-partition"),
		wake:       make(chan struct{}, 1),
		queued:     map[TopicPartition]*Partition{},
		controller: -1,
	}
}

// enqueue asks for the partition's pending ISR change to be sent.
func (s *alterPartitionSender) enqueue(p *Partition) {
	s.mu.Lock()
	s.queued[TopicPartition{p.Topic, p.Index}] = p
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *alterPartitionSender) take() []*Partition {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Partition, 0, len(s.queued))
	for tp, p := range s.queued {
		out = append(out, p)
		delete(s.queued, tp)
	}
	return out
}

func (s *alterPartitionSender) run() {
	defer s.closeConn()
	for {
		select {
		case <-s.m.closeCh:
			return
		case <-s.wake:
		}
		for {
			parts := s.take()
			if len(parts) == 0 {
				break
			}
			if retry := s.send(parts); len(retry) > 0 {
				for _, p := range retry {
					s.enqueue(p)
				}
				select {
				case <-s.m.closeCh:
					return
				case <-time.After(alterPartitionRetryBackoff):
				}
			}
		}
	}
}

// sentChange remembers which change a request carried for a partition.
type sentChange struct {
	p      *Partition
	change *isrChange
}

// send sends one AlterPartition for the partitions' pending changes and
// applies the answer; it returns the partitions to send again.
func (s *alterPartitionSender) send(parts []*Partition) (retry []*Partition) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = alterPartitionVersion
	req.BrokerID = s.m.cfg.BrokerID
	req.BrokerEpoch = s.m.cfg.BrokerEpoch()
	sent := map[TopicPartition]sentChange{}
	topicIdx := map[string]int{}
	for _, p := range parts {
		change, leaderEpoch, partitionEpoch, ok := p.pendingForRequest()
		if !ok {
			continue
		}
		i, ok := topicIdx[p.Topic]
		if !ok {
			i = len(req.Topics)
			topicIdx[p.Topic] = i
			t := kmsg.NewAlterPartitionRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.Index, leaderEpoch, partitionEpoch
		rp.NewISR = append([]int32(nil), change.newISR...)
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		sent[TopicPartition{p.Topic, p.Index}] = sentChange{p, change}
	}
	if len(sent) == 0 {
		return nil
	}
	all := func() []*Partition {
		out := make([]*Partition, 0, len(sent))
		for _, sc := range sent {
			out = append(out, sc.p)
		}
		return out
	}
	resp, err := s.request(req)
	if err != nil {
		s.warnRetry(s.log.WithError(err).WithField("partitions", len(sent)), "AlterPartition not sent; retrying")
		return all()
	}
	if resp.ErrorCode != 0 {
		err := kerr.ErrorForCode(resp.ErrorCode)
		if err == kerr.NotController {
			s.closeConn() // find the controller again
		}
		s.warnRetry(s.log.WithFields(logrus.Fields{"error": err.Error(), "controller": s.controller, "broker_epoch": req.BrokerEpoch}), "AlterPartition rejected; retrying")
		return all()
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			tp := TopicPartition{rt.Topic, rp.Partition}
			sc, ok := sent[tp]
			if !ok {
				continue
			}
			delete(sent, tp)
			if sc.p.applyAlterPartitionResult(sc.change, rp.ErrorCode, rp.LeaderEpoch, rp.PartitionEpoch, rp.ISR) == outcomeResend {
				retry = append(retry, sc.p)
			}
		}
	}
	for _, sc := range sent { // missing from the response: send again
		retry = append(retry, sc.p)
	}
	return retry
}

func (s *alterPartitionSender) closeConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// interrupt closes the connection so that a request in flight returns at
// once (shutdown must not wait replica.socket.timeout.ms for a controller
// that does not answer).
func (s *alterPartitionSender) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

// request sends req to the controller named by the metadata cache, on its
// inter-broker endpoint.
func (s *alterPartitionSender) request(req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	md := s.m.cfg.Metadata
	if md == nil {
		return nil, fmt.Errorf("no metadata cache to find the controller")
	}
	snap := md.Snapshot()
	if snap.ControllerID < 0 {
		return nil, fmt.Errorf("controller unknown")
	}
	if s.controller != snap.ControllerID {
		s.closeConn()
	}
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		ep, ok := snap.Endpoint(snap.ControllerID, s.m.cfg.InterBrokerListener)
		if !ok {
			return nil, fmt.Errorf("controller %d has no %q endpoint in the metadata cache", snap.ControllerID, s.m.cfg.InterBrokerListener)
		}
		addr := net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port)))
		c, err := kconn.Dial(s.m.ctx, addr, kconn.Options{
			ClientID:  "broker-" + strconv.Itoa(int(s.m.cfg.BrokerID)) + "-alter-partition",
			LocalHost: s.m.cfg.LocalHost,
			Timeout:   s.m.cfg.SocketTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("dial controller %d at %s: %w", snap.ControllerID, addr, err)
		}
		s.mu.Lock()
		s.conn, s.controller, conn = c, snap.ControllerID, c
		s.mu.Unlock()
		if s.m.closed.Load() {
			s.closeConn()
			return nil, fmt.Errorf("shutting down")
		}
	}
	kresp, err := conn.Request(req, s.m.cfg.SocketTimeout)
	if err != nil {
		s.closeConn()
		return nil, fmt.Errorf("controller %d: %w", s.controller, err)
	}
	return kresp.(*kmsg.AlterPartitionResponse), nil
}
