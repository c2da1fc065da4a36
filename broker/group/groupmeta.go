package group

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's state (Kafka's GroupState).
type State int

// The states and their transitions (GroupMetadata.scala):
//
//	Empty → PreparingRebalance (a member joins) or Dead (expired, deleted)
//	PreparingRebalance → CompletingRebalance (join completes with members),
//	    Empty (with none), Dead
//	CompletingRebalance → Stable (leader's assignment stored),
//	    PreparingRebalance (member change), Dead
//	Stable → PreparingRebalance, Dead
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

// String returns Kafka's state name, as DescribeGroups and ListGroups show it.
func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return "Unknown"
}

// consumerProtocolType is ConsumerProtocol.PROTOCOL_TYPE.
const consumerProtocolType = "consumer"

// TopicPartition names one partition of a committed offset.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// offsetEntry is one committed offset (Kafka's OffsetAndMetadata plus the
// log offset of its record, CommitRecordMetadataAndOffset).
type offsetEntry struct {
	offset          int64
	leaderEpoch     int32 // -1: none
	metadata        string
	commitTimestamp int64 // ms
	expireTimestamp int64 // ms; -1: none (the normal case since Kafka 2.1)
	recordOffset    int64 // offset of the record in __consumer_offsets; -1: not yet appended
}

// joinOp is the pending delayed join of a PreparingRebalance group:
// Kafka's DelayedJoin, or InitialDelayedJoin for an empty group (which
// never completes early and may extend itself while new members arrive).
type joinOp struct {
	seq       uint64
	timer     Timer
	initial   bool
	delay     time.Duration // this op's delay (initial ops)
	remaining time.Duration // what is left of the rebalance timeout (initial ops)
}

// groupMeta is Kafka's GroupMetadata. Every field is guarded by mu.
type groupMeta struct {
	mu sync.Mutex

	id        string
	partition int32 // its __consumer_offsets partition

	state          State
	stateTimestamp int64 // ms of the last transition; -1: unknown (old records)
	protocolType   string
	generation     int32
	protocol       string
	leader         string

	members     map[string]*member
	order       []string // member ids in join order (the leader falls to the next)
	pending     map[string]Timer
	pendingSync map[string]bool
	static      map[string]string // group.instance.id → member id
	numAwaiting int
	supported   map[string]int // protocol → members supporting it

	newMemberAdded  bool
	subscribed      map[string]bool
	subscribedKnown bool

	join      *joinOp
	joinSeq   uint64
	syncTimer Timer
	syncSeq   uint64

	offsets        map[TopicPartition]*offsetEntry
	pendingCommits map[TopicPartition]int
}

func newGroupMeta(id string, partition int32, now time.Time) *groupMeta {
	return &groupMeta{
		id:             id,
		partition:      partition,
		state:          Empty,
		stateTimestamp: now.UnixMilli(),
		members:        map[string]*member{},
		pending:        map[string]Timer{},
		pendingSync:    map[string]bool{},
		static:         map[string]string{},
		supported:      map[string]int{},
		offsets:        map[TopicPartition]*offsetEntry{},
		pendingCommits: map[TopicPartition]int{},
	}
}

func (g *groupMeta) transitionTo(s State, now time.Time) {
	g.state = s
	g.stateTimestamp = now.UnixMilli()
}

func (g *groupMeta) has(id string) bool       { _, ok := g.members[id]; return ok }
func (g *groupMeta) isPending(id string) bool { _, ok := g.pending[id]; return ok }
func (g *groupMeta) isLeader(id string) bool  { return g.leader != "" && g.leader == id }
func (g *groupMeta) canRebalance() bool {
	return g.state == Stable || g.state == CompletingRebalance || g.state == Empty
}
func (g *groupMeta) hasAllMembersJoined() bool {
	return len(g.members) == g.numAwaiting && len(g.pending) == 0
}

// allMembers returns the members in join order.
func (g *groupMeta) allMembers() []*member {
	out := make([]*member, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.members[id])
	}
	return out
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *groupMeta) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// add is GroupMetadata.add: the first member fixes the protocol type and
// becomes the leader.
func (g *groupMeta) add(m *member, joinCh chan JoinResult) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if g.leader == "" {
		g.leader = m.id
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	m.joinCh = joinCh
	if joinCh != nil {
		g.numAwaiting++
	}
	g.removePending(m.id)
	if m.isStatic() {
		g.static[m.instanceID] = m.id
	}
}

