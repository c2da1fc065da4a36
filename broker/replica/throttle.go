package replica

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Replication throttles, Kafka's ReplicationQuotaManager (KIP-73), used by
// reassignments to bound the bandwidth that moving replicas take:
//
//   - leader.replication.throttled.rate / follower.replication.throttled.rate
//     (bytes/s; dynamic broker configs, /config/brokers/<id> over
//     /config/brokers/<default>; unset = unlimited) bound each direction on
//     this broker.
//   - leader.replication.throttled.replicas / follower.replication.throttled.replicas
//     (topic configs: "partition:broker,..." or "*") name the replicas the
//     rates apply to: an entry counts on this broker when its broker id is
//     ours (Kafka's parseThrottledPartitions).
//
// Leader side: a Fetch from a follower that is not in the ISR gets no
// records for a throttled partition while the leader quota is exceeded
// (ReplicaManager.shouldLeaderThrottle), and the bytes sent for throttled
// partitions are recorded. Follower side: a fetcher leaves a throttled,
// not caught-up partition out of its request while the follower quota is
// exceeded (ReplicaFetcherThread.shouldFollowerThrottle), and records the
// bytes it receives for throttled partitions.
//
// The rate is a token bucket (Kafka samples a rate over 11 one-second
// windows; a bucket of one second has the same long-run bound and is
// simpler): tokens accrue at the rate up to one second's worth, recorded
// bytes take them, and the quota is exceeded while the bucket is below
// zero. A single fetch may overdraw it; the next ones wait for the debt.

// Config keys (Kafka's DynamicConfig.Broker and LogConfig names).
const (
	LeaderThrottledRateKey       = "leader.replication.throttled.rate"
	FollowerThrottledRateKey     = "follower.replication.throttled.rate"
	LeaderThrottledReplicasKey   = "leader.replication.throttled.replicas"
	FollowerThrottledReplicasKey = "follower.replication.throttled.replicas"
)

// Unthrottled is the default rate (Kafka's Long.MaxValue).
const Unthrottled = math.MaxInt64

// throttleBucket is one direction's rate bound. Safe for concurrent use.
type throttleBucket struct {
	// rate is bytes/s (Unthrottled or <= 0: no bound). Atomic because the
	// fetch path asks limited() without taking mu; it changes under mu.
	rate   atomic.Int64
	mu     sync.Mutex
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newThrottleBucket() *throttleBucket {
	b := &throttleBucket{now: time.Now}
	b.rate.Store(Unthrottled)
	return b
}

func (b *throttleBucket) limited() bool { r := b.rate.Load(); return r > 0 && r < Unthrottled }

// setRate changes the bound; the bucket starts empty, so a new throttle is
// not preceded by a one-second burst.
func (b *throttleBucket) setRate(rate int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rate == b.rate.Load() {
		return
	}
	b.rate.Store(rate)
	b.tokens, b.last = 0, b.now()
}

// refillLocked adds the tokens accrued since the last call.
func (b *throttleBucket) refillLocked() {
	now := b.now()
	if !b.limited() {
		b.last = now
		return
	}
	rate := float64(b.rate.Load())
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*rate, rate)
	b.last = now
}

// exceeded is ReplicationQuotaManager.isQuotaExceeded.
func (b *throttleBucket) exceeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.limited() {
		return false
	}
	b.refillLocked()
	return b.tokens < 0
}

// record takes n bytes from the bucket (ReplicationQuotaManager.record).
func (b *throttleBucket) record(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.limited() {
		return
	}
	b.refillLocked()
	b.tokens -= float64(n)
}

// waitTime is how long until the bucket is no longer in debt.
func (b *throttleBucket) waitTime() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.limited() {
		return 0
	}
	b.refillLocked()
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / float64(b.rate.Load()) * float64(time.Second))
}

// throttledSet is the partitions of one topic a direction throttles here.
type throttledSet struct {
	all        bool
	partitions map[int32]bool
}

func (s throttledSet) has(p int32) bool { return s.all || s.partitions[p] }

// parseThrottledReplicas is Kafka's parseThrottledPartitions: "*" is every
// partition; otherwise the partitions of "partition:broker" entries naming
// broker. Malformed entries are skipped (the admin path validates them).
func parseThrottledReplicas(v string, broker int32) throttledSet {
	v = strings.TrimSpace(v)
	if v == "*" {
		return throttledSet{all: true}
	}
	s := throttledSet{partitions: map[int32]bool{}}
	for _, e := range strings.Split(v, ",") {
		ps, bs, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok {
			continue
		}
		p, err1 := strconv.ParseInt(strings.TrimSpace(ps), 10, 32)
		b, err2 := strconv.ParseInt(strings.TrimSpace(bs), 10, 32)
		if err1 == nil && err2 == nil && int32(b) == broker {
			s.partitions[int32(p)] = true
		}
	}
	return s
}

// ParseThrottleRate reads a rate config value; an absent or invalid value
// is Unthrottled.
func ParseThrottleRate(v string, ok bool) int64 {
	if !ok {
		return Unthrottled
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return Unthrottled
	}
	return n
}

// ThrottleRatesFromConfigs picks the two rates from the dynamic broker
// configs: this broker's entity, else the cluster default.
func ThrottleRatesFromConfigs(clusterDefault, perBroker map[string]string) (leader, follower int64) {
	get := func(k string) int64 {
		if v, ok := perBroker[k]; ok {
			return ParseThrottleRate(v, true)
		}
		v, ok := clusterDefault[k]
		return ParseThrottleRate(v, ok)
	}
	return get(LeaderThrottledRateKey), get(FollowerThrottledRateKey)
}

