package coordinator

import (
	"errors"
	"fmt"
	"slices"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/zkpaths"
)

// Partition reassignment (reference §2.10), Kafka's
// KafkaController.onPartitionReassignment and its helpers. Terms:
// RS = the replica set while reassigning, ORS = original, TRS = target,
// AR = adding = RS − ORS, RR = removing = RS − TRS.
//
// Phase U: the new RS/AR/RR go to the topic znode, then to memory; replicas
// of an earlier in-flight reassignment that are no longer wanted are
// stopped and deleted. Phase A (TRS ⊄ ISR): the leader epoch is bumped and
// LeaderAndIsr with RS goes to ORS and (isNew) to AR, so the new replicas
// start fetching. Phase B (TRS ⊆ ISR, checked again after every ISR change
// through AlterPartition): RS = TRS in memory, one state write moves the
// leader into TRS if needed and drops RR from the ISR (Kafka writes twice:
// the Reassign election, then OfflineReplica), LeaderAndIsr to TRS,
// StopReplica(delete) to RR, RS = TRS with empty AR/RR to the topic znode,
// and the partition leaves /admin/reassign_partitions.
//
// The topic znode is the only durable record of ORS (RS − AR), so it is
// written before memory and RS = TRS is written last: a new controller
// resumes from it (initializePartitionReassignments).
//
// A topic with a partition being reassigned is ineligible for deletion
// until the reassignment finishes (resumeDeletions skips it); a target
// broker that starts resumes the reassignments it is part of
// (onBrokerStartup); LeaderAndIsr carries AR and RR.

// replicaAssignment is Kafka's ReplicaAssignment: the replica set and the
// replicas an ongoing reassignment adds and removes.
type replicaAssignment struct {
	replicas, adding, removing []int32
}

// diff is xs without the members of ys, in xs's order (Scala's Seq.diff
// for lists without duplicates).
func diff(xs, ys []int32) []int32 {
	return filter(xs, func(r int32) bool { return !contains(ys, r) })
}

