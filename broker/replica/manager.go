package replica

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/storage"
)

// Config configures a Manager. Zero values take Kafka's defaults (see
// withDefaults), so tests set only what they exercise.
type Config struct {
	// BrokerID is this broker's id (broker.id).
	BrokerID int32
	// DefaultLogConfig is the broker's log.* defaults; a topic's overrides
	// from /config/topics (TopicConfig) are applied on top of them.
	DefaultLogConfig storage.LogConfig
	// MinInsyncReplicas is min.insync.replicas (default 1; topic override).
	MinInsyncReplicas int32
	// ReplicaLagTimeMax is replica.lag.time.max.ms (30 s): a follower that
	// has not caught up for this long leaves the ISR.
	ReplicaLagTimeMax time.Duration
	// Follower fetches: replica.fetch.max.bytes (1 MiB, per partition),
	// replica.fetch.response.max.bytes (10 MiB), replica.fetch.wait.max.ms
	// (500 ms), replica.fetch.min.bytes (1), replica.fetch.backoff.ms (1 s),
	// replica.socket.timeout.ms (30 s), num.replica.fetchers (1).
	FetchMaxBytes         int32
	FetchResponseMaxBytes int32
	FetchWaitMax          time.Duration
	FetchMinBytes         int32
	FetchBackoff          time.Duration
	SocketTimeout         time.Duration
	NumFetchers           int
	// HighWatermarkCheckpointInterval is
	// replica.high.watermark.checkpoint.interval.ms (5 s).
	HighWatermarkCheckpointInterval time.Duration
	// InterBrokerListener names the listener followers fetch from and the
	// controller is reached on (inter.broker.listener.name).
	InterBrokerListener string
	// LocalHost is the address broker-to-broker connections bind to
	// (config.InterBrokerBindHost).
	LocalHost string
	// Metadata is the broker's metadata cache: live brokers (ISR
	// eligibility, leader endpoints when LeaderAndIsr carries none) and the
	// controller id (AlterPartition). Nil in tests that need neither.
	Metadata *metadata.Cache
	// BrokerEpoch returns this broker's epoch, sent in AlterPartition.
	BrokerEpoch func() int64
	// TopicConfig returns a topic's overrides (/config/topics/<topic>);
	// nil, or an empty map, means none.
	TopicConfig func(topic string) (map[string]string, error)
}

