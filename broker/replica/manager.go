package replica

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/storage"
)

// Config configures a Manager.
type Config struct {
	// BrokerID is this broker's id (broker.id).
	BrokerID int32
	// DefaultLogConfig is the broker's log.* defaults, used for every log it
	// creates until topic overrides from /config/topics are applied.
	DefaultLogConfig storage.LogConfig
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

	closed  atomic.Bool
	closeCh chan struct{}
}

// NewManager returns a Manager that creates and opens logs through logs.
func NewManager(cfg Config, logs *storage.Manager, log *logrus.Entry) *Manager {
	return &Manager{
		cfg:             cfg,
		logs:            logs,
		log:             log,
		controllerEpoch: -1,
		partitions:      map[TopicPartition]*Partition{},
		closeCh:         make(chan struct{}),
	}
}

// Close stops the manager: pending delayed fetches and produces return at
// once. It does not close the logs (the storage.Manager owns them). It is
// idempotent.
func (m *Manager) Close() {
	if m.closed.CompareAndSwap(false, true) {
		close(m.closeCh)
	}
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
	for i, st := range states {
		errs[i] = m.applyPartitionStateLocked(controllerEpoch, st)
	}
	return errs, nil
}

func (m *Manager) applyPartitionStateLocked(controllerEpoch int32, st LeaderAndIsrPartition) error {
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
			return kerr.InconsistentTopicID
		}
	}
	switch {
	case st.LeaderEpoch > p.leaderEpoch:
		if !slices.Contains(st.Replicas, m.cfg.BrokerID) {
			m.dropIfEmptyLocked(p)
			return kerr.UnknownTopicOrPartition
		}
	case st.LeaderEpoch < p.leaderEpoch:
		return kerr.StaleControllerEpoch
	default:
		// Same epoch: only a missing topic id is recorded.
		if p.log != nil && st.TopicID != ([16]byte{}) {
			if _, ok := p.log.TopicID(); !ok {
				if err := p.log.SetTopicID(st.TopicID); err != nil {
					return err
				}
				return nil
			}
		}
		return kerr.StaleControllerEpoch
	}
	if st.PartitionEpoch < p.partitionEpoch {
		// Partition.makeLeader/makeFollower ignore an older partition epoch.
		return nil
	}
	if err := p.openLogLocked(st.TopicID); err != nil {
		m.dropIfEmptyLocked(p)
		return err
	}
	if st.Leader == m.cfg.BrokerID {
		return p.makeLeaderLocked(controllerEpoch, st)
	}
	return p.makeFollowerLocked(controllerEpoch, st)
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