// distinct drops repeated ids, keeping the first.
func distinct(xs []int32) []int32 {
	out := []int32{}
	for _, x := range xs {
		if !contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func (a replicaAssignment) origin() []int32   { return diff(a.replicas, a.adding) }
func (a replicaAssignment) target() []int32   { return diff(a.replicas, a.removing) }
func (a replicaAssignment) reassigning() bool { return len(a.adding) > 0 || len(a.removing) > 0 }
func (a replicaAssignment) equal(b replicaAssignment) bool {
	return slices.Equal(a.replicas, b.replicas) && slices.Equal(a.adding, b.adding) && slices.Equal(a.removing, b.removing)
}

// reassignTo is ReplicaAssignment.reassignTo: RS = (TRS ++ ORS).distinct,
// so the target replicas come first and TRS's head is the preferred leader
// once the reassignment completes.
func (a replicaAssignment) reassignTo(target []int32) replicaAssignment {
	origin := a.origin()
	full := distinct(append(slices.Clone(target), origin...))
	return replicaAssignment{replicas: full, adding: diff(full, origin), removing: diff(full, target)}
}

// reassignLeader decides phase B's leader and ISR from the current state:
// the leader stays if it is in TRS and live, otherwise the first TRS
// replica that is live and in the ISR leads (ReassignPartitionLeaderElection);
// the ISR loses the removed replicas. ok is false when no TRS replica can
// lead.
func reassignLeader(target, removing, isr, live []int32, leader int32) (newLeader int32, newISR []int32, ok bool) {
	newLeader = -1
	if contains(target, leader) && contains(live, leader) {
		newLeader = leader
	} else {
		for _, r := range target {
			if contains(live, r) && contains(isr, r) {
				newLeader = r
				break
			}
		}
	}
	if newLeader < 0 {
		return -1, nil, false
	}
	newISR = filter(isr, func(r int32) bool { return !contains(removing, r) })
	if !contains(newISR, newLeader) {
		newISR = append(newISR, newLeader)
	}
	return newLeader, newISR, true
}

// validateReassignmentReplicas is KafkaController.validateReplicas: a
// non-empty list without duplicates or negative ids, whose added replicas
// are on live brokers (checkLive false skips that, for
// /admin/reassign_partitions where Kafka does not check).
func validateReassignmentReplicas(current replicaAssignment, replicas []int32, live []int32, checkLive bool) (int16, string) {
	switch {
	case len(replicas) == 0:
		return kerr.InvalidReplicaAssignment.Code, "Empty replica list specified in partition reassignment."
	case len(distinct(replicas)) != len(replicas):
		return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Duplicate replica ids in partition reassignment replica list: %v", replicas)
	case slices.ContainsFunc(replicas, func(r int32) bool { return r < 0 }):
		return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Invalid broker id in replica list: %v", replicas)
	}
	if checkLive {
		next := current.reassignTo(replicas)
		if slices.ContainsFunc(next.adding, func(r int32) bool { return !contains(live, r) }) {
			return kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Replica assignment has brokers that are not alive. Replica list: %v, live broker list: %v", next.adding, live)
		}
	}
	return 0, ""
}

// reassignState holds the partitions being reassigned for one controller
// context (ControllerContext.partitionsBeingReassigned with their full
// assignments). It is rebuilt with the context at every failover.
type reassignState struct {
	cc    *controllerContext
	parts map[tp]replicaAssignment
}

// ongoingReassignments returns the context's reassigning partitions.
// Owned by the event loop.
func (c *Controller) ongoingReassignments() map[tp]replicaAssignment {
	if c.reassign == nil || c.reassign.cc != c.cc {
		c.reassign = &reassignState{cc: c.cc, parts: map[tp]replicaAssignment{}}
	}
	return c.reassign.parts
}

// fullAssignment is ControllerContext.partitionFullReplicaAssignment.
func (c *Controller) fullAssignment(p tp) replicaAssignment {
	if ra, ok := c.ongoingReassignments()[p]; ok {
		return ra
	}
	pi := c.cc.partition(p)
	if pi == nil {
		return replicaAssignment{}
	}
	return replicaAssignment{replicas: slices.Clone(pi.replicas)}
}

// setAssignment records ra in memory (updatePartitionFullReplicaAssignment).
func (c *Controller) setAssignment(p tp, ra replicaAssignment) {
	if pi := c.cc.partition(p); pi != nil {
		pi.replicas = slices.Clone(ra.replicas)
	}
	if ra.reassigning() {
		c.ongoingReassignments()[p] = ra
	} else {
		delete(c.ongoingReassignments(), p)
	}
}

// writeTopicAssignment writes the topic znode from memory, with its
// partitions' AR/RR (setTopicAssignmentRaw under the epoch fence).
func (c *Controller) writeTopicAssignment(topic string) error {
	ti := c.cc.topics[topic]
	if ti == nil {
		return fmt.Errorf("write assignment of topic %s: not in the controller context", topic)
	}
	ta := zkpaths.TopicAssignment{TopicID: ti.id, Partitions: map[int32][]int32{},
		AddingReplicas: map[int32][]int32{}, RemovingReplicas: map[int32][]int32{}}
	ongoing := c.ongoingReassignments()
	for p, pi := range ti.partitions {
		ta.Partitions[p] = pi.replicas
		if ra, ok := ongoing[tp{topic, p}]; ok {
			if len(ra.adding) > 0 {
				ta.AddingReplicas[p] = ra.adding
			}
			if len(ra.removing) > 0 {
				ta.RemovingReplicas[p] = ra.removing
			}
		}
	}
	_, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.SetDataOp(zkpaths.TopicPath(topic), ta.Encode(), zkpaths.AnyVersion))
	if err != nil {
		return fmt.Errorf("write assignment of topic %s: %w", topic, err)
	}
	return nil
}

// onPartitionReassignment runs phase U, then phase A or B.
func (c *Controller) onPartitionReassignment(p tp, ra replicaAssignment) error {
	if err := c.updateCurrentReassignment(p, ra); err != nil {
		return err
	}
	complete, err := c.isReassignmentComplete(p, ra)
	if err != nil {
		return err
	}
	if !complete {
		return c.startReassignment(p, ra)
	}
	return c.completeReassignment(p, ra)
}

// updateCurrentReassignment is phase U.
func (c *Controller) updateCurrentReassignment(p tp, ra replicaAssignment) error {
	cur := c.fullAssignment(p)
	if cur.equal(ra) {
		return nil
	}
	c.setAssignment(p, ra)
	if err := c.writeTopicAssignment(p.topic); err != nil {
		return err
	}
	c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "replicas": ra.replicas,
		"adding": ra.adding, "removing": ra.removing}).Info("partition reassignment updated")
	// Replicas added by an earlier reassignment that this one drops.
	if unneeded := diff(cur.replicas, ra.replicas); len(unneeded) > 0 {
		return c.stopRemovedReplicas(p, unneeded)
	}
	return nil
}

