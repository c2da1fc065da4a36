package group

import (
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
)

// JoinRequest is a JoinGroup (any version; the handler fills the defaults
// of older versions).
type JoinRequest struct {
	GroupID          string
	MemberID         string // "" for a member joining for the first time
	InstanceID       string // group.instance.id (v5+); "" for a dynamic member
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID is KIP-394 (v4+ dynamic members): a first join
	// gets MEMBER_ID_REQUIRED and a member id to rejoin with.
	RequireKnownMemberID bool
	// SupportSkippingAssignment is v9+ (KIP-814).
	SupportSkippingAssignment bool
	Reason                    string
}

// JoinMember is one member as the leader sees it in its JoinGroup response.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult is a JoinGroup answer. Err nil is success.
type JoinResult struct {
	Err            *kerr.Error
	MemberID       string
	Generation     int32
	ProtocolType   *string
	Protocol       *string
	LeaderID       string
	SkipAssignment bool
	Members        []JoinMember
}

func joinError(memberID string, err *kerr.Error) JoinResult {
	return JoinResult{MemberID: memberID, Generation: -1, Err: err}
}

// JoinGroup is GroupCoordinator.handleJoinGroup. The state change happens
// before it returns; the answer arrives on the channel when the rebalance
// completes (or at once for errors and MEMBER_ID_REQUIRED). The channel has
// a buffer of one and receives exactly one result.
func (c *Coordinator) JoinGroup(req JoinRequest) <-chan JoinResult {
	ch := make(chan JoinResult, 1)
	fail := func(err *kerr.Error) <-chan JoinResult {
		ch <- joinError(req.MemberID, err)
		return ch
	}
	isUnknown := req.MemberID == ""
	g, err := c.lookupGroup(req.GroupID, apiJoin, isUnknown)
	switch {
	case err != nil:
		return fail(err)
	case req.SessionTimeout < c.cfg.GroupMinSessionTimeout || req.SessionTimeout > c.cfg.GroupMaxSessionTimeout:
		return fail(kerr.InvalidSessionTimeout)
	case g == nil:
		return fail(errUnknownMemberID)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !c.acceptJoiningMember(g, req.MemberID) {
		g.remove(req.MemberID)
		ch <- joinError("", kerr.GroupMaxSizeReached)
		return ch
	}
	if isUnknown {
		c.doNewMemberJoinLocked(g, req, ch)
	} else {
		c.doCurrentMemberJoinLocked(g, req, ch)
	}
	if g.state == PreparingRebalance {
		c.tryCompleteJoinLocked(g)
	}
	return ch
}

// acceptJoiningMember is GroupCoordinator.acceptJoiningMember (group.max.size).
func (c *Coordinator) acceptJoiningMember(g *groupMeta, memberID string) bool {
	switch g.state {
	case Empty, Dead:
		return true
	case PreparingRebalance:
		if m, ok := g.members[memberID]; ok && m.isAwaitingJoin() {
			return true
		}
		return g.numAwaiting < int(c.cfg.GroupMaxSize)
	default:
		return g.has(memberID) || len(g.members) < int(c.cfg.GroupMaxSize)
	}
}

func (c *Coordinator) doNewMemberJoinLocked(g *groupMeta, req JoinRequest, ch chan JoinResult) {
	if g.state == Dead {
		ch <- joinError(req.MemberID, errCoordinatorNotAvailable)
		return
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	}
	newID := generateMemberID(req.ClientID, req.InstanceID)
	if req.InstanceID != "" {
		if oldID, ok := g.static[req.InstanceID]; ok {
			c.groupLog(g).WithFields(logrus.Fields{"instance_id": req.InstanceID, "old_member_id": oldID, "member_id": newID, "state": g.state.String()}).Info("static member rejoins with an unknown member id; replacing the previous member id")
			c.updateStaticMemberAndRebalanceLocked(g, req, oldID, newID, ch)
			return
		}
		c.addMemberAndRebalanceLocked(g, req, newID, ch)
		return
	}
	if req.RequireKnownMemberID {
		// KIP-394: the member must rejoin with this id; it is pending until
		// then and expires after the session timeout.
		g.pending[newID] = c.clock.AfterFunc(req.SessionTimeout, func() { c.onPendingMemberExpire(g, newID) })
		ch <- joinError(newID, kerr.MemberIDRequired)
		return
	}
	c.addMemberAndRebalanceLocked(g, req, newID, ch)
}

func (c *Coordinator) doCurrentMemberJoinLocked(g *groupMeta, req JoinRequest, ch chan JoinResult) {
	switch {
	case g.state == Dead:
		ch <- joinError(req.MemberID, errCoordinatorNotAvailable)
		return
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		ch <- joinError(req.MemberID, kerr.InconsistentGroupProtocol)
		return
	case g.isPending(req.MemberID):
		// The second join of KIP-394. Pending members are never static.
		c.addMemberAndRebalanceLocked(g, req, req.MemberID, ch)
		return
	}
	if req.InstanceID != "" {
		if cur, ok := g.static[req.InstanceID]; ok && cur != req.MemberID {
			ch <- joinError(req.MemberID, errFencedInstanceID)
			return
		} else if !ok {
			ch <- joinError(req.MemberID, errUnknownMemberID)
			return
		}
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		ch <- joinError(req.MemberID, errUnknownMemberID)
		return
	}
	switch g.state {
	case PreparingRebalance:
		c.updateMemberAndRebalanceLocked(g, m, req, ch, "member joining group during PreparingRebalance")
	case CompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost its JoinGroup response: answer it again.
			r := c.joinResultLocked(g, m.id)
			ch <- r
			return
		}
		c.updateMemberAndRebalanceLocked(g, m, req, ch, "member changed its metadata during CompletingRebalance")
	case Stable:
		switch {
		case g.isLeader(m.id):
			// A leader's rejoin forces a rebalance (e.g. a topic's
			// partitions changed, which does not change metadata).
			c.updateMemberAndRebalanceLocked(g, m, req, ch, "leader re-joining group during Stable")
		case !m.matches(req.Protocols):
			c.updateMemberAndRebalanceLocked(g, m, req, ch, "member changed its metadata during Stable")
		default:
			ch <- JoinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), LeaderID: g.leader}
		}
	default: // Empty
		c.groupLog(g).WithField("member_id", req.MemberID).Warn("rejoining member in unexpected group state")
		ch <- joinError(req.MemberID, errUnknownMemberID)
	}
}