// remove is GroupMetadata.remove; it also stops the member's heartbeat timer.
func (g *groupMeta) remove(id string) {
	if m, ok := g.members[id]; ok {
		delete(g.members, id)
		g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
		for _, p := range m.protocols {
			g.supported[p.Name]--
		}
		if m.isAwaitingJoin() {
			g.numAwaiting--
		}
		if m.isStatic() && g.static[m.instanceID] == id {
			delete(g.static, m.instanceID)
		}
		if m.hbTimer != nil {
			m.hbTimer.Stop()
			m.hbTimer = nil
		}
		m.hbSeq++
	}
	if g.isLeader(id) {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
	g.removePending(id)
	delete(g.pendingSync, id)
}

func (g *groupMeta) removePending(id string) {
	if t, ok := g.pending[id]; ok {
		if t != nil {
			t.Stop()
		}
		delete(g.pending, id)
	}
}

// updateMember replaces a member's protocols and timeouts and sets (or
// clears, with nil) its waiting JoinGroup.
func (g *groupMeta) updateMember(m *member, protocols []Protocol, rebalanceTimeout, sessionTimeout time.Duration, joinCh chan JoinResult) {
	for _, p := range m.protocols {
		g.supported[p.Name]--
	}
	for _, p := range protocols {
		g.supported[p.Name]++
	}
	m.protocols = protocols
	m.rebalanceTimeout, m.sessionTimeout = rebalanceTimeout, sessionTimeout
	if joinCh != nil && !m.isAwaitingJoin() {
		g.numAwaiting++
	} else if joinCh == nil && m.isAwaitingJoin() {
		g.numAwaiting--
	}
	m.joinCh = joinCh
}

// maybeInvokeJoin answers the member's waiting JoinGroup, if any.
func (g *groupMeta) maybeInvokeJoin(m *member, r JoinResult) {
	if m.joinCh != nil {
		m.joinCh <- r
		m.joinCh = nil
		g.numAwaiting--
	}
}

// maybeInvokeSync answers the member's waiting SyncGroup, if any.
func (g *groupMeta) maybeInvokeSync(m *member, r SyncResult) {
	if m.syncCh != nil {
		m.syncCh <- r
		m.syncCh = nil
	}
}

// replaceStaticMember gives a static member a new member id (a restart of
// the same group.instance.id); a JoinGroup or SyncGroup still waiting under
// the old id is fenced.
func (g *groupMeta) replaceStaticMember(instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	delete(g.members, oldID)
	g.maybeInvokeJoin(m, JoinResult{MemberID: oldID, Generation: -1, Err: errFencedInstanceID})
	g.maybeInvokeSync(m, SyncResult{Err: errFencedInstanceID})
	m.id = newID
	g.members[newID] = m
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	if g.isLeader(oldID) {
		g.leader = newID
	}
	g.static[instanceID] = newID
	return m
}

// supportsProtocols is GroupMetadata.supportsProtocols: an empty group
// accepts any non-empty protocol type and list; otherwise the type must
// match and one protocol must be supported by every member.
func (g *groupMeta) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == Empty {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol is GroupMetadata.selectProtocol: among the protocols every
// member supports, each member votes for its most preferred one and the
// most votes win (ties go to the earlier member's preference).
func (g *groupMeta) selectProtocol() string {
	candidates := map[string]bool{}
	for name, n := range g.supported {
		if n == len(g.members) && n > 0 {
			candidates[name] = true
		}
	}
	votes := map[string]int{}
	var order []string
	for _, m := range g.allMembers() {
		v := m.vote(candidates)
		if _, seen := votes[v]; !seen {
			order = append(order, v)
		}
		votes[v]++
	}
	best := ""
	for _, v := range order {
		if best == "" || votes[v] > votes[best] {
			best = v
		}
	}
	return best
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else picks any
// member that did; false when none did.
func (g *groupMeta) maybeElectNewJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l, ok := g.members[g.leader]; ok && l.isAwaitingJoin() {
		return true
	}
	for _, m := range g.allMembers() {
		if m.isAwaitingJoin() {
			g.leader = m.id
			return true
		}
	}
	return false
}

// initNextGeneration bumps the generation and moves to CompletingRebalance,
// or to Empty when no member is left.
func (g *groupMeta) initNextGeneration(now time.Time) {
	g.generation++
	if len(g.members) > 0 {
		g.protocol = g.selectProtocol()
		g.computeSubscribedTopics()
		g.transitionTo(CompletingRebalance, now)
	} else {
		g.protocol = ""
		g.computeSubscribedTopics()
		g.transitionTo(Empty, now)
	}
	g.pendingSync = map[string]bool{}
}

// computeSubscribedTopics decodes the consumers' subscriptions (unknown for
// other protocol types or undecodable metadata), used by offset expiration
// and OffsetDelete.
func (g *groupMeta) computeSubscribedTopics() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != consumerProtocolType {
		return
	}
	if len(g.members) == 0 {
		g.subscribed, g.subscribedKnown = map[string]bool{}, true
		return
	}
	if g.protocol == "" {
		return
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadata(g.protocol)); err != nil {
			return
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

// isSubscribedToTopic is true when unknown.
func (g *groupMeta) isSubscribedToTopic(topic string) bool {
	if !g.subscribedKnown {
		return true
	}
	return g.subscribed[topic]
}

// currentMemberMetadata is what the leader gets in its JoinGroup response.
func (g *groupMeta) currentMemberMetadata() []JoinMember {
	out := make([]JoinMember, 0, len(g.members))
	for _, m := range g.allMembers() {
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instancePtr(), Metadata: m.metadata(g.protocol)})
	}
	return out
}

func (g *groupMeta) protocolTypePtr() *string { return strPtr(g.protocolType) }
func (g *groupMeta) protocolPtr() *string     { return strPtr(g.protocol) }