// isReassignmentComplete re-reads the partition state: TRS ⊆ ISR.
func (c *Controller) isReassignmentComplete(p tp, ra replicaAssignment) (bool, error) {
	if !ra.reassigning() {
		return true, nil
	}
	st, stat, err := c.zk.GetPartitionState(p.topic, p.partition)
	if errors.Is(err, zk.ErrNoNode) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if pi := c.cc.partition(p); pi != nil {
		pi.leadership, pi.zkVersion = &st, stat.Version
	}
	for _, r := range ra.target() {
		if !contains(st.ISR, r) {
			return false, nil
		}
	}
	return true, nil
}

// startReassignment is phase A: bump the leader epoch (same leader and
// ISR) and send LeaderAndIsr with RS to ORS and, as new replicas, to AR.
func (c *Controller) startReassignment(p tp, ra replicaAssignment) error {
	pi := c.cc.partition(p)
	if pi == nil || pi.leadership == nil {
		return nil // no leadership yet: the partition's initialisation sends RS
	}
	wrote, err := c.updateState(p, func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
		next := cur
		next.LeaderEpoch++
		next.ISR = slices.Clone(cur.ISR)
		return next, true
	})
	if err != nil {
		return err
	}
	if !wrote {
		return nil
	}
	c.batch.addLeaderAndISR(c.cc.liveReplicas(ra.origin()), p, false)
	c.batch.addLeaderAndISR(c.cc.liveReplicas(ra.adding), p, true)
	c.sendBatch()
	c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "leader": pi.leadership.Leader,
		"leader_epoch": pi.leadership.LeaderEpoch, "adding": ra.adding}).Info("reassignment started; waiting for new replicas to join the ISR")
	return nil
}

// completeReassignment is phase B.
func (c *Controller) completeReassignment(p tp, ra replicaAssignment) error {
	pi := c.cc.partition(p)
	if pi == nil {
		delete(c.ongoingReassignments(), p)
		return nil
	}
	target := ra.target()
	l := c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "replicas": target})
	if pi.leadership != nil {
		live := c.cc.liveReplicas(target)
		elected := false
		wrote, err := c.updateState(p, func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
			leader, isr, ok := reassignLeader(target, ra.removing, cur.ISR, live, cur.Leader)
			if !ok {
				return cur, false
			}
			elected = true
			return zkpaths.PartitionState{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr,
				LeaderRecoveryState: cur.LeaderRecoveryState}, true
		})
		if err != nil {
			return err
		}
		if !elected {
			l.Warn("no target replica can lead yet; reassignment waits")
			return nil
		}
		if wrote {
			pi.phase = partitionOnline
		}
	}
	c.setAssignment(p, replicaAssignment{replicas: target})
	c.batch.addLeaderAndISR(c.cc.liveReplicas(target), p, false)
	for _, r := range ra.removing {
		c.batch.addStopReplica(r, p, true)
	}
	if err := c.writeTopicAssignment(p.topic); err != nil {
		return err
	}
	c.sendBatch()
	if err := c.removeFromZkReassignment(func(q tp, replicas []int32) bool { return q == p && slices.Equal(replicas, target) }); err != nil {
		return err
	}
	if st := pi.leadership; st != nil {
		l = l.WithFields(logrus.Fields{"leader": st.Leader, "leader_epoch": st.LeaderEpoch, "isr": st.ISR})
	}
	l.WithField("removed", ra.removing).Info("partition reassignment completed")
	if c.cc.deleting(p.topic) && !c.reassigningTopic(p.topic) {
		return c.resumeDeletions() // the deletion waited for the reassignment
	}
	return nil
}