// joinResultLocked is the JoinGroup answer of the current generation for
// memberID: the leader also gets every member's metadata.
func (c *Coordinator) joinResultLocked(g *groupMeta, memberID string) JoinResult {
	r := JoinResult{MemberID: memberID, Generation: g.generation, ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), LeaderID: g.leader}
	if g.isLeader(memberID) {
		r.Members = g.currentMemberMetadata()
	}
	return r
}

func (c *Coordinator) addMemberAndRebalanceLocked(g *groupMeta, req JoinRequest, memberID string, ch chan JoinResult) {
	m := &member{
		id: memberID, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		rebalanceTimeout: req.RebalanceTimeout, sessionTimeout: req.SessionTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols, isNew: true,
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.add(m, ch)
	// A new member cannot heartbeat before its first join completes; it
	// is expired by the new-member join timeout instead.
	c.scheduleHeartbeatLocked(g, m, newMemberJoinTimeout)
	c.maybePrepareRebalanceLocked(g, "adding new member "+memberID)
}

func (c *Coordinator) updateMemberAndRebalanceLocked(g *groupMeta, m *member, req JoinRequest, ch chan JoinResult, reason string) {
	g.updateMember(m, req.Protocols, req.RebalanceTimeout, req.SessionTimeout, ch)
	c.maybePrepareRebalanceLocked(g, reason)
}

// updateStaticMemberAndRebalanceLocked: a static member restarted (new
// member id, same instance id). In a Stable group whose protocol would not
// change, the new id is stored and the member resumes without a rebalance
// (KIP-345).
func (c *Coordinator) updateStaticMemberAndRebalanceLocked(g *groupMeta, req JoinRequest, oldID, newID string, ch chan JoinResult) {
	currentLeader := g.leader
	m := g.replaceStaticMember(req.InstanceID, oldID, newID)
	c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
	oldProtocols, oldRebalance, oldSession := m.protocols, m.rebalanceTimeout, m.sessionTimeout
	g.updateMember(m, req.Protocols, req.RebalanceTimeout, req.SessionTimeout, ch)

	switch g.state {
	case Stable:
		if g.protocol != g.selectProtocol() {
			c.maybePrepareRebalanceLocked(g, "static member "+newID+" joined with a change of protocol")
			return
		}
		assignment := map[string][]byte{}
		for _, gm := range g.members {
			assignment[gm.id] = gm.assignment
		}
		records := groupMetadataRecords(g, assignment, c.nowMs())
		gen := g.generation
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			err := c.storeGroup(g.partition, records)
			g.mu.Lock()
			defer g.mu.Unlock()
			if err != nil {
				c.groupLog(g).WithError(err).Warn("persist the new member id of a static member; reverting")
				if g.members[newID] == m && g.state != Dead {
					g.updateMember(m, oldProtocols, oldRebalance, oldSession, nil)
					old := g.replaceStaticMember(req.InstanceID, newID, oldID)
					c.scheduleHeartbeatLocked(g, old, old.sessionTimeout)
				}
				ch <- JoinResult{MemberID: "", Generation: gen, ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), LeaderID: currentLeader, Err: err}
				return
			}
			if req.SupportSkippingAssignment {
				// v9+: the leader learns it leads but skips the assignor.
				isLeader := g.isLeader(newID)
				r := JoinResult{MemberID: newID, Generation: g.generation, ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), LeaderID: g.leader, SkipAssignment: isLeader}
				if isLeader {
					r.Members = g.currentMemberMetadata()
				}
				g.maybeInvokeJoin(m, r)
				return
			}
			// Before v9 the old leader id is returned, so a restarted leader
			// does not run a useless assignment in a stable group.
			g.maybeInvokeJoin(m, JoinResult{MemberID: newID, Generation: g.generation, ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), LeaderID: currentLeader})
		}()
	case CompletingRebalance:
		// The old member id may already be in the leader's assignment:
		// rebalance again.
		c.prepareRebalanceLocked(g, "updating metadata for static member "+newID)
	case PreparingRebalance:
		// It is awaiting join now; the rebalance completes as usual.
	}
}

