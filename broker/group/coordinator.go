package group

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/storage"
)

// Errors answered to clients (Kafka's codes).
var (
	errCoordinatorNotAvailable = kerr.CoordinatorNotAvailable
	errNotCoordinator          = kerr.NotCoordinator
	errLoadInProgress          = kerr.CoordinatorLoadInProgress
	errInvalidGroupID          = kerr.InvalidGroupID
	errUnknownMemberID         = kerr.UnknownMemberID
	errFencedInstanceID        = kerr.FencedInstanceID
	errIllegalGeneration       = kerr.IllegalGeneration
	errRebalanceInProgress     = kerr.RebalanceInProgress
)

// newMemberJoinTimeout is GroupCoordinator.NewMemberJoinTimeoutMs: a new
// member that never completes its first join is dropped after it.
const newMemberJoinTimeout = 5 * time.Minute

// DefaultOffsetMetadataMaxBytes is Kafka's offset.metadata.max.bytes default.
const DefaultOffsetMetadataMaxBytes = 4096

// Config is the coordinator's configuration, Kafka's keys in the comments.
// Zero values take Kafka's defaults.
type Config struct {
	BrokerID                      int32
	OffsetsTopicNumPartitions     int32         // offsets.topic.num.partitions (50)
	OffsetsTopicReplicationFactor int16         // offsets.topic.replication.factor (3)
	OffsetsTopicSegmentBytes      int32         // offsets.topic.segment.bytes (100 MiB)
	OffsetsRetention              time.Duration // offsets.retention.minutes (7 days)
	OffsetsRetentionCheckInterval time.Duration // offsets.retention.check.interval.ms (10 min)
	OffsetCommitTimeout           time.Duration // offsets.commit.timeout.ms (5 s)
	OffsetsLoadBufferSize         int32         // offsets.load.buffer.size (5 MiB)
	OffsetMetadataMaxBytes        int           // offset.metadata.max.bytes (4096)
	GroupInitialRebalanceDelay    time.Duration // group.initial.rebalance.delay.ms (3 s; 0 is kept)
	GroupMinSessionTimeout        time.Duration // group.min.session.timeout.ms (6 s)
	GroupMaxSessionTimeout        time.Duration // group.max.session.timeout.ms (30 min)
	GroupMaxSize                  int32         // group.max.size (unbounded)
	// Clock drives timestamps and timers; nil is the system clock.
	Clock Clock
}

