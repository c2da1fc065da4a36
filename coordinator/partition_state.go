package coordinator

import (
	"errors"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// maxStateRetries bounds the re-read-and-decide loop on a stale partition
// epoch (BADVERSION on the state znode).
const maxStateRetries = 10

// triggerOnlinePartitionStateChange moves every New and Offline partition
// (except those of topics being deleted) to Online: initialise New ones,
// elect a leader for Offline ones; then flushes the batch.
func (c *Controller) triggerOnlinePartitionStateChange() error {
	var newParts, offline []tp
	for _, p := range c.cc.allPartitions() {
		if c.cc.deleting(p.topic) {
			continue
		}
		switch c.cc.partition(p).phase {
		case partitionNew:
			newParts = append(newParts, p)
		case partitionOffline:
			offline = append(offline, p)
		}
	}
	if err := c.initializeLeaderAndISR(newParts); err != nil {
		return err
	}
	if err := c.electOfflineLeaders(offline); err != nil {
		return err
	}
	c.sendBatch()
	return nil
}

// createFenced creates path (null data) under the epoch fence, ignoring
// NodeExists.
func (c *Controller) createFenced(path string) error {
	_, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.CreateOp(path, nil, zkpaths.Persistent))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	return nil
}

// initializeLeaderAndISR is New → Online: leader = first live replica,
// ISR = live replicas, leader_epoch 0; the state znode (and its parents) is
// created under the epoch fence; LeaderAndIsr (isNew) goes to the ISR.
func (c *Controller) initializeLeaderAndISR(parts []tp) error {
	if c.initializeLeaderAndISRBatch(parts) {
		return nil
	}
	epoch := c.epoch.Load()
	parentsDone := map[string]bool{}
	for _, p := range parts {
		pi := c.cc.partition(p)
		leader, isr, ok := initialLeaderAndISR(pi.replicas, c.cc.liveIDs())
		if !ok {
			c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "replicas": pi.replicas}).
				Error("cannot initialise partition: no assigned replica is alive")
			continue
		}
		if !parentsDone[p.topic] {
			if err := c.createFenced(zkpaths.TopicPartitionsPath(p.topic)); err != nil {
				return err
			}
			parentsDone[p.topic] = true
		}
		if err := c.createFenced(zkpaths.TopicPartitionPath(p.topic, p.partition)); err != nil {
			return err
		}
		st := zkpaths.PartitionState{Leader: leader, LeaderEpoch: 0, ISR: isr, ControllerEpoch: epoch}
		_, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.CreateOp(zkpaths.PartitionStatePath(p.topic, p.partition), st.Encode(), zkpaths.Persistent))
		if errors.Is(err, zk.ErrNodeExists) {
			// Written before (a controller that failed half-way): adopt it
			// and let the election logic take it from there.
			cur, stat, rerr := c.zk.GetPartitionState(p.topic, p.partition)
			if rerr != nil {
				return rerr
			}
			pi.leadership, pi.zkVersion = &cur, stat.Version
			if cur.Leader >= 0 && c.cc.isLive(cur.Leader) {
				pi.phase = partitionOnline
				c.batch.addLeaderAndISR(c.cc.liveReplicas(pi.replicas), p, false)
			} else {
				pi.phase = partitionOffline
			}
			continue
		}
		if err != nil {
			return err
		}
		pi.leadership, pi.zkVersion, pi.phase = &st, 0, partitionOnline
		c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "leader": leader, "isr": isr, "leader_epoch": 0}).Info("partition online")
		c.batch.addLeaderAndISR(isr, p, true)
	}
	// Partitions still Offline after an adoption are elected now.
	var offline []tp
	for _, p := range parts {
		if pi := c.cc.partition(p); pi.phase == partitionOffline {
			offline = append(offline, p)
		}
	}
	return c.electOfflineLeaders(offline)
}

// electOfflineLeaders runs the OfflinePartition election (clean; unclean
// only for partitions without a live ISR member whose topic allows it),
// all partitions in one batch of state writes.
func (c *Controller) electOfflineLeaders(parts []tp) error {
	type outcome struct{ elected, unclean, led bool }
	var (
		ps       []tp
		updates  []stateUpdate
		outcomes []*outcome
	)
	for _, p := range parts {
		pi := c.cc.partition(p)
		if pi.leadership == nil {
			continue
		}
		live := c.cc.liveReplicas(pi.replicas)
		// Candidates exclude brokers in controlled shutdown; the LeaderAndIsr
		// still goes to every live replica.
		electable := c.electableReplicas(pi.replicas)
		o := &outcome{}
		decide := func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
			*o = outcome{}
			if cur.Leader >= 0 && contains(live, cur.Leader) {
				// Already led by a live broker: our own write whose answer
				// was lost, or a leader that was never gone.
				o.led = true
				return cur, false
			}
			leader, u, ok := offlinePartitionLeader(pi.replicas, cur.ISR, electable, false)
			if !ok && len(electable) > 0 && c.uncleanEnabled(p.topic) {
				leader, u, ok = offlinePartitionLeader(pi.replicas, cur.ISR, electable, true)
			}
			if !ok {
				return cur, false
			}
			o.elected, o.unclean = true, u
			return zkpaths.PartitionState{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: offlinePartitionISR(cur.ISR, live, leader, u)}, true
		}
		ps = append(ps, p)
		updates = append(updates, stateUpdate{p: p, decide: decide})
		outcomes = append(outcomes, o)
	}
	wrote, err := c.updateStates(updates)
	for i, p := range ps {
		pi, o := c.cc.partition(p), outcomes[i]
		l := c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition})
		switch {
		case o.led:
			pi.phase = partitionOnline
			c.batch.addLeaderAndISR(c.cc.liveReplicas(pi.replicas), p, false)
		case !wrote[i]:
			if !o.elected && err == nil {
				l.WithField("isr", pi.leadership.ISR).Warn("no leader could be elected; partition offline")
			}
		default:
			st := pi.leadership
			l = l.WithFields(logrus.Fields{"leader": st.Leader, "leader_epoch": st.LeaderEpoch, "isr": st.ISR})
			if o.unclean {
				l.Warn("unclean leader election")
			} else {
				l.Info("leader elected")
			}
			pi.phase = partitionOnline
			c.batch.addLeaderAndISR(c.cc.liveReplicas(pi.replicas), p, false)
		}
	}
	return err
}