func (c *Coordinator) maybePrepareRebalanceLocked(g *groupMeta, reason string) {
	if g.canRebalance() {
		c.prepareRebalanceLocked(g, reason)
	}
}

// prepareRebalanceLocked is GroupCoordinator.prepareRebalance: members
// waiting in SyncGroup are told REBALANCE_IN_PROGRESS, and a delayed join is
// scheduled (the initial delayed join for an empty group).
func (c *Coordinator) prepareRebalanceLocked(g *groupMeta, reason string) {
	if g.state == CompletingRebalance {
		c.resetAndPropagateAssignmentErrorLocked(g, errRebalanceInProgress)
	}
	c.stopSyncTimerLocked(g)
	wasEmpty := g.state == Empty
	g.transitionTo(PreparingRebalance, c.clock.Now())
	c.groupLog(g).WithFields(logrus.Fields{"reason": reason, "members": len(g.members)}).Info("preparing to rebalance group")
	if wasEmpty {
		delay := c.cfg.GroupInitialRebalanceDelay
		c.startJoinOpLocked(g, true, delay, max(g.rebalanceTimeout()-delay, 0))
		return
	}
	c.startJoinOpLocked(g, false, g.rebalanceTimeout(), 0)
	c.tryCompleteJoinLocked(g)
}

func (c *Coordinator) startJoinOpLocked(g *groupMeta, initial bool, delay, remaining time.Duration) {
	if g.join != nil {
		g.join.timer.Stop()
	}
	g.joinSeq++
	seq := g.joinSeq
	op := &joinOp{seq: seq, initial: initial, delay: delay, remaining: remaining}
	g.join = op
	op.timer = c.clock.AfterFunc(delay, func() { c.onJoinTimer(g, seq) })
}

// onJoinTimer: the delayed join expired (DelayedJoin.onExpiration /
// InitialDelayedJoin.onComplete).
func (c *Coordinator) onJoinTimer(g *groupMeta, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	op := g.join
	if op == nil || op.seq != seq {
		return
	}
	if op.initial && g.newMemberAdded && op.remaining > 0 {
		// More members arrived during the initial delay: wait again, up
		// to the rebalance timeout in total.
		g.newMemberAdded = false
		delay := min(c.cfg.GroupInitialRebalanceDelay, op.remaining)
		c.startJoinOpLocked(g, true, delay, max(op.remaining-delay, 0))
		return
	}
	c.completeJoinLocked(g)
}

// tryCompleteJoinLocked completes a (non-initial) delayed join once every
// member has rejoined and no member id is pending.
func (c *Coordinator) tryCompleteJoinLocked(g *groupMeta) {
	if g.state != PreparingRebalance || g.join == nil || g.join.initial {
		return
	}
	if g.hasAllMembersJoined() {
		c.completeJoinLocked(g)
	}
}