// stopRemovedReplicas takes replicas out of a partition: out of the ISR
// (OfflineReplica; the ISR never empties), then StopReplica(delete=true)
// (ReplicaDeletionStarted). Kafka does not wait for the deletion either.
func (c *Controller) stopRemovedReplicas(p tp, removed []int32) error {
	pi := c.cc.partition(p)
	if pi == nil {
		return nil
	}
	if pi.leadership != nil {
		wrote, err := c.updateState(p, func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
			leader, isr, changed := removeReplicasFromISR(cur.Leader, cur.ISR, removed)
			return zkpaths.PartitionState{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr,
				LeaderRecoveryState: cur.LeaderRecoveryState}, changed
		})
		if err != nil {
			return err
		}
		if wrote {
			if pi.leadership.Leader < 0 {
				pi.phase = partitionOffline
			}
			c.batch.addLeaderAndISR(c.cc.liveReplicas(diff(pi.replicas, removed)), p, false)
		}
	}
	for _, r := range removed {
		c.batch.addStopReplica(r, p, true)
	}
	c.sendBatch()
	c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "removed": removed}).Info("stopped and deleting replicas removed by a reassignment")
	return nil
}

// removeFromZkReassignment is maybeRemoveFromZkReassignment: the entries of
// /admin/reassign_partitions matching drop are removed, and the znode is
// deleted when none remain.
func (c *Controller) removeFromZkReassignment(drop func(p tp, replicas []int32) bool) error {
	data, stat, err := c.zk.Get(zkpaths.ReassignPartitionsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	targets, err := zkpaths.DecodeReassignPartitions(data)
	if err != nil {
		c.log.WithError(err).Warn("deleting unreadable /admin/reassign_partitions")
		return c.deleteFenced(zkpaths.ReassignPartitionsPath)
	}
	kept := slices.DeleteFunc(slices.Clone(targets), func(t zkpaths.ReassignmentTarget) bool {
		return drop(tp{t.Topic, t.Partition}, t.Replicas)
	})
	if len(kept) == len(targets) {
		return nil
	}
	if len(kept) == 0 {
		c.log.Info("no more partitions to reassign; deleting /admin/reassign_partitions")
		return c.deleteFenced(zkpaths.ReassignPartitionsPath)
	}
	_, err = c.zk.EpochFenced(c.epochZkVersion, zkpaths.SetDataOp(zkpaths.ReassignPartitionsPath, zkpaths.EncodeReassignPartitions(kept), stat.Version))
	if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
		return c.removeFromZkReassignment(drop) // rewritten by a tool meanwhile: decide again
	}
	return err
}

// reassignError is the outcome of one partition's reassignment request.
type reassignError struct {
	code    int16
	message string
}

// triggerReassignments is maybeTriggerPartitionReassignment: topics that
// exist and are not being deleted start (or change) their reassignment.
// An error that moves the controller is returned; other failures are
// UNKNOWN_SERVER_ERROR for their partition.
func (c *Controller) triggerReassignments(ps []tp, ras map[tp]replicaAssignment, out map[tp]reassignError) error {
	for _, p := range ps {
		if c.cc.deleting(p.topic) || c.cc.partition(p) == nil {
			out[p] = reassignError{kerr.UnknownTopicOrPartition.Code, "The partition does not exist."}
			continue
		}
		if err := c.onPartitionReassignment(p, ras[p]); err != nil {
			if errors.Is(err, zkpaths.ErrControllerMoved) || isSessionLost(err) {
				return err
			}
			c.log.WithError(err).WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition}).Error("partition reassignment failed")
			out[p] = reassignError{kerr.UnknownServerError.Code, ""}
			continue
		}
		out[p] = reassignError{}
	}
	return nil
}

// maybeCompleteReassignments is called after ISR changes
// (processPartitionReassignmentIsrChange): reassigning partitions whose
// target replicas are all in the ISR now complete.
func (c *Controller) maybeCompleteReassignments(ps []tp) error {
	ongoing := c.ongoingReassignments()
	for _, p := range ps {
		ra, ok := ongoing[p]
		if !ok {
			continue
		}
		complete, err := c.isReassignmentComplete(p, ra)
		if err != nil {
			return err
		}
		if !complete {
			continue
		}
		c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "target": ra.target()}).Info("target replicas caught up; completing reassignment")
		if err := c.onPartitionReassignment(p, ra); err != nil {
			return err
		}
	}
	return nil
}

