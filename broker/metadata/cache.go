package metadata

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaderDuringDelete is the leader id the controller sends in UpdateMetadata
// for a partition whose topic is being deleted; the partition is removed from
// the cache (Kafka's LeaderAndIsr.LeaderDuringDelete).
const LeaderDuringDelete = -2

// NoLeader is the leader id of a partition without a live leader.
const NoLeader = -1

// Endpoint is one listener of a live broker, as registered in
// /brokers/ids/<id> and relayed by UpdateMetadata.
type Endpoint struct {
	Listener         string
	Host             string
	Port             int32
	SecurityProtocol int16
}

// Broker is one live (or shutting-down) broker.
type Broker struct {
	ID        int32
	Endpoints []Endpoint
	Rack      *string
}

// Endpoint returns b's endpoint for the listener name.
func (b *Broker) Endpoint(listener string) (Endpoint, bool) {
	for _, e := range b.Endpoints {
		if e.Listener == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// PartitionState is the controller's decision for one partition, as carried
// by UpdateMetadata. Slices are shared by snapshots and must not be modified.
type PartitionState struct {
	Partition       int32
	ControllerEpoch int32
	Leader          int32
	LeaderEpoch     int32
	Replicas        []int32
	ISR             []int32
	OfflineReplicas []int32
	ZkVersion       int32 // the partition epoch
}

// Topic is one topic in a snapshot. It is immutable once published.
type Topic struct {
	Name       string
	ID         [16]byte // zero when the controller sent none (UpdateMetadata < v7)
	Partitions map[int32]*PartitionState
}

// NumPartitions returns the number of partitions known for t.
func (t *Topic) NumPartitions() int32 { return int32(len(t.Partitions)) }

// SortedPartitions returns t's partitions by index.
func (t *Topic) SortedPartitions() []*PartitionState {
	out := make([]*PartitionState, 0, len(t.Partitions))
	for _, p := range t.Partitions {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Snapshot is an immutable view of the cluster. Obtain it with Cache.Snapshot;
// it is never modified after it is published.
type Snapshot struct {
	// ControllerID is the id of the active controller, -1 when unknown.
	ControllerID int32
	// Brokers holds the live brokers by id.
	Brokers map[int32]*Broker
	// Topics holds the topics by name.
	Topics   map[string]*Topic
	topicIDs map[[16]byte]string
}

// Broker returns the live broker id.
func (s *Snapshot) Broker(id int32) (*Broker, bool) {
	b, ok := s.Brokers[id]
	return b, ok
}

// SortedBrokers returns the live brokers by id.
func (s *Snapshot) SortedBrokers() []*Broker {
	out := make([]*Broker, 0, len(s.Brokers))
	for _, b := range s.Brokers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Endpoint returns the endpoint of broker id on the listener name.
func (s *Snapshot) Endpoint(id int32, listener string) (Endpoint, bool) {
	b, ok := s.Brokers[id]
	if !ok {
		return Endpoint{}, false
	}
	return b.Endpoint(listener)
}

// Topic returns the topic by name.
func (s *Snapshot) Topic(name string) (*Topic, bool) {
	t, ok := s.Topics[name]
	return t, ok
}

// TopicByID returns the topic with the given topic id.
func (s *Snapshot) TopicByID(id [16]byte) (*Topic, bool) {
	name, ok := s.topicIDs[id]
	if !ok {
		return nil, false
	}
	return s.Topic(name)
}

// Partition returns the state of topic-partition.
func (s *Snapshot) Partition(topic string, partition int32) (*PartitionState, bool) {
	t, ok := s.Topics[topic]
	if !ok {
		return nil, false
	}
	p, ok := t.Partitions[partition]
	return p, ok
}

// Leader returns the leader and leader epoch of topic-partition; ok is false
// when the partition is unknown. The leader may be NoLeader or a broker that
// is not live.
func (s *Snapshot) Leader(topic string, partition int32) (leader, leaderEpoch int32, ok bool) {
	p, ok := s.Partition(topic, partition)
	if !ok {
		return NoLeader, -1, false
	}
	return p.Leader, p.LeaderEpoch, true
}

// HasLiveLeaders reports whether topic exists with numPartitions partitions
// (any number when numPartitions <= 0) and every one of them has a live
// leader. CreateTopics waits for it.
func (s *Snapshot) HasLiveLeaders(topic string, numPartitions int32) bool {
	t, ok := s.Topics[topic]
	if !ok || len(t.Partitions) == 0 || (numPartitions > 0 && int32(len(t.Partitions)) < numPartitions) {
		return false
	}
	for _, p := range t.Partitions {
		if _, live := s.Brokers[p.Leader]; !live {
			return false
		}
	}
	return true
}

// Cache is the broker's metadata cache. It is safe for concurrent use:
// readers load the current snapshot, Update replaces it.
type Cache struct {
	snap atomic.Pointer[Snapshot]

	mu      sync.Mutex    // serialises Update; guards changed
	changed chan struct{} // closed and replaced by every Update
}

// New returns an empty cache: no brokers, no topics, controller -1.
func New() *Cache {
	c := &Cache{changed: make(chan struct{})}
	c.snap.Store(&Snapshot{
		ControllerID: -1,
		Brokers:      map[int32]*Broker{},
		Topics:       map[string]*Topic{},
		topicIDs:     map[[16]byte]string{},
	})
	return c
}

// Snapshot returns the current immutable view.
func (c *Cache) Snapshot() *Snapshot { return c.snap.Load() }

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Update applies an UpdateMetadata request as Kafka's
// ZkMetadataCache.updateMetadata does: the live brokers and the controller id
// are replaced; partition states are merged (a state with leader -2 removes
// the partition, and a topic without partitions is removed); topic ids are
// recorded (v7+). It returns the partitions deleted by this update. The
// caller has checked the controller and broker epochs.
func (c *Cache) Update(req *kmsg.UpdateMetadataRequest) (deleted []TopicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := &Snapshot{
		ControllerID: req.ControllerID,
		Brokers:      make(map[int32]*Broker, len(req.LiveBrokers)),
		Topics:       make(map[string]*Topic, len(old.Topics)),
		topicIDs:     make(map[[16]byte]string, len(old.topicIDs)),
	}
	for _, lb := range req.LiveBrokers {
		b := &Broker{ID: lb.ID, Rack: lb.Rack}
		if req.Version == 0 {
			b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", Host: lb.Host, Port: lb.Port}}
		}
		for _, e := range lb.Endpoints {
			name := e.ListenerName
			if req.Version < 3 {
				// Before v3 the listener name is the security protocol's name.
				name = securityProtocolName(e.SecurityProtocol)
			}
			b.Endpoints = append(b.Endpoints, Endpoint{Listener: name, Host: e.Host, Port: e.Port, SecurityProtocol: e.SecurityProtocol})
		}
		next.Brokers[b.ID] = b
	}
	// Copy-on-write: topics not touched by this request are shared with the
	// old snapshot.
	for name, t := range old.Topics {
		next.Topics[name] = t
	}

	type topicUpdate struct {
		id     [16]byte
		states []kmsg.UpdateMetadataRequestTopicPartition
	}
	var order []string
	updates := map[string]*topicUpdate{}
	add := func(topic string, id [16]byte, ps kmsg.UpdateMetadataRequestTopicPartition) {
		u, ok := updates[topic]
		if !ok {
			u = &topicUpdate{}
			updates[topic] = u
			order = append(order, topic)
		}
		if id != ([16]byte{}) {
			u.id = id
		}
		u.states = append(u.states, ps)
	}
	for _, ps := range req.PartitionStates { // v0–v4
		add(ps.Topic, [16]byte{}, ps)
	}
	for _, ts := range req.TopicStates { // v5+
		for _, ps := range ts.PartitionStates {
			add(ts.Topic, ts.TopicID, ps)
		}
	}
	for _, name := range order {
		u := updates[name]
		prev := next.Topics[name]
		t := &Topic{Name: name, Partitions: map[int32]*PartitionState{}}
		if prev != nil {
			t.ID = prev.ID
			for k, v := range prev.Partitions {
				t.Partitions[k] = v
			}
		}
		if u.id != ([16]byte{}) {
			t.ID = u.id
		}
		for _, ps := range u.states {
			if ps.Leader == LeaderDuringDelete {
				if _, ok := t.Partitions[ps.Partition]; ok {
					deleted = append(deleted, TopicPartition{name, ps.Partition})
				}
				delete(t.Partitions, ps.Partition)
				continue
			}
			t.Partitions[ps.Partition] = &PartitionState{
				Partition:       ps.Partition,
				ControllerEpoch: ps.ControllerEpoch,
				Leader:          ps.Leader,
				LeaderEpoch:     ps.LeaderEpoch,
				Replicas:        slices.Clone(ps.Replicas),
				ISR:             slices.Clone(ps.ISR),
				OfflineReplicas: slices.Clone(ps.OfflineReplicas),
				ZkVersion:       ps.ZKVersion,
			}
		}
		if len(t.Partitions) == 0 {
			delete(next.Topics, name)
			continue
		}
		next.Topics[name] = t
	}
	for name, t := range next.Topics {
		if t.ID != ([16]byte{}) {
			next.topicIDs[t.ID] = name
		}
	}
	c.snap.Store(next)
	close(c.changed)
	c.changed = make(chan struct{})
	return deleted
}

// Changed returns a channel that is closed by the next Update.
func (c *Cache) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Wait blocks until cond holds for the current snapshot, re-evaluating it
// after every Update, or until ctx is done (then it returns ctx.Err()).
func (c *Cache) Wait(ctx context.Context, cond func(*Snapshot) bool) error {
	for {
		ch := c.Changed()
		if cond(c.Snapshot()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// securityProtocolName maps Kafka's SecurityProtocol ids to the names that
// served as listener names before UpdateMetadata v3.
func securityProtocolName(id int16) string {
	switch id {
	case 0:
		return "PLAINTEXT"
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return ""
}