// completeJoinLocked is GroupCoordinator.onCompleteJoin.
func (c *Coordinator) completeJoinLocked(g *groupMeta) {
	if g.join != nil {
		g.join.timer.Stop()
		g.join = nil
	}
	for _, m := range g.allMembers() {
		if !m.isAwaitingJoin() && !m.isStatic() {
			c.groupLog(g).WithField("member_id", m.id).Info("removing dynamic member that did not rejoin")
			g.remove(m.id)
		}
	}
	if g.state == Dead {
		return
	}
	if !g.maybeElectNewJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait for
		// them until their sessions expire.
		c.groupLog(g).Error("could not complete rebalance because no members rejoined")
		c.startJoinOpLocked(g, false, g.rebalanceTimeout(), 0)
		c.tryCompleteJoinLocked(g)
		return
	}
	g.initNextGeneration(c.clock.Now())
	if g.state == Empty {
		c.groupLog(g).WithField("partition", g.partition).Info("group is now empty")
		records := groupMetadataRecords(g, nil, c.nowMs())
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.storeGroup(g.partition, records); err != nil {
				c.log.WithError(err).WithField("group", g.id).Warn("write empty group metadata")
			}
		}()
		return
	}
	c.groupLog(g).WithFields(logrus.Fields{"partition": g.partition, "members": len(g.members), "protocol": g.protocol, "leader": g.leader}).Info("stabilized group")
	for _, m := range g.allMembers() {
		g.maybeInvokeJoin(m, c.joinResultLocked(g, m.id))
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	c.schedulePendingSyncLocked(g)
}

// schedulePendingSyncLocked: members that do not send SyncGroup within the
// rebalance timeout are removed and the group rebalances again (KAFKA-13419's
// DelayedSync).
func (c *Coordinator) schedulePendingSyncLocked(g *groupMeta) {
	c.stopSyncTimerLocked(g)
	g.syncSeq++
	seq, gen := g.syncSeq, g.generation
	g.syncTimer = c.clock.AfterFunc(g.rebalanceTimeout(), func() { c.onPendingSyncExpire(g, seq, gen) })
}

func (c *Coordinator) stopSyncTimerLocked(g *groupMeta) {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncSeq++
}

func (c *Coordinator) onPendingSyncExpire(g *groupMeta, seq uint64, gen int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.syncSeq != seq || g.generation != gen {
		return
	}
	g.syncTimer = nil
	if (g.state != CompletingRebalance && g.state != Stable) || len(g.pendingSync) == 0 {
		return
	}
	var ids []string
	for id := range g.pendingSync {
		ids = append(ids, id)
	}
	for _, id := range ids {
		g.remove(id)
	}
	c.prepareRebalanceLocked(g, "removing members that did not send SyncGroup in time")
}

func (c *Coordinator) removePendingSyncMemberLocked(g *groupMeta, id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		c.stopSyncTimerLocked(g)
	}
}

// scheduleHeartbeatLocked is completeAndScheduleNextExpiration: the
// member's current heartbeat expectation is met, and the next one is due
// within timeout.
func (c *Coordinator) scheduleHeartbeatLocked(g *groupMeta, m *member, timeout time.Duration) {
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	m.heartbeatSatisfied = false
	m.hbSeq++
	seq := m.hbSeq
	m.hbTimer = c.clock.AfterFunc(timeout, func() { c.onHeartbeatExpire(g, m, seq) })
}

func (c *Coordinator) onHeartbeatExpire(g *groupMeta, m *member, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead || m.hbSeq != seq || g.members[m.id] != m {
		return
	}
	m.hbTimer = nil
	if m.hasSatisfiedHeartbeat() {
		return
	}
	c.groupLog(g).WithField("member_id", m.id).Info("member failed its session timeout; removing it from the group")
	c.removeMemberAndUpdateGroupLocked(g, m, "removing member "+m.id+" on heartbeat expiration")
}

func (c *Coordinator) onPendingMemberExpire(g *groupMeta, id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead || !g.isPending(id) {
		return
	}
	c.groupLog(g).WithField("member_id", id).Info("pending member removed after session timeout")
	c.removePendingMemberAndUpdateGroupLocked(g, id)
}

func (c *Coordinator) removePendingMemberAndUpdateGroupLocked(g *groupMeta, id string) {
	g.remove(id)
	if g.state == PreparingRebalance {
		c.tryCompleteJoinLocked(g)
	}
}