func (c Config) withDefaults() Config {
	if c.MinInsyncReplicas <= 0 {
		c.MinInsyncReplicas = 1
	}
	if c.ReplicaLagTimeMax <= 0 {
		c.ReplicaLagTimeMax = 30 * time.Second
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = 1 << 20
	}
	if c.FetchResponseMaxBytes <= 0 {
		c.FetchResponseMaxBytes = 10 << 20
	}
	if c.FetchWaitMax <= 0 {
		c.FetchWaitMax = 500 * time.Millisecond
	}
	if c.FetchBackoff <= 0 {
		c.FetchBackoff = time.Second
	}
	if c.SocketTimeout <= 0 {
		c.SocketTimeout = 30 * time.Second
	}
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
	if c.HighWatermarkCheckpointInterval <= 0 {
		c.HighWatermarkCheckpointInterval = 5 * time.Second
	}
	if c.BrokerEpoch == nil {
		c.BrokerEpoch = func() int64 { return -1 }
	}
	return c
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Manager owns the partitions this broker hosts. It is safe for concurrent
// use.
type Manager struct {
	cfg  Config
	logs *storage.Manager
	log  *logrus.Entry

	// stateMu is Kafka's replicaStateChangeLock: it serialises control
	// requests so that the controller epoch check and the changes it guards
	// are atomic.
	stateMu         sync.Mutex
	controllerEpoch int32 // highest controller epoch seen; guarded by stateMu

	mu         sync.RWMutex
	partitions map[TopicPartition]*Partition

	leadership listeners // LeadershipListeners (listeners.go)

	// brokerDefaults, when set, replaces cfg.DefaultLogConfig and
	// cfg.MinInsyncReplicas: the static defaults with the dynamic broker
	// configs applied (SetBrokerDefaults, dynamic_config.go).
	brokerDefaults atomic.Pointer[brokerDefaults]

	fetchers *fetcherManager       // follower fetchers
	alter    *alterPartitionSender // ISR changes to the controller
	quotas   *replicationThrottles // replication throttles (throttle.go)

	ctx     context.Context // cancelled by Close; bounds dials to peers
	cancel  context.CancelFunc
	started atomic.Bool
	wg      sync.WaitGroup // background tasks (Start)
	closed  atomic.Bool
	closeCh chan struct{}
}

// NewManager returns a Manager that creates and opens logs through logs.
// Follower fetchers start with the first LeaderAndIsr that makes this broker
// a follower; the periodic tasks start with Start.
func NewManager(cfg Config, logs *storage.Manager, log *logrus.Entry) *Manager {
	m := &Manager{
		cfg:             cfg.withDefaults(),
		logs:            logs,
		log:             log,
		controllerEpoch: -1,
		partitions:      map[TopicPartition]*Partition{},
		closeCh:         make(chan struct{}),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.fetchers = newFetcherManager(m)
	m.alter = newAlterPartitionSender(m)
	m.quotas = newManagerThrottles(m)
	return m
}

// Start runs the background tasks until Close: the AlterPartition sender,
// Kafka's isr-expiration task (every replica.lag.time.max.ms / 2) and the
// high watermark checkpoint (every
// replica.high.watermark.checkpoint.interval.ms). It is idempotent.
func (m *Manager) Start() {
	if !m.started.CompareAndSwap(false, true) || m.closed.Load() {
		return
	}
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.alter.run() }()
	go func() { defer m.wg.Done(); m.runPeriodic() }()
}

func (m *Manager) runPeriodic() {
	isr := time.NewTicker(max(m.cfg.ReplicaLagTimeMax/2, time.Millisecond))
	defer isr.Stop()
	hw := time.NewTicker(m.cfg.HighWatermarkCheckpointInterval)
	defer hw.Stop()
	for {
		select {
		case <-m.closeCh:
			return
		case now := <-isr.C:
			m.shrinkISRs(now)
		case <-hw.C:
			if err := m.CheckpointHighWatermarks(); err != nil {
				m.log.WithError(err).Warn("checkpoint high watermarks")
			}
		}
	}
}

// Close stops the manager in Kafka's ReplicaManager.shutdown order: pending
// delayed fetches and produces return at once, the follower fetchers stop
// (and are waited for, so nothing appends to a log after this), the
// background tasks stop, and the high watermarks are checkpointed a last
// time. It does not close the logs (the storage.Manager owns them; close
// them after this). It is idempotent.
func (m *Manager) Close() {
	if !m.closed.CompareAndSwap(false, true) {
		return
	}
	close(m.closeCh)
	m.cancel()
	m.alter.interrupt()
	m.fetchers.shutdown()
	m.wg.Wait()
	if err := m.CheckpointHighWatermarks(); err != nil {
		m.log.WithError(err).Warn("checkpoint high watermarks at shutdown")
	}
}

// CheckpointHighWatermarks writes replication-offset-checkpoint in every log
// dir with the high watermark of every hosted partition (leaders and
// followers). A log on disk that is not hosted yet (no LeaderAndIsr since
// start-up) keeps its checkpointed value, so a restart does not forget it.
func (m *Manager) CheckpointHighWatermarks() error {
	return m.logs.WriteHighWatermarks(func(l *storage.Log) (int64, bool) {
		if p := m.Partition(l.Topic(), l.Partition()); p != nil {
			p.mu.RLock()
			hosted := p.log == l
			p.mu.RUnlock()
			if hosted {
				return p.HighWatermark(), true
			}
		}
		hw, found, err := m.logs.CheckpointedHighWatermark(l)
		return hw, found && err == nil
	})
}

// BrokerID returns this broker's id.
func (m *Manager) BrokerID() int32 { return m.cfg.BrokerID }

// ControllerEpoch returns the highest controller epoch seen.
func (m *Manager) ControllerEpoch() int32 {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	return m.controllerEpoch
}

// ErrStaleControllerEpoch is returned for a whole control request whose
// controller epoch is older than the highest seen.
var ErrStaleControllerEpoch = kerr.StaleControllerEpoch

// WithControllerEpoch runs fn under the replica state change lock if
// controllerEpoch is not older than the highest seen (and records it);
// otherwise it returns ErrStaleControllerEpoch without running fn. The
// UpdateMetadata handler applies the metadata cache update through it, as
// Kafka's ReplicaManager.maybeUpdateMetadataCache does.
func (m *Manager) WithControllerEpoch(controllerEpoch int32, fn func()) error {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if err := m.checkControllerEpochLocked(controllerEpoch); err != nil {
		return err
	}
	fn()
	return nil
}

func (m *Manager) checkControllerEpochLocked(epoch int32) error {
	if epoch < m.controllerEpoch {
		return ErrStaleControllerEpoch
	}
	m.controllerEpoch = epoch
	return nil
}

// Partition returns the hosted partition, or nil.
func (m *Manager) Partition(topic string, partition int32) *Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.partitions[TopicPartition{topic, partition}]
}