func (c Config) withDefaults() Config {
	if c.OffsetsTopicNumPartitions <= 0 {
		c.OffsetsTopicNumPartitions = 50
	}
	if c.OffsetsTopicReplicationFactor <= 0 {
		c.OffsetsTopicReplicationFactor = 3
	}
	if c.OffsetsTopicSegmentBytes <= 0 {
		c.OffsetsTopicSegmentBytes = 104857600
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.OffsetsRetentionCheckInterval <= 0 {
		c.OffsetsRetentionCheckInterval = 10 * time.Minute
	}
	if c.OffsetCommitTimeout <= 0 {
		c.OffsetCommitTimeout = 5 * time.Second
	}
	if c.OffsetsLoadBufferSize <= 0 {
		c.OffsetsLoadBufferSize = 5 << 20
	}
	if c.OffsetMetadataMaxBytes <= 0 {
		c.OffsetMetadataMaxBytes = DefaultOffsetMetadataMaxBytes
	}
	if c.GroupMinSessionTimeout <= 0 {
		c.GroupMinSessionTimeout = 6 * time.Second
	}
	if c.GroupMaxSessionTimeout <= 0 {
		c.GroupMaxSessionTimeout = 30 * time.Minute
	}
	if c.GroupMaxSize <= 0 {
		c.GroupMaxSize = 1<<31 - 1
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	return c
}

// offsetsPartition is one __consumer_offsets partition this broker leads.
type offsetsPartition struct {
	epoch   int32 // its leader epoch (the coordinator epoch)
	loading bool
	cancel  chan struct{} // closed when the load must stop (unloaded, re-elected)
}

// Coordinator is the group coordinator. It is safe for concurrent use.
type Coordinator struct {
	cfg      Config
	clock    Clock
	replicas *replica.Manager
	logs     *storage.Manager
	md       *metadata.Cache
	log      *logrus.Entry

	active atomic.Bool
	wg     sync.WaitGroup // loads, asynchronous appends
	stopCh chan struct{}

	mu            sync.Mutex
	groups        map[string]*groupMeta
	partitions    map[int32]*offsetsPartition
	numPartitions int32 // fixed once __consumer_offsets is seen in the metadata cache
	cleanupTimer  Timer

	createMu   sync.Mutex // guards creating, lastCreate
	creating   bool
	lastCreate time.Time
}

var _ replica.LeadershipListener = (*Coordinator)(nil)

// New returns a coordinator that appends through replicas, reads the
// offsets partitions' logs from logs when loading, and takes the partition
// count of __consumer_offsets from md (the configured count until the topic
// exists). Start registers it with the replica manager.
func New(cfg Config, replicas *replica.Manager, logs *storage.Manager, md *metadata.Cache, log *logrus.Entry) *Coordinator {
	cfg = cfg.withDefaults()
	return &Coordinator{
		cfg:        cfg,
		clock:      cfg.Clock,
		replicas:   replicas,
		logs:       logs,
		md:         md,
		log:        log,
		stopCh:     make(chan struct{}),
		groups:     map[string]*groupMeta{},
		partitions: map[int32]*offsetsPartition{},
	}
}

// Config returns the effective configuration.
func (c *Coordinator) Config() Config { return c.cfg }

// Start makes the coordinator active: it listens for leadership changes of
// __consumer_offsets and starts the periodic offset expiration (Kafka's
// GroupCoordinator.startup).
func (c *Coordinator) Start() {
	if !c.active.CompareAndSwap(false, true) {
		return
	}
	c.replicas.AddLeadershipListener(c)
	c.mu.Lock()
	c.scheduleCleanupLocked()
	c.mu.Unlock()
}

// Close stops the coordinator: every group is unloaded (waiting clients get
// NOT_COORDINATOR), loads stop, and background appends are waited for. It is
// idempotent.
func (c *Coordinator) Close() {
	if !c.active.CompareAndSwap(true, false) {
		return
	}
	close(c.stopCh)
	c.mu.Lock()
	if c.cleanupTimer != nil {
		c.cleanupTimer.Stop()
	}
	var parts []int32
	for p := range c.partitions {
		parts = append(parts, p)
	}
	c.mu.Unlock()
	for _, p := range parts {
		c.unload(p)
	}
	c.wg.Wait()
}

// NumOffsetsPartitions is the partition count of __consumer_offsets: the
// topic's, once the metadata cache knows it, else offsets.topic.num.partitions.
func (c *Coordinator) NumOffsetsPartitions() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.numPartitionsLocked()
}

func (c *Coordinator) numPartitionsLocked() int32 {
	if c.numPartitions > 0 {
		return c.numPartitions
	}
	if c.md != nil {
		if t, ok := c.md.Snapshot().Topic(OffsetsTopic); ok && t.NumPartitions() > 0 {
			c.numPartitions = t.NumPartitions()
			return c.numPartitions
		}
	}
	return c.cfg.OffsetsTopicNumPartitions
}

// PartitionFor is the __consumer_offsets partition of groupID.
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return PartitionFor(groupID, c.NumOffsetsPartitions())
}

// api names the request for validateGroupStatus's group id rule.
type api int

const (
	apiJoin api = iota
	apiSync
	apiHeartbeat
	apiLeave
	apiOffsetCommit
	apiOffsetFetch
	apiDescribe
	apiDelete
	apiOffsetDelete
)

// lookupGroup is validateGroupStatus plus the group lookup, atomically
// against loads and unloads: INVALID_GROUP_ID (an empty id, except for the
// offset, describe and delete APIs), COORDINATOR_NOT_AVAILABLE (not
// active), COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR. With create, a
// missing group is created Empty. The group may be nil without an error.
func (c *Coordinator) lookupGroup(groupID string, a api, create bool) (*groupMeta, *kerr.Error) {
	if groupID == "" && a != apiOffsetCommit && a != apiOffsetFetch && a != apiDescribe && a != apiDelete {
		return nil, errInvalidGroupID
	}
	if !c.active.Load() {
		return nil, errCoordinatorNotAvailable
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := PartitionFor(groupID, c.numPartitionsLocked())
	op, ok := c.partitions[p]
	switch {
	case !ok:
		return nil, errNotCoordinator
	case op.loading:
		return nil, errLoadInProgress
	}
	g := c.groups[groupID]
	if g == nil && create {
		g = newGroupMeta(groupID, p, c.clock.Now())
		c.groups[groupID] = g
	}
	return g, nil
}

// removeGroup forgets g if it is still the cached group for its id.
func (c *Coordinator) removeGroup(g *groupMeta) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
		return true
	}
	return false
}

// generateMemberID is GroupMetadata.generateMemberId: the client id (or the
// group instance id) plus a random UUID.
func generateMemberID(clientID, instanceID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if instanceID != "" {
		return instanceID + "-" + id
	}
	return clientID + "-" + id
}