// removeMemberAndUpdateGroupLocked: a member left or expired. A JoinGroup it
// still waits in gets UNKNOWN_MEMBER_ID.
func (c *Coordinator) removeMemberAndUpdateGroupLocked(g *groupMeta, m *member, reason string) {
	g.maybeInvokeJoin(m, joinError("", errUnknownMemberID))
	g.remove(m.id)
	switch g.state {
	case Stable, CompletingRebalance:
		c.maybePrepareRebalanceLocked(g, reason)
	case PreparingRebalance:
		c.tryCompleteJoinLocked(g)
	}
}

func (c *Coordinator) resetAndPropagateAssignmentErrorLocked(g *groupMeta, err *kerr.Error) {
	for _, m := range g.members {
		m.assignment = nil
	}
	c.propagateAssignmentLocked(g, err)
}

func (c *Coordinator) propagateAssignmentLocked(g *groupMeta, err *kerr.Error) {
	for _, m := range g.allMembers() {
		r := SyncResult{Err: err}
		if err == nil {
			r = SyncResult{ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), Assignment: m.assignment}
		}
		if m.isAwaitingSync() {
			g.maybeInvokeSync(m, r)
			// Reset the session: an expiration while waiting for the
			// leader or the log was ignored and nothing is scheduled.
			c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
		}
	}
}

// validateCurrentMember is GroupCoordinator.validateCurrentMember: a static
// member's instance id must map to memberID (else FENCED_INSTANCE_ID, or
// UNKNOWN_MEMBER_ID when the instance is unknown) and the member must exist.
func validateCurrentMember(g *groupMeta, memberID, instanceID string) *kerr.Error {
	if instanceID != "" {
		cur, ok := g.static[instanceID]
		if !ok {
			return errUnknownMemberID
		}
		if cur != memberID {
			return errFencedInstanceID
		}
	}
	if !g.has(memberID) {
		return errUnknownMemberID
	}
	return nil
}

// SyncRequest is a SyncGroup.
type SyncRequest struct {
	GroupID      string
	Generation   int32
	MemberID     string
	InstanceID   string
	ProtocolType *string // v5+
	Protocol     *string // v5+
	// Assignments is the leader's assignment (empty from followers).
	Assignments map[string][]byte
}

// SyncResult is a SyncGroup answer.
type SyncResult struct {
	Err          *kerr.Error
	ProtocolType *string
	Protocol     *string
	Assignment   []byte
}

// SyncGroup is GroupCoordinator.handleSyncGroup. Followers wait for the
// leader's assignment; the leader's assignment is stored in the log first
// (acks=-1) and then every waiting member is answered.
func (c *Coordinator) SyncGroup(req SyncRequest) <-chan SyncResult {
	ch := make(chan SyncResult, 1)
	g, err := c.lookupGroup(req.GroupID, apiSync, false)
	switch {
	case err == errLoadInProgress:
		// The rebalance state is lost with the load; rejoin.
		ch <- SyncResult{Err: errRebalanceInProgress}
		return ch
	case err != nil:
		ch <- SyncResult{Err: err}
		return ch
	case g == nil:
		ch <- SyncResult{Err: errUnknownMemberID}
		return ch
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead {
		ch <- SyncResult{Err: errCoordinatorNotAvailable}
		return ch
	}
	if e := validateCurrentMember(g, req.MemberID, req.InstanceID); e != nil {
		ch <- SyncResult{Err: e}
		return ch
	}
	switch {
	case req.Generation != g.generation:
		ch <- SyncResult{Err: errIllegalGeneration}
		return ch
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		ch <- SyncResult{Err: kerr.InconsistentGroupProtocol}
		return ch
	}
	switch g.state {
	case Empty:
		ch <- SyncResult{Err: errUnknownMemberID}
	case PreparingRebalance:
		ch <- SyncResult{Err: errRebalanceInProgress}
	case CompletingRebalance:
		m := g.members[req.MemberID]
		m.syncCh = ch
		c.removePendingSyncMemberLocked(g, req.MemberID)
		if !g.isLeader(req.MemberID) {
			return ch
		}
		assignment := map[string][]byte{}
		var missing []string
		for _, gm := range g.allMembers() {
			a, ok := req.Assignments[gm.id]
			if !ok {
				missing = append(missing, gm.id)
			}
			assignment[gm.id] = a
		}
		c.groupLog(g).WithFields(logrus.Fields{"leader": req.MemberID, "members": len(g.members), "static_members": len(g.static)}).Info("assignment received from leader")
		if len(missing) > 0 {
			c.groupLog(g).WithField("members", missing).Warn("setting empty assignments for members the leader did not assign")
		}
		records := groupMetadataRecords(g, assignment, c.nowMs())
		gen := g.generation
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			err := c.storeGroup(g.partition, records)
			g.mu.Lock()
			defer g.mu.Unlock()
			// Another member may have joined meanwhile; then this
			// generation is over and nothing is done.
			if g.state != CompletingRebalance || g.generation != gen {
				return
			}
			if err != nil {
				c.groupLog(g).WithError(err).Warn("store group assignment")
				c.resetAndPropagateAssignmentErrorLocked(g, err)
				c.maybePrepareRebalanceLocked(g, "error storing the group assignment")
				return
			}
			for _, gm := range g.members {
				gm.assignment = assignment[gm.id]
			}
			c.propagateAssignmentLocked(g, nil)
			g.transitionTo(Stable, c.clock.Now())
		}()
	case Stable:
		c.removePendingSyncMemberLocked(g, req.MemberID)
		m := g.members[req.MemberID]
		ch <- SyncResult{ProtocolType: g.protocolTypePtr(), Protocol: g.protocolPtr(), Assignment: m.assignment}
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
	}
	return ch
}

