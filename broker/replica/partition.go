package replica

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
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

	// minInsync is min.insync.replicas for this topic (the broker default or
	// the /config/topics override), read when the log is opened.
	minInsync int32

	hwMu          sync.Mutex
	highWatermark int64
	// followers is the leader's tracking state of each other replica
	// (Kafka's Replica), keyed by broker id.
	followers map[int32]*followerState
	// pendingISR is the ISR change sent (or about to be sent) to the
	// controller; nil when the ISR is committed (Kafka's PendingExpandIsr /
	// PendingShrinkIsr). While it is set the leader proposes nothing else.
	pendingISR *isrChange

	waitMu  sync.Mutex
	waiters map[chan struct{}]struct{}
}

// followerState is what the leader knows of one follower, from its fetches
// (Kafka's Replica and ReplicaState).
type followerState struct {
	logEndOffset   int64 // -1 until its first fetch
	logStartOffset int64
	lastFetchTime  time.Time
	// lastFetchLeaderLogEndOffset is the leader's LEO at the previous fetch.
	lastFetchLeaderLogEndOffset int64
	// lastCaughtUpTime is the last time the follower had everything the
	// leader had (reference §5.2); zero for a follower outside the ISR when
	// this broker became leader.
	lastCaughtUpTime time.Time
}

// isCaughtUp is Kafka's ReplicaState.isCaughtUp: the follower has the
// leader's LEO, or had it within maxLag.
func (f *followerState) isCaughtUp(leaderLEO int64, now time.Time, maxLag time.Duration) bool {
	return f.logEndOffset == leaderLEO || (!f.lastCaughtUpTime.IsZero() && now.Sub(f.lastCaughtUpTime) <= maxLag)
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

// openLogLocked creates or opens the log with the topic's configuration
// (broker defaults + /config/topics overrides, loaded once per topic and
// request through tc), starts the high watermark at its checkpointed value
// (replication-offset-checkpoint, clamped to the log), and records the topic
// id in partition.metadata. p.mu is held.
func (p *Partition) openLogLocked(topicID [16]byte, tc *topicConfigs) error {
	if p.log == nil {
		cfg := tc.get(p.Topic)
		l, err := p.m.logs.GetOrCreate(p.Topic, p.Index, cfg.log)
		if err != nil {
			p.m.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Error("open log")
			return kerr.KafkaStorageError
		}
		p.log = l
		p.minInsync = cfg.minInsync
		hw, found, err := p.m.logs.CheckpointedHighWatermark(l)
		if err != nil {
			p.m.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Warn("read replication-offset-checkpoint; starting the high watermark at the log start")
		}
		if !found {
			hw = 0
		}
		p.hwMu.Lock()
		p.highWatermark = min(max(hw, l.LogStartOffset()), l.LogEndOffset())
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
	wasLeader := p.isLeader
	p.controllerEpoch = controllerEpoch
	p.replicas = slices.Clone(st.Replicas)
	p.isr = slices.Clone(st.ISR)
	p.partitionEpoch = st.PartitionEpoch
	p.leader = st.Leader
	p.leaderEpoch = st.LeaderEpoch
	p.isLeader = true
	leo := p.log.LogEndOffset()
	now := time.Now()
	p.hwMu.Lock()
	// The controller's ISR is now committed; a change in flight is void.
	p.pendingISR = nil
	if epochIncreased {
		// Record (leaderEpoch → LEO) so that followers can truncate to it
		// (KIP-101), and reset the followers' tracking state.
		if err := p.log.AssignEpoch(st.LeaderEpoch, leo); err != nil {
			p.hwMu.Unlock()
			p.m.log.WithError(err).WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index}).Error("assign leader epoch")
			return kerr.KafkaStorageError
		}
		p.leaderEpochStartOffset = leo
		old := p.followers
		p.followers = map[int32]*followerState{}
		for _, r := range p.replicas {
			if r == p.m.cfg.BrokerID {
				continue
			}
			p.followers[r] = resetFollowerState(old[r], wasLeader, slices.Contains(p.isr, r), leo, now)
		}
	} else {
		for _, r := range p.replicas {
			if _, ok := p.followers[r]; !ok && r != p.m.cfg.BrokerID {
				p.followers[r] = resetFollowerState(nil, false, slices.Contains(p.isr, r), leo, now)
			}
		}
	}
	p.hwMu.Unlock()
	p.maybeIncrementHighWatermarkLocked()
	p.m.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader_epoch": p.leaderEpoch, "partition_epoch": p.partitionEpoch,
		"isr": p.isr, "replicas": p.replicas, "log_end_offset": leo, "high_watermark": p.HighWatermark()}).Info("became leader")
	p.wake()
	return nil
}

