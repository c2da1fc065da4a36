package coordinator

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/zkpaths"
)

// Replica leader elections on demand (reference §2.11; Kafka's
// KafkaController.processReplicaLeaderElection and onReplicaElection): the
// ElectLeaders API (PREFERRED or UNCLEAN), the
// /admin/preferred_replica_election znode and the auto leader rebalance all
// end up here, on the event loop.

// Election types of ElectLeaders v1+ (org.apache.kafka.common.ElectionType).
const (
	electionPreferred int8 = 0
	electionUnclean   int8 = 1
)

// electionTrigger says who asked (Kafka's ElectionTrigger): only a
// ZooKeeper-triggered election deletes the znode afterwards.
type electionTrigger int

const (
	triggerAdminClient electionTrigger = iota
	triggerZK
	triggerAuto
)

func (t electionTrigger) String() string {
	switch t {
	case triggerZK:
		return "zk"
	case triggerAuto:
		return "auto"
	}
	return "admin_client"
}

// electionOutcome is one partition's result: the leader after the election,
// or a Kafka error with its message.
type electionOutcome struct {
	leader int32
	err    *kerr.Error
	msg    string
}

// preferredReplicaElectionEvent: /admin/preferred_replica_election was
// created (or its watch restored).
type preferredReplicaElectionEvent struct{}

// preferredReplicaLeader is PartitionLeaderElectionAlgorithms.
// preferredReplicaPartitionLeaderElection: the first replica of the
// assignment, only if it is live (and not shutting down) and in the ISR.
func preferredReplicaLeader(assignment, isr, live []int32) (int32, bool) {
	if len(assignment) == 0 {
		return -1, false
	}
	r := assignment[0]
	if contains(live, r) && contains(isr, r) {
		return r, true
	}
	return -1, false
}

// replicaLeaderElection is processReplicaLeaderElection for known requests:
// parts nil means every partition. It classifies the partitions (unknown,
// being deleted, election not needed) and elects the rest.
func (c *Controller) replicaLeaderElection(parts []tp, typ int8, trigger electionTrigger) (map[tp]electionOutcome, error) {
	if parts == nil {
		parts = c.cc.allPartitions()
	}
	out := make(map[tp]electionOutcome, len(parts))
	var electable []tp
	for _, p := range parts {
		pi := c.cc.partition(p)
		switch {
		case pi == nil || pi.leadership == nil:
			out[p] = electionOutcome{err: kerr.UnknownTopicOrPartition, msg: "The partition does not exist."}
		case c.cc.deleting(p.topic):
			out[p] = electionOutcome{err: kerr.InvalidTopicException, msg: "The topic is being deleted"}
		case typ == electionPreferred && len(pi.replicas) > 0 && pi.leadership.Leader == pi.replicas[0],
			typ == electionUnclean && pi.leadership.Leader >= 0 && contains(c.electableReplicas(pi.replicas), pi.leadership.Leader):
			out[p] = electionOutcome{err: kerr.ElectionNotNeeded}
		default:
			electable = append(electable, p)
		}
	}
	elected, err := c.onReplicaElection(electable, typ, trigger)
	for p, o := range elected {
		out[p] = o
	}
	return out, err
}