// Heartbeat is GroupCoordinator.handleHeartbeat. While the coordinator is
// loading it answers success blindly, as Kafka does.
func (c *Coordinator) Heartbeat(groupID, memberID, instanceID string, generation int32) *kerr.Error {
	g, err := c.lookupGroup(groupID, apiHeartbeat, false)
	switch {
	case err == errLoadInProgress:
		return nil
	case err != nil:
		return err
	case g == nil:
		return errUnknownMemberID
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead {
		return errCoordinatorNotAvailable
	}
	if e := validateCurrentMember(g, memberID, instanceID); e != nil {
		return e
	}
	if generation != g.generation {
		return errIllegalGeneration
	}
	m := g.members[memberID]
	switch g.state {
	case Empty:
		return errUnknownMemberID
	case PreparingRebalance:
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
		return errRebalanceInProgress
	default: // CompletingRebalance, Stable
		c.scheduleHeartbeatLocked(g, m, m.sessionTimeout)
		return nil
	}
}

// LeaveMember is one member of a LeaveGroup (v3+ batches them; an empty
// MemberID with an InstanceID removes a static member administratively).
type LeaveMember struct {
	MemberID   string
	InstanceID string
	Reason     string
}

// LeaveGroup is GroupCoordinator.handleLeaveGroup: a group-level error, or
// one error per member (nil: removed).
func (c *Coordinator) LeaveGroup(groupID string, members []LeaveMember) (*kerr.Error, []*kerr.Error) {
	g, err := c.lookupGroup(groupID, apiLeave, false)
	if err != nil {
		return err, nil
	}
	errs := make([]*kerr.Error, len(members))
	if g == nil {
		for i := range errs {
			errs[i] = errUnknownMemberID
		}
		return nil, errs
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == Dead {
		return errCoordinatorNotAvailable, nil
	}
	for i, lm := range members {
		reason := lm.Reason
		if reason == "" {
			reason = "not provided"
		}
		switch {
		case lm.MemberID == "":
			id, ok := g.static[lm.InstanceID]
			if lm.InstanceID == "" || !ok {
				errs[i] = errUnknownMemberID
				continue
			}
			c.removeCurrentMemberLocked(g, id, reason)
		case g.isPending(lm.MemberID):
			c.removePendingMemberAndUpdateGroupLocked(g, lm.MemberID)
			c.groupLog(g).WithFields(logrus.Fields{"member_id": lm.MemberID, "reason": reason}).Info("pending member left the group")
		default:
			if e := validateCurrentMember(g, lm.MemberID, lm.InstanceID); e != nil {
				errs[i] = e
				continue
			}
			c.removeCurrentMemberLocked(g, lm.MemberID, reason)
		}
	}
	return nil, errs
}

func (c *Coordinator) removeCurrentMemberLocked(g *groupMeta, id, reason string) {
	m := g.members[id]
	c.removeMemberAndUpdateGroupLocked(g, m, "removing member "+id+" on LeaveGroup; client reason: "+reason)
	c.groupLog(g).WithFields(logrus.Fields{"member_id": id, "reason": reason}).Info("member left the group")
}