// resetFollowerState is Kafka's Replica.resetReplicaState on makeLeader: a
// new leader forgets what it knew; a re-elected one keeps the follower's
// offsets. Either way an ISR member counts as caught up now and others not
// at all, so the high watermark is not held back by a replica that already
// left the ISR.
func resetFollowerState(old *followerState, wasLeader, inISR bool, leaderLEO int64, now time.Time) *followerState {
	f := &followerState{logEndOffset: -1, logStartOffset: -1, lastFetchLeaderLogEndOffset: -1}
	if wasLeader && old != nil {
		f.logEndOffset, f.logStartOffset = old.logEndOffset, old.logStartOffset
		f.lastFetchLeaderLogEndOffset = leaderLEO
		if inISR {
			f.lastFetchTime = now
		}
	}
	if inISR {
		f.lastCaughtUpTime = now
	}
	return f
}

// makeFollowerLocked is Kafka's Partition.makeFollower: the leader id and
// epoch are recorded and the local ISR cleared; the manager then (re)starts
// this partition's fetcher, which truncates before it fetches. p.mu is held.
func (p *Partition) makeFollowerLocked(controllerEpoch int32, st LeaderAndIsrPartition) error {
	p.controllerEpoch = controllerEpoch
	p.replicas = slices.Clone(st.Replicas)
	p.isr = nil
	p.partitionEpoch = st.PartitionEpoch
	p.leader = st.Leader
	p.leaderEpoch = st.LeaderEpoch
	p.isLeader = false
	leo := p.log.LogEndOffset()
	p.hwMu.Lock()
	p.followers = nil
	p.pendingISR = nil
	if p.highWatermark > leo {
		p.highWatermark = leo
	}
	hw := p.highWatermark
	p.hwMu.Unlock()
	p.m.log.WithFields(logrus.Fields{"topic": p.Topic, "partition": p.Index, "leader": st.Leader, "leader_epoch": st.LeaderEpoch,
		"log_end_offset": leo, "high_watermark": hw, "latest_epoch": p.log.LatestEpoch()}).Info("became follower")
	p.wake()
	return nil
}

// maximalISRLocked is Kafka's PartitionState.maximalIsr: the committed ISR
// plus a replica whose addition is pending (expansion is optimistic, so it
// can only hold the high watermark back). A pending shrink still counts the
// replicas being removed until the controller commits it. hwMu is held.
func (p *Partition) maximalISRLocked() []int32 {
	if p.pendingISR != nil && p.pendingISR.expand {
		return p.pendingISR.newISR
	}
	return p.isr
}

// MaximalISR returns the ISR the leader counts for the high watermark and
// acks=all (the committed ISR, plus a pending addition).
func (p *Partition) MaximalISR() []int32 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	return slices.Clone(p.maximalISRLocked())
}

// maybeIncrementHighWatermarkLocked advances the high watermark to the
// smallest log end offset among the leader, the maximal ISR's followers and
// the followers that are caught up and eligible to join (Kafka's
// Partition.maybeIncrementLeaderHW, reference §5.4). With an ISR of only
// this broker that is the leader's LEO. The high watermark never moves
// backwards. p.mu is held (read or write); it reports whether it moved.
func (p *Partition) maybeIncrementHighWatermarkLocked() bool {
	if !p.isLeader || p.log == nil {
		return false
	}
	leo := p.log.LogEndOffset()
	newHW := leo
	now := time.Now()
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	maximal := p.maximalISRLocked()
	for id, f := range p.followers {
		if f.logEndOffset >= newHW {
			continue
		}
		if slices.Contains(maximal, id) || (f.isCaughtUp(leo, now, p.m.cfg.ReplicaLagTimeMax) && p.m.isrEligible(id)) {
			newHW = f.logEndOffset
		}
	}
	// An ISR member that is not a replica (never tracked) cannot hold the
	// high watermark: Kafka tracks only the assignment.
	if newHW > p.highWatermark {
		p.highWatermark = newHW
		return true
	}
	return false
}