// offlineReplicas is the OfflineReplica transition for the given dead
// replicas per partition: they leave the ISR (never emptying it), the leader
// becomes -1 if it is among them, leader_epoch + 1, and LeaderAndIsr goes to
// the remaining live replicas. Partitions without leadership only get
// UpdateMetadata.
func (c *Controller) offlineReplicas(dead map[tp][]int32) error {
	var ps []tp
	for p := range dead {
		ps = append(ps, p)
	}
	sortTPs(ps)
	var (
		written []tp
		updates []stateUpdate
	)
	for _, p := range ps {
		pi := c.cc.partition(p)
		if pi == nil || c.cc.deleting(p.topic) {
			continue
		}
		if pi.leadership == nil {
			c.batch.addUpdateMetadataToAll(p)
			continue
		}
		removed := dead[p]
		written = append(written, p)
		updates = append(updates, stateUpdate{p: p, decide: func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
			leader, isr, changed := removeReplicasFromISR(cur.Leader, cur.ISR, removed)
			return zkpaths.PartitionState{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr}, changed
		}})
	}
	wrote, err := c.updateStates(updates)
	if err != nil {
		return err
	}
	for i, p := range written {
		pi, removed := c.cc.partition(p), dead[p]
		if !wrote[i] {
			// None of them was in the ISR: the partition's offline replicas
			// still change (Kafka sends its state again).
			c.batch.addUpdateMetadataToAll(p)
			continue
		}
		st := pi.leadership
		if st.Leader < 0 {
			pi.phase = partitionOffline
		}
		c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "leader": st.Leader, "leader_epoch": st.LeaderEpoch, "isr": st.ISR, "removed": removed}).
			Info("replicas removed from ISR")
		c.batch.addLeaderAndISR(filter(c.cc.liveReplicas(pi.replicas), func(r int32) bool { return !contains(removed, r) }), p, false)
	}
	return nil
}

// initializeLeaderAndISRBatch is the common case of initializeLeaderAndISR:
// a new topic none of whose partition znodes exist yet. It writes every
// partitions/<p> and partitions/<p>/state znode in one epoch-fenced multi-op,
// one ZooKeeper round trip instead of two per partition, so a 64-partition
// topic comes online as fast as a 1-partition one. It reports false, having
// written nothing, when anything is unusual (a dead replica set, a znode left
// by an earlier controller, a failed write); the caller then takes the
// per-partition path, which handles those cases.
func (c *Controller) initializeLeaderAndISRBatch(parts []tp) bool {
	if len(parts) < 2 {
		return false
	}
	epoch := c.epoch.Load()
	type decided struct {
		p  tp
		st zkpaths.PartitionState
	}
	var ops []zkpaths.Op
	var done []decided
	parentsDone := map[string]bool{}
	for _, p := range parts {
		pi := c.cc.partition(p)
		leader, isr, ok := initialLeaderAndISR(pi.replicas, c.cc.liveIDs())
		if !ok {
			return false
		}
		if !parentsDone[p.topic] {
			if exists, _, err := c.zk.Exists(zkpaths.TopicPartitionsPath(p.topic)); err != nil || exists {
				return false
			}
			ops = append(ops, zkpaths.CreateOp(zkpaths.TopicPartitionsPath(p.topic), nil, zkpaths.Persistent))
			parentsDone[p.topic] = true
		}
		st := zkpaths.PartitionState{Leader: leader, LeaderEpoch: 0, ISR: isr, ControllerEpoch: epoch}
		ops = append(ops,
			zkpaths.CreateOp(zkpaths.TopicPartitionPath(p.topic, p.partition), nil, zkpaths.Persistent),
			zkpaths.CreateOp(zkpaths.PartitionStatePath(p.topic, p.partition), st.Encode(), zkpaths.Persistent))
		done = append(done, decided{p, st})
	}
	if _, err := c.zk.EpochFenced(c.epochZkVersion, ops...); err != nil {
		c.log.WithError(err).Debug("batched partition creation failed; creating partitions one by one")
		return false
	}
	for _, d := range done {
		pi := c.cc.partition(d.p)
		st := d.st
		pi.leadership, pi.zkVersion, pi.phase = &st, 0, partitionOnline
		c.log.WithFields(logrus.Fields{"topic": d.p.topic, "partition": d.p.partition, "leader": st.Leader, "isr": st.ISR, "leader_epoch": 0}).Info("partition online")
		c.batch.addLeaderAndISR(st.ISR, d.p, true)
	}
	return true
}