// OnBecomeLeader implements replica.LeadershipListener: leading a
// __consumer_offsets partition starts loading its groups and offsets
// (GroupCoordinator.onElection). A re-election at a newer epoch of a loaded
// partition keeps the loaded state.
func (c *Coordinator) OnBecomeLeader(topic string, partition, leaderEpoch int32) {
	if topic != OffsetsTopic || !c.active.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if op, ok := c.partitions[partition]; ok {
		if leaderEpoch <= op.epoch {
			return
		}
		if !op.loading {
			op.epoch = leaderEpoch
			return
		}
		close(op.cancel)
	}
	op := &offsetsPartition{epoch: leaderEpoch, loading: true, cancel: make(chan struct{})}
	c.partitions[partition] = op
	c.log.WithFields(logrus.Fields{"partition": partition, "leader_epoch": leaderEpoch}).Info("scheduling load of group metadata and offsets")
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.load(partition, op)
	}()
}

// OnBecomeFollower implements replica.LeadershipListener: the groups of a
// partition this broker no longer leads are unloaded
// (GroupCoordinator.onResignation).
func (c *Coordinator) OnBecomeFollower(topic string, partition, leaderEpoch int32) {
	if topic != OffsetsTopic {
		return
	}
	c.unload(partition)
}

// unload drops the partition's groups: waiting joins and syncs get
// NOT_COORDINATOR and every timer stops (GroupMetadataManager.removeGroupsForPartition,
// GroupCoordinator.onGroupUnloaded).
func (c *Coordinator) unload(partition int32) {
	c.mu.Lock()
	op, ok := c.partitions[partition]
	if ok {
		delete(c.partitions, partition)
		if op.loading {
			close(op.cancel)
		}
	}
	var gs []*groupMeta
	for id, g := range c.groups {
		if g.partition == partition {
			gs = append(gs, g)
			delete(c.groups, id)
		}
	}
	c.mu.Unlock()
	if !ok && len(gs) == 0 {
		return
	}
	for _, g := range gs {
		g.mu.Lock()
		c.onGroupUnloadedLocked(g)
		g.mu.Unlock()
	}
	c.log.WithFields(logrus.Fields{"partition": partition, "groups": len(gs)}).Info("unloaded group metadata and offsets")
}

func (c *Coordinator) onGroupUnloadedLocked(g *groupMeta) {
	prev := g.state
	g.transitionTo(Dead, c.clock.Now())
	switch prev {
	case PreparingRebalance:
		for _, m := range g.allMembers() {
			g.maybeInvokeJoin(m, JoinResult{MemberID: m.id, Generation: -1, Err: errNotCoordinator})
		}
	case Stable, CompletingRebalance:
		for _, m := range g.allMembers() {
			g.maybeInvokeSync(m, SyncResult{Err: errNotCoordinator})
		}
	}
	c.stopTimersLocked(g)
}

// stopTimersLocked stops every timer of g (a Dead group).
func (c *Coordinator) stopTimersLocked(g *groupMeta) {
	if g.join != nil {
		g.join.timer.Stop()
		g.join = nil
	}
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	for _, m := range g.members {
		if m.hbTimer != nil {
			m.hbTimer.Stop()
			m.hbTimer = nil
		}
		m.hbSeq++
	}
	for id := range g.pending {
		g.removePending(id)
	}
}

func (c *Coordinator) groupLog(g *groupMeta) *logrus.Entry {
	return c.log.WithFields(logrus.Fields{"group": g.id, "generation": g.generation})
}

func (c *Coordinator) nowMs() int64 { return c.clock.Now().UnixMilli() }

// offsetsTopicRetry is the least time between two attempts to create
// __consumer_offsets, so that a cluster with too few brokers is not asked
// (and does not log) on every FindCoordinator.
const offsetsTopicRetry = time.Second

// TryCreateOffsetsTopic runs create (which creates __consumer_offsets
// through the controller's admin path and reports whether it did) unless an
// attempt is under way or was made less than a second ago. The outcome is
// logged here: creation at info, a failure (too few live brokers for
// offsets.topic.replication.factor) at warn.
func (c *Coordinator) TryCreateOffsetsTopic(create func() (bool, error)) {
	c.createMu.Lock()
	if c.creating || time.Since(c.lastCreate) < offsetsTopicRetry {
		c.createMu.Unlock()
		return
	}
	c.creating, c.lastCreate = true, time.Now()
	c.createMu.Unlock()
	created, err := create()
	c.createMu.Lock()
	c.creating = false
	c.createMu.Unlock()
	fields := logrus.Fields{"topic": OffsetsTopic, "partitions": c.cfg.OffsetsTopicNumPartitions, "replication_factor": c.cfg.OffsetsTopicReplicationFactor}
	switch {
	case err != nil:
		c.log.WithError(err).WithFields(fields).Warn("cannot create the offsets topic yet; answering COORDINATOR_NOT_AVAILABLE")
	case created:
		c.log.WithFields(fields).Info("created the offsets topic")
	}
}