// onReplicaElection runs the PreferredReplica or the unclean
// OfflinePartition election for parts and flushes the requests. A
// partition whose election finds no candidate gets
// PREFERRED_LEADER_NOT_AVAILABLE or ELIGIBLE_LEADERS_NOT_AVAILABLE.
func (c *Controller) onReplicaElection(parts []tp, typ int8, trigger electionTrigger) (map[tp]electionOutcome, error) {
	out := make(map[tp]electionOutcome, len(parts))
	defer c.sendBatch()
	// One batch of state writes (zk_batch.go) for all the partitions.
	type flags struct{ already, unclean bool }
	fl := make([]flags, len(parts))
	updates := make([]stateUpdate, len(parts))
	for i, p := range parts {
		pi := c.cc.partition(p)
		electable := c.electableReplicas(pi.replicas)
		f := &fl[i]
		updates[i] = stateUpdate{p: p, decide: func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
			*f = flags{}
			var leader int32
			var ok bool
			isr := cur.ISR
			switch typ {
			case electionPreferred:
				if cur.Leader == pi.replicas[0] {
					f.already = true
					return cur, false
				}
				leader, ok = preferredReplicaLeader(pi.replicas, cur.ISR, electable)
			default:
				if cur.Leader >= 0 && contains(electable, cur.Leader) {
					f.already = true
					return cur, false
				}
				leader, f.unclean, ok = offlinePartitionLeader(pi.replicas, cur.ISR, electable, true)
				if ok {
					isr = offlinePartitionISR(cur.ISR, electable, leader, f.unclean)
				}
			}
			if !ok {
				return cur, false
			}
			return zkpaths.PartitionState{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr, LeaderRecoveryState: cur.LeaderRecoveryState}, true
		}}
	}
	written, err := c.updateStates(updates)
	if err != nil {
		return out, err
	}
	for i, p := range parts {
		pi := c.cc.partition(p)
		already, unclean, wrote := fl[i].already, fl[i].unclean, written[i]
		st := pi.leadership
		l := c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "trigger": trigger.String()})
		switch {
		case already:
			out[p] = electionOutcome{leader: st.Leader}
		case wrote:
			pi.phase = partitionOnline
			l = l.WithFields(logrus.Fields{"leader": st.Leader, "leader_epoch": st.LeaderEpoch, "isr": st.ISR})
			if unclean {
				l.Warn("unclean leader election")
			} else {
				l.Info("leader elected")
			}
			c.batch.addLeaderAndISR(c.cc.liveReplicas(pi.replicas), p, false)
			out[p] = electionOutcome{leader: st.Leader}
		case typ == electionPreferred:
			msg := fmt.Sprintf("Failed to elect leader for partition %s-%d under strategy PreferredReplicaPartitionLeaderElectionStrategy", p.topic, p.partition)
			l.WithFields(logrus.Fields{"replicas": pi.replicas, "isr": st.ISR}).Info("preferred replica cannot lead")
			out[p] = electionOutcome{err: kerr.PreferredLeaderNotAvailable, msg: msg}
		default:
			msg := fmt.Sprintf("Failed to elect leader for partition %s-%d under strategy OfflinePartitionLeaderElectionStrategy(true)", p.topic, p.partition)
			l.WithFields(logrus.Fields{"replicas": pi.replicas, "isr": st.ISR}).Warn("no live replica to elect")
			out[p] = electionOutcome{err: kerr.EligibleLeadersNotAvailable, msg: msg}
		}
	}
	return out, nil
}

// watchPreferredReplicaElection registers the existence watch on
// /admin/preferred_replica_election (stopped at resignation with the other
// watches) and queues an election when the znode is already there
// (onControllerFailover step 11).
func (c *Controller) watchPreferredReplicaElection() error {
	w, err := c.zk.WatchExists(zkpaths.PreferredReplicaElection, func(ev zkpaths.WatchEvent) {
		if ev.Type == zk.EventNodeCreated || ev.Restored {
			c.events.put(preferredReplicaElectionEvent{})
		}
	})
	if err != nil {
		return err
	}
	c.watches = append(c.watches, w)
	c.events.put(preferredReplicaElectionEvent{})
	return nil
}

// processPreferredReplicaElection runs the preferred election the znode
// asks for and deletes it (epoch-fenced) when done, as Kafka does even when
// some partitions could not be elected. An undecodable znode is deleted
// too, or it would block every later request.
func (c *Controller) processPreferredReplicaElection() error {
	data, _, err := c.zk.Get(zkpaths.PreferredReplicaElection)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, derr := zkpaths.DecodePreferredReplicaElection(data)
	if derr != nil {
		c.log.WithError(derr).WithField("znode", zkpaths.PreferredReplicaElection).Error("ignoring an invalid preferred replica election request")
	} else {
		parts := make([]tp, 0, len(entries))
		for _, e := range entries {
			parts = append(parts, tp{e.Topic, e.Partition})
		}
		results, err := c.replicaLeaderElection(parts, electionPreferred, triggerZK)
		if err != nil {
			return err
		}
		c.logElectionResults(results, triggerZK)
	}
	_, err = c.zk.EpochFenced(c.epochZkVersion, zkpaths.DeleteOp(zkpaths.PreferredReplicaElection, zkpaths.AnyVersion))
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// logElectionResults logs the partitions that could not be elected.
func (c *Controller) logElectionResults(results map[tp]electionOutcome, trigger electionTrigger) {
	elected := 0
	for p, o := range results {
		switch {
		case o.err == nil:
			elected++
		case o.err != kerr.ElectionNotNeeded:
			c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "trigger": trigger.String(), "error": o.err.Message}).
				Info("partition skipped by the replica leader election")
		}
	}
	c.log.WithFields(logrus.Fields{"trigger": trigger.String(), "partitions": len(results), "elected": elected}).Info("replica leader election done")
}

// onFailoverElections is the election part of onControllerFailover: a new
// term starts with no shutting-down brokers, the
// /admin/preferred_replica_election watch (and any pending request), and
// the auto rebalance timer (first check after 5 s).
func (c *Controller) onFailoverElections() error {
	c.shuttingDown = map[int32]bool{}
	if err := c.watchPreferredReplicaElection(); err != nil {
		return err
	}
	c.scheduleAutoRebalance(autoRebalanceFirstDelay)
	return nil
}
