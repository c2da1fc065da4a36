package replica

import (
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/storage"
)

// Partition is one hosted replica of a topic-partition: Kafka's
// kafka.cluster.Partition. Its leadership fields change only under a
// LeaderAndIsr or StopReplica (Manager.stateMu and p.mu held); the data path
// reads them under p.mu's read lock.
type Partition struct {
	Topic string
	Index int32

	m *Manager

	mu              sync.RWMutex
	topicID         [16]byte
	controllerEpoch int32
	leader          int32
	leaderEpoch     int32 // -1 until the first LeaderAndIsr
	partitionEpoch  int32
	replicas        []int32
	isr             []int32 // the leader's view; empty on followers
	isLeader        bool
	stopped         bool // removed by StopReplica; a new Partition replaces it
	log             *storage.Log
	// leaderEpochStartOffset is the LEO when this broker became leader at
	// leaderEpoch (KAFKA-7128: followers join the ISR only past it).
	leaderEpochStartOffset int64

	hwMu          sync.Mutex
	highWatermark int64
	// followers is the leader's tracking state of each other replica
	// (Kafka's Replica), keyed by broker id. Issue 4 adds lastCaughtUpTime
	// and ISR changes.
	followers map[int32]*followerState

	waitMu  sync.Mutex
	waiters map[chan struct{}]struct{}
}

// followerState is what the leader knows of one follower, from its fetches.
type followerState struct {
	logEndOffset  int64 // -1 until its first fetch
	lastFetchTime time.Time
}

func newPartition(m *Manager, topic string, partition int32) *Partition {
	return &Partition{
		Topic:       topic,
		Index:       partition,
		m:           m,
		leader:      -1,
		leaderEpoch: -1,
		waiters:     map[chan struct{}]struct{}{},
	}
}

// State is a consistent copy of a partition's replication state.
type State struct {
	TopicID        [16]byte
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	IsLeader       bool
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
}

// State returns a copy of the partition's state.
func (p *Partition) State() State {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := State{
		TopicID: p.topicID, Leader: p.leader, LeaderEpoch: p.leaderEpoch, PartitionEpoch: p.partitionEpoch,
		Replicas: slices.Clone(p.replicas), ISR: slices.Clone(p.isr), IsLeader: p.isLeader,
		HighWatermark: p.HighWatermark(),
	}
	if p.log != nil {
		s.LogStartOffset, s.LogEndOffset = p.log.LogStartOffset(), p.log.LogEndOffset()
	}
	return s
}

// HighWatermark returns the partition's high watermark.
func (p *Partition) HighWatermark() int64 {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	return p.highWatermark
}

// openLogLocked creates or opens the log and records the topic id in
// partition.metadata. p.mu is held.
func (p *Partition) openLogLocked(topicID [16]byte) error {
	if p.log == nil {
		l, err := p.m.logs.GetOrCreate(p.Topic, p.Index, p.m.cfg.DefaultLogConfig)
		if err != nil {
			p.m.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Error("open log")
			return kerr.KafkaStorageError
		}
		p.log = l
		p.hwMu.Lock()
		// Without a replication-offset-checkpoint (issue 4) the high
		// watermark starts at the log start offset and is advanced by
		// makeLeader; it never exceeds the log end offset.
		p.highWatermark = l.LogStartOffset()
		p.hwMu.Unlock()
	}
	if id, ok := p.log.TopicID(); ok {
		if topicID != ([16]byte{}) && id != topicID {
			return kerr.InconsistentTopicID
		}
		p.topicID = id
	} else if topicID != ([16]byte{}) {
		if err := p.log.SetTopicID(topicID); err != nil {
			p.m.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Error("write partition.metadata")
			return kerr.KafkaStorageError
		}
		p.topicID = topicID
	}
	return nil
}

// makeLeaderLocked is Kafka's Partition.makeLeader. p.mu is held.
func (p *Partition) makeLeaderLocked(controllerEpoch int32, st LeaderAndIsrPartition) error {
	epochIncreased := st.LeaderEpoch > p.leaderEpoch
	p.controllerEpoch = controllerEpoch
	p.replicas = slices.Clone(st.Replicas)
	p.isr = slices.Clone(st.ISR)
	p.partitionEpoch = st.PartitionEpoch
	p.leader = st.Leader
	p.leaderEpoch = st.LeaderEpoch
	p.isLeader = true
	leo := p.log.LogEndOffset()
	if epochIncreased {
		// Record (leaderEpoch → LEO) so that followers can truncate to it
		// (KIP-101), and reset the followers' tracking state.
		if err := p.log.AssignEpoch(st.LeaderEpoch, leo); err != nil {
			p.m.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Error("assign leader epoch")
			return kerr.KafkaStorageError
		}
		p.leaderEpochStartOffset = leo
		p.hwMu.Lock()
		p.followers = map[int32]*followerState{}
		for _, r := range p.replicas {
			if r != p.m.cfg.BrokerID {
				p.followers[r] = &followerState{logEndOffset: -1}
			}
		}
		p.hwMu.Unlock()
	}
	p.maybeIncrementHighWatermarkLocked()
	p.m.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader_epoch": p.leaderEpoch, "isr": p.isr, "high_watermark": p.HighWatermark()}).Info("became leader")
	p.wake()
	return nil
}