// updateFollowerFetchState records a follower's successful fetch (its fetch
// offset is its LEO), as Kafka's Partition.updateFollowerFetchState: it
// updates lastCaughtUpTime (reference §5.2), proposes adding the follower
// to the ISR when it has caught up (maybeExpandIsr), and advances the high
// watermark. leaderLEO is the leader's LEO when the fetch was read. It
// reports whether an ISR change is now pending and must be sent.
func (p *Partition) updateFollowerFetchState(replicaID int32, fetchOffset, logStartOffset, leaderLEO int64, now time.Time) (isrChanged bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.isLeader || p.stopped {
		return false
	}
	p.hwMu.Lock()
	f, ok := p.followers[replicaID]
	if !ok {
		p.hwMu.Unlock()
		return false
	}
	prevLEO := f.logEndOffset
	switch {
	case fetchOffset >= leaderLEO:
		if now.After(f.lastCaughtUpTime) {
			f.lastCaughtUpTime = now
		}
	case fetchOffset >= f.lastFetchLeaderLogEndOffset && f.lastFetchLeaderLogEndOffset >= 0:
		if f.lastFetchTime.After(f.lastCaughtUpTime) {
			f.lastCaughtUpTime = f.lastFetchTime
		}
	}
	f.logEndOffset = fetchOffset
	f.logStartOffset = logStartOffset
	f.lastFetchLeaderLogEndOffset = max(leaderLEO, f.lastFetchLeaderLogEndOffset)
	f.lastFetchTime = now
	isrChanged = p.maybeExpandISRLocked(replicaID, f)
	p.hwMu.Unlock()
	if prevLEO != fetchOffset || isrChanged {
		if p.maybeIncrementHighWatermarkLocked() {
			p.wake()
		}
	}
	return isrChanged
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
// during the append; the log serialises appends itself. With acks=all a
// committed ISR smaller than min.insync.replicas is NOT_ENOUGH_REPLICAS and
// nothing is written.
func (p *Partition) appendRecordsToLeader(records []byte, requiredAcks int16, now time.Time) (storage.AppendInfo, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	l, err := p.checkLeaderLocked(-1, true)
	if err != nil {
		return storage.AppendInfo{}, err
	}
	if requiredAcks == -1 && int32(len(p.isr)) < p.minInsync {
		return storage.AppendInfo{}, apierr.New(kerr.NotEnoughReplicas, fmt.Sprintf(
			"The size of the current ISR %v is insufficient to satisfy the min.isr requirement of %d for partition %s-%d", p.isr, p.minInsync, p.Topic, p.Index))
	}
	info, err := l.AppendAsLeader(records, p.leaderEpoch, now)
	if err != nil {
		return info, err
	}
	p.maybeIncrementHighWatermarkLocked()
	p.wake()
	return info, nil
}

// enoughReplicasReachOffset is Kafka's Partition.checkEnoughReplicasReachOffset
// for a delayed produce: done once the high watermark passes
// requiredOffset, with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the maximal ISR
// is then smaller than min.insync.replicas; NOT_LEADER_OR_FOLLOWER when
// leadership was lost.
func (p *Partition) enoughReplicasReachOffset(requiredOffset int64) (done bool, err error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.stopped || !p.isLeader || p.log == nil {
		return true, kerr.NotLeaderForPartition
	}
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	if p.highWatermark < requiredOffset {
		return false, nil
	}
	if isr := p.maximalISRLocked(); int32(len(isr)) < p.minInsync {
		return true, apierr.New(kerr.NotEnoughReplicasAfterAppend, fmt.Sprintf(
			"The size of the current ISR %v is insufficient to satisfy the min.isr requirement of %d for partition %s-%d", isr, p.minInsync, p.Topic, p.Index))
	}
	return true, nil
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