// processZkPartitionReassignment reads /admin/reassign_partitions and
// starts what it asks for; entries that cannot start are removed from it.
// It returns the partitions started.
func (c *Controller) processZkPartitionReassignment() (map[tp]bool, error) {
	data, _, err := c.zk.Get(zkpaths.ReassignPartitionsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	targets, err := zkpaths.DecodeReassignPartitions(data)
	if err != nil {
		c.log.WithError(err).Warn("ignoring unreadable /admin/reassign_partitions")
		return nil, c.deleteFenced(zkpaths.ReassignPartitionsPath)
	}
	results := map[tp]reassignError{}
	ras := map[tp]replicaAssignment{}
	var ps []tp
	for _, t := range targets {
		p := tp{t.Topic, t.Partition}
		if c.cc.partition(p) == nil {
			results[p] = reassignError{kerr.UnknownTopicOrPartition.Code, ""}
			continue
		}
		cur := c.fullAssignment(p)
		if code, msg := validateReassignmentReplicas(cur, t.Replicas, c.cc.liveIDs(), false); code != 0 {
			results[p] = reassignError{code, msg}
			continue
		}
		ras[p] = cur.reassignTo(t.Replicas)
		ps = append(ps, p)
	}
	sortTPs(ps)
	c.log.WithField("partitions", len(ps)).Info("reassignments requested through /admin/reassign_partitions")
	if err := c.triggerReassignments(ps, ras, results); err != nil {
		return nil, err
	}
	started := map[tp]bool{}
	failed := map[tp]bool{}
	for p, r := range results {
		if r.code == 0 {
			started[p] = true
		} else {
			failed[p] = true
			c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "error": kerr.ErrorForCode(r.code).Error(), "reason": r.message}).
				Warn("reassignment through /admin/reassign_partitions failed")
		}
	}
	if len(failed) > 0 {
		if err := c.removeFromZkReassignment(func(p tp, _ []int32) bool { return failed[p] }); err != nil {
			return nil, err
		}
	}
	return started, nil
}

// initializePartitionReassignments runs at failover after the context is
// built (onControllerFailover step 9; loadTopic has read AR/RR from every
// topic znode): it watches /admin/reassign_partitions, starts what the
// znode asks for, and resumes the other reassignments.
func (c *Controller) initializePartitionReassignments() error {
	w, err := c.zk.WatchExists(zkpaths.ReassignPartitionsPath, func(ev zkpaths.WatchEvent) {
		if ev.Type == zk.EventNodeCreated || ev.Restored {
			c.events.put(zkReassignmentEvent{})
		}
	})
	if err != nil {
		return err
	}
	c.watches = append(c.watches, w)
	started, err := c.processZkPartitionReassignment()
	if err != nil {
		return err
	}
	return c.resumeReassignments(func(p tp, _ replicaAssignment) bool { return !started[p] })
}

// resumeReassignments is maybeResumeReassignments: the ongoing
// reassignments for which resume is true run onPartitionReassignment
// again (phase A re-sends LeaderAndIsr, or phase B completes them).
func (c *Controller) resumeReassignments(resume func(p tp, ra replicaAssignment) bool) error {
	var ps []tp
	for p, ra := range c.ongoingReassignments() {
		if resume(p, ra) {
			ps = append(ps, p)
		}
	}
	sortTPs(ps)
	if len(ps) > 0 {
		c.log.WithField("partitions", len(ps)).Info("resuming partition reassignments")
	}
	for _, p := range ps {
		ra, ok := c.ongoingReassignments()[p]
		if !ok || c.cc.partition(p) == nil {
			continue
		}
		if err := c.onPartitionReassignment(p, ra); err != nil {
			return err
		}
	}
	return nil
}

// loadReassignments records the ongoing reassignments of a topic znode just
// read into the context (loadTopic; Kafka's getFullReplicaAssignmentForTopics
// at initializeControllerContext).
func (c *Controller) loadReassignments(topic string, ta zkpaths.TopicAssignment) {
	ongoing := c.ongoingReassignments()
	for p := range ongoing {
		if p.topic == topic {
			delete(ongoing, p)
		}
	}
	for p, replicas := range ta.Partitions {
		ra := replicaAssignment{replicas: slices.Clone(replicas), adding: ta.AddingReplicas[p], removing: ta.RemovingReplicas[p]}
		if ra.reassigning() {
			ongoing[tp{topic, p}] = ra
		}
	}
}

// reassigningTopic reports whether a partition of topic is being
// reassigned; such a topic is ineligible for deletion until it finishes
// (Kafka's markTopicIneligibleForDeletion "topic reassignment in progress").
func (c *Controller) reassigningTopic(topic string) bool {
	for p := range c.ongoingReassignments() {
		if p.topic == topic {
			return true
		}
	}
	return false
}