// makeFollowerLocked is Kafka's Partition.makeFollower: the leader id and
// epoch are recorded and the local ISR cleared. Follower fetchers (and the
// truncation they do first) are issue 4. p.mu is held.
func (p *Partition) makeFollowerLocked(controllerEpoch int32, st LeaderAndIsrPartition) error {
	p.controllerEpoch = controllerEpoch
	p.replicas = slices.Clone(st.Replicas)
	p.isr = nil
	p.partitionEpoch = st.PartitionEpoch
	p.leader = st.Leader
	p.leaderEpoch = st.LeaderEpoch
	p.isLeader = false
	p.hwMu.Lock()
	p.followers = nil
	if leo := p.log.LogEndOffset(); p.highWatermark > leo {
		p.highWatermark = leo
	}
	p.hwMu.Unlock()
	p.m.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader": st.Leader, "leader_epoch": st.LeaderEpoch}).Info("became follower")
	p.wake()
	return nil
}

// maybeIncrementHighWatermarkLocked advances the high watermark to the
// smallest log end offset among the leader and the ISR's followers (Kafka's
// Partition.maybeIncrementLeaderHW, reference §5.4). With an ISR of only
// this broker that is the leader's LEO. The high watermark never moves
// backwards. p.mu is held (read or write); it reports whether it moved.
func (p *Partition) maybeIncrementHighWatermarkLocked() bool {
	if !p.isLeader || p.log == nil {
		return false
	}
	newHW := p.log.LogEndOffset()
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	for _, r := range p.isr {
		if r == p.m.cfg.BrokerID {
			continue
		}
		f, ok := p.followers[r]
		if !ok || f.logEndOffset < 0 {
			// A follower in the ISR that has not fetched yet holds the HW.
			return false
		}
		newHW = min(newHW, f.logEndOffset)
	}
	if newHW > p.highWatermark {
		p.highWatermark = newHW
		return true
	}
	return false
}

// updateFollowerFetchState records a follower's fetch (its fetch offset is
// its LEO) and advances the high watermark. Kafka's
// Partition.updateFollowerFetchState; ISR expansion is issue 4.
func (p *Partition) updateFollowerFetchState(replicaID int32, fetchOffset int64, now time.Time) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.isLeader {
		return
	}
	p.hwMu.Lock()
	f, ok := p.followers[replicaID]
	if ok {
		f.logEndOffset = fetchOffset
		f.lastFetchTime = now
	}
	p.hwMu.Unlock()
	if ok && p.maybeIncrementHighWatermarkLocked() {
		p.wake()
	}
}

// checkLeaderLocked returns the log when this broker leads the partition and
// currentLeaderEpoch (-1: not checked) matches: FENCED_LEADER_EPOCH when the
// client's epoch is older, UNKNOWN_LEADER_EPOCH when newer (KIP-320), and
// NOT_LEADER_OR_FOLLOWER when this broker does not lead. p.mu is held.
func (p *Partition) checkLeaderLocked(currentLeaderEpoch int32, requireLeader bool) (*storage.Log, error) {
	if p.stopped || p.log == nil {
		return nil, kerr.NotLeaderForPartition
	}
	if currentLeaderEpoch >= 0 {
		if currentLeaderEpoch < p.leaderEpoch {
			return nil, kerr.FencedLeaderEpoch
		}
		if currentLeaderEpoch > p.leaderEpoch {
			return nil, kerr.UnknownLeaderEpoch
		}
	}
	if requireLeader && !p.isLeader {
		return nil, kerr.NotLeaderForPartition
	}
	return p.log, nil
}

// appendRecordsToLeader appends a producer's batch (Kafka's
// Partition.appendRecordsToLeader). The read lock keeps leadership stable
// during the append; the log serialises appends itself.
func (p *Partition) appendRecordsToLeader(records []byte, requiredAcks int16, now time.Time) (storage.AppendInfo, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(-1, true)
	if err != nil {
		return storage.AppendInfo{}, err
	}
	// Issue 4: with requiredAcks == -1, an ISR smaller than
	// min.insync.replicas answers NOT_ENOUGH_REPLICAS here, before the append.
	_ = requiredAcks
	info, err := l.AppendAsLeader(records, p.leaderEpoch, now)
	if err != nil {
		return info, err
	}
	p.maybeIncrementHighWatermarkLocked()
	p.wake()
	return info, nil
}

// addWaiter registers ch to receive a non-blocking send on every change of
// the partition (append, high watermark, leadership, stop).
func (p *Partition) addWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	p.waiters[ch] = struct{}{}
	p.waitMu.Unlock()
}

func (p *Partition) removeWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	delete(p.waiters, ch)
	p.waitMu.Unlock()
}

// wake notifies every waiter; waiters use channels with a buffer of one, so
// a pending notification is never lost and wake never blocks.
func (p *Partition) wake() {
	p.waitMu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

// NumWaiters returns the number of delayed fetches and produces parked on
// the partition (for tests and metrics).
func (p *Partition) NumWaiters() int {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return len(p.waiters)
}