// Partitions returns every hosted partition.
func (m *Manager) Partitions() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.partitions))
	for _, p := range m.partitions {
		out = append(out, p)
	}
	return out
}

// hostedPartition returns the partition, or UNKNOWN_TOPIC_OR_PARTITION when
// it is not hosted here (the handlers turn that into NOT_LEADER_OR_FOLLOWER
// when the metadata cache knows the partition, as Kafka's
// ReplicaManager.getPartitionOrError does).
func (m *Manager) hostedPartition(topic string, partition int32) (*Partition, error) {
	p := m.Partition(topic, partition)
	if p == nil {
		return nil, kerr.UnknownTopicOrPartition
	}
	return p, nil
}

// LeaderAndIsrPartition is one partition state of a LeaderAndIsr request.
type LeaderAndIsrPartition struct {
	Topic           string
	TopicID         [16]byte // zero before LeaderAndIsr v5
	Partition       int32
	ControllerEpoch int32
	Leader          int32
	LeaderEpoch     int32
	PartitionEpoch  int32 // the state znode's version (zkVersion)
	Replicas        []int32
	ISR             []int32
	IsNew           bool
	// LeaderAddr is the leader's inter-broker "host:port" from the
	// request's LiveLeaders (v1+); empty means look it up in the metadata
	// cache.
	LeaderAddr string
}

// BecomeLeaderOrFollower applies a LeaderAndIsr request, as Kafka's
// ReplicaManager.becomeLeaderOrFollower (reference §3.2): a controller epoch
// older than the highest seen fails the whole request with
// ErrStaleControllerEpoch; otherwise each partition is applied when its leader
// epoch is newer than the local one (the log is created or opened, its topic
// id checked or recorded in partition.metadata, and the partition becomes
// leader or follower), and answered STALE_CONTROLLER_EPOCH when it is not
// newer, UNKNOWN_TOPIC_OR_PARTITION when this broker is not a replica, and
// INCONSISTENT_TOPIC_ID when the log belongs to another topic id. The
// returned slice holds one error (nil = success) per state, in order.
func (m *Manager) BecomeLeaderOrFollower(controllerEpoch int32, states []LeaderAndIsrPartition) ([]error, error) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.closed.Load() {
		return nil, storage.ErrLogClosed
	}
	if err := m.checkControllerEpochLocked(controllerEpoch); err != nil {
		return nil, err
	}
	errs := make([]error, len(states))
	tc := m.newTopicConfigs()
	var leaders []TopicPartition
	var followers []followerStart
	for i, st := range states {
		var role partitionRole
		role, errs[i] = m.applyPartitionStateLocked(controllerEpoch, st, tc)
		tp := TopicPartition{st.Topic, st.Partition}
		switch {
		case errs[i] != nil:
		case role == roleLeader:
			leaders = append(leaders, tp)
		case role == roleFollower:
			fs := followerStart{tp: tp, p: m.Partition(st.Topic, st.Partition), leader: st.Leader, leaderEpoch: st.LeaderEpoch, addr: st.LeaderAddr}
			if fs.p != nil {
				fs.p.mu.RLock()
				fs.truncateToHW = fs.p.log != nil && fs.p.log.LatestEpoch() < 0
				fs.p.mu.RUnlock()
			}
			followers = append(followers, fs)
		}
	}
	// Kafka's makeLeaders / makeFollowers: a new leader stops fetching; a
	// follower of a new epoch restarts its fetcher (it truncates first). The
	// fetchers validate the epoch under the partition lock, so a response
	// for an old epoch in flight now is dropped.
	m.fetchers.removePartitions(leaders)
	m.fetchers.addPartitions(followers)
	m.notifyLeadership(states, errs)
	return errs, nil
}

// partitionRole is what applying a partition state did.
type partitionRole int

const (
	roleUnchanged partitionRole = iota
	roleLeader
	roleFollower
)