// replicationThrottles is the leader and follower quotas of a Manager and
// the throttled replicas of each topic, read from the topic's config on
// first use while a rate is set and forgotten when the config changes.
type replicationThrottles struct {
	brokerID int32
	leader   *throttleBucket
	follower *throttleBucket

	mu     sync.Mutex
	topics map[string][2]throttledSet // [leader, follower]
	load   func(topic string) map[string]string
}

func newReplicationThrottles(brokerID int32, load func(topic string) map[string]string) *replicationThrottles {
	return &replicationThrottles{brokerID: brokerID, leader: newThrottleBucket(), follower: newThrottleBucket(),
		topics: map[string][2]throttledSet{}, load: load}
}

// sets returns the topic's throttled partitions, loading them once.
func (t *replicationThrottles) sets(topic string) [2]throttledSet {
	t.mu.Lock()
	s, ok := t.topics[topic]
	t.mu.Unlock()
	if ok {
		return s
	}
	cfg := t.load(topic)
	s = [2]throttledSet{
		parseThrottledReplicas(cfg[LeaderThrottledReplicasKey], t.brokerID),
		parseThrottledReplicas(cfg[FollowerThrottledReplicasKey], t.brokerID),
	}
	t.mu.Lock()
	t.topics[topic] = s
	t.mu.Unlock()
	return s
}

// invalidate forgets the throttled replicas of topics (all when nil).
func (t *replicationThrottles) invalidate(topics map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if topics == nil {
		t.topics = map[string][2]throttledSet{}
		return
	}
	for topic := range topics {
		delete(t.topics, topic)
	}
}

// leaderThrottled reports whether a partition is under the leader quota
// (cheap when no leader rate is set).
func (t *replicationThrottles) leaderThrottled(topic string, partition int32) bool {
	return t.leader.limited() && t.sets(topic)[0].has(partition)
}

// followerThrottled reports whether a partition is under the follower
// quota.
func (t *replicationThrottles) followerThrottled(topic string, partition int32) bool {
	return t.follower.limited() && t.sets(topic)[1].has(partition)
}

// SetReplicationThrottleRates applies leader.replication.throttled.rate and
// follower.replication.throttled.rate (bytes/s; Unthrottled or <= 0 for
// none), as Kafka's BrokerConfigHandler updates its quota managers.
func (m *Manager) SetReplicationThrottleRates(leader, follower int64) {
	if leader <= 0 {
		leader = Unthrottled
	}
	if follower <= 0 {
		follower = Unthrottled
	}
	m.throttles().leader.setRate(leader)
	m.throttles().follower.setRate(follower)
}

// throttles returns the manager's replication quotas.
func (m *Manager) throttles() *replicationThrottles { return m.quotas }

// newManagerThrottles builds a Manager's quotas; the topic configs are read
// through Config.TopicConfig.
func newManagerThrottles(m *Manager) *replicationThrottles {
	return newReplicationThrottles(m.cfg.BrokerID, func(topic string) map[string]string {
		if m.cfg.TopicConfig == nil {
			return nil
		}
		cfg, err := m.cfg.TopicConfig(topic)
		if err != nil {
			m.log.WithError(err).WithField("topic", topic).Warn("read topic config for replication throttles")
			return nil
		}
		return cfg
	})
}

// leaderThrottleFetch reports whether a follower's fetch of p gets no
// records now: p is a throttled replica here, the follower is not in its
// ISR and the leader quota is exceeded (shouldLeaderThrottle).
func (m *Manager) leaderThrottleFetch(p *Partition, replicaID int32) bool {
	t := m.throttles()
	if replicaID < 0 || !t.leaderThrottled(p.Topic, p.Index) {
		return false
	}
	p.mu.RLock()
	inSync := slices.Contains(p.isr, replicaID)
	p.mu.RUnlock()
	return !inSync && t.leader.exceeded()
}

// recordLeaderThrottle records the bytes a follower fetch returns for
// throttled partitions (KafkaApis records them on the leader quota).
func (m *Manager) recordLeaderThrottle(params FetchParams, parts []FetchPartition, results []FetchResult) {
	t := m.throttles()
	if params.ReplicaID < 0 || !t.leader.limited() {
		return
	}
	var n int64
	for i := range results {
		if results[i].Err == nil && t.leaderThrottled(parts[i].Topic, parts[i].Partition) {
			n += results[i].RecordsSize()
		}
	}
	t.leader.record(n)
}

// followerThrottleFetch reports whether the fetcher leaves a partition out
// of its next request (shouldFollowerThrottle): throttled here, not caught
// up, and the follower quota exceeded. The wait is how long until the
// quota allows fetching again.
func (m *Manager) followerThrottleFetch(tp TopicPartition, caughtUp bool) (bool, time.Duration) {
	t := m.throttles()
	if caughtUp || !t.followerThrottled(tp.Topic, tp.Partition) || !t.follower.exceeded() {
		return false, 0
	}
	return true, max(t.follower.waitTime(), 10*time.Millisecond)
}

// recordFollowerThrottle records bytes fetched for a partition when it is
// throttled.
func (m *Manager) recordFollowerThrottle(tp TopicPartition, n int) {
	t := m.throttles()
	if n > 0 && t.followerThrottled(tp.Topic, tp.Partition) {
		t.follower.record(int64(n))
	}
}