func (m *Manager) applyPartitionStateLocked(controllerEpoch int32, st LeaderAndIsrPartition, tc *topicConfigs) (partitionRole, error) {
	tp := TopicPartition{st.Topic, st.Partition}
	m.mu.Lock()
	p, ok := m.partitions[tp]
	if !ok {
		p = newPartition(m, st.Topic, st.Partition)
		m.partitions[tp] = p
	}
	m.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil && st.TopicID != ([16]byte{}) {
		if id, ok := p.log.TopicID(); ok && id != st.TopicID {
			return roleUnchanged, kerr.InconsistentTopicID
		}
	}
	switch {
	case st.LeaderEpoch > p.leaderEpoch:
		if !slices.Contains(st.Replicas, m.cfg.BrokerID) {
			m.dropIfEmptyLocked(p)
			return roleUnchanged, kerr.UnknownTopicOrPartition
		}
	case st.LeaderEpoch < p.leaderEpoch:
		return roleUnchanged, kerr.StaleControllerEpoch
	default:
		// Same epoch: only a missing topic id is recorded.
		if p.log != nil && st.TopicID != ([16]byte{}) {
			if _, ok := p.log.TopicID(); !ok {
				if err := p.log.SetTopicID(st.TopicID); err != nil {
					return roleUnchanged, err
				}
				return roleUnchanged, nil
			}
		}
		return roleUnchanged, kerr.StaleControllerEpoch
	}
	if st.PartitionEpoch < p.partitionEpoch {
		// Partition.makeLeader/makeFollower ignore an older partition epoch.
		return roleUnchanged, nil
	}
	if err := p.openLogLocked(st.TopicID, tc); err != nil {
		m.dropIfEmptyLocked(p)
		return roleUnchanged, err
	}
	if st.Leader == m.cfg.BrokerID {
		return roleLeader, p.makeLeaderLocked(controllerEpoch, st)
	}
	return roleFollower, p.makeFollowerLocked(controllerEpoch, st)
}

// dropIfEmptyLocked forgets a partition that was created for a request that
// failed before it got a log. p.mu is held.
func (m *Manager) dropIfEmptyLocked(p *Partition) {
	if p.log != nil || p.leaderEpoch >= 0 {
		return
	}
	m.mu.Lock()
	if m.partitions[TopicPartition{p.Topic, p.Index}] == p {
		delete(m.partitions, TopicPartition{p.Topic, p.Index})
	}
	m.mu.Unlock()
}

// StopReplicaPartition is one partition of a StopReplica request.
type StopReplicaPartition struct {
	Topic     string
	Partition int32
	// LeaderEpoch is the controller's current leader epoch, -1 when unknown,
	// -2 when the topic is being deleted (accepted whatever the local epoch).
	LeaderEpoch int32
	// Delete removes the log from disk, even when the partition is not
	// hosted.
	Delete bool
}

// StopReplicas applies a StopReplica request, as Kafka's
// ReplicaManager.stopReplicas (reference §3.4): a stale controller epoch fails
// the whole request; a partition is stopped when the request's leader epoch
// is -2, -1 or not older than the local one (else FENCED_LEADER_EPOCH), and
// its log is deleted when Delete is set. Pending fetches and produces on a
// stopped partition complete with NOT_LEADER_OR_FOLLOWER.
func (m *Manager) StopReplicas(controllerEpoch int32, parts []StopReplicaPartition) ([]error, error) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if err := m.checkControllerEpochLocked(controllerEpoch); err != nil {
		return nil, err
	}
	errs := make([]error, len(parts))
	for i, sp := range parts {
		errs[i] = m.stopReplicaLocked(sp)
	}
	m.notifyStopped(parts, errs)
	return errs, nil
}

func (m *Manager) stopReplicaLocked(sp StopReplicaPartition) error {
	tp := TopicPartition{sp.Topic, sp.Partition}
	m.mu.RLock()
	p := m.partitions[tp]
	m.mu.RUnlock()
	if p != nil {
		p.mu.Lock()
		if sp.LeaderEpoch >= 0 && sp.LeaderEpoch < p.leaderEpoch {
			p.mu.Unlock()
			return kerr.FencedLeaderEpoch
		}
		// Kafka's stopReplicas removes the fetcher first; holding p.mu, no
		// fetch of this partition is being applied, and none will be.
		m.fetchers.removePartitions([]TopicPartition{tp})
		p.stopped = true
		p.isLeader = false
		p.log = nil
		p.mu.Unlock()
		m.mu.Lock()
		if m.partitions[tp] == p {
			delete(m.partitions, tp)
		}
		m.mu.Unlock()
		p.wake()
		m.log.WithFields(logrus.Fields{"topic": sp.Topic, "partition": sp.Partition, "delete": sp.Delete}).Info("stopped replica")
	}
	if sp.Delete && m.logs.Get(sp.Topic, sp.Partition) != nil {
		if err := m.logs.Delete(sp.Topic, sp.Partition); err != nil {
			m.log.WithError(err).WithFields(logrus.Fields{"topic": sp.Topic, "partition": sp.Partition}).Error("delete log")
			return kerr.KafkaStorageError
		}
	}
	return nil
}
