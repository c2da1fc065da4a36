package coordinator

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// Controlled shutdown, the controller side (reference §2.12; Kafka's
// KafkaController.doControlledShutdown). A broker about to stop asks the
// controller to move leadership off it first, so that clients see a leader
// change instead of an outage: partitions it leads get a new leader from
// the rest of the ISR, partitions it follows lose it from their ISR (so
// acks=all does not wait for it) and it stops fetching them. From then on
// the broker is "shutting down": no election picks it as leader, until its
// /brokers/ids znode goes away (onBrokerFailure clears the mark).

// controlledShutdownTimeout bounds how long a request waits for the event
// loop. Moving a thousand leaders takes a few pipelined ZooKeeper round
// trips (zk_batch.go), but a ZooKeeper that is unreachable for a while
// blocks the event loop; the sender (broker/shutdown.go) waits a little
// longer than this.
const controlledShutdownTimeout = 60 * time.Second

// controlledShutdownEvent is a ControlledShutdown request; the answer goes
// to reply (buffered).
type controlledShutdownEvent struct {
	req   *kmsg.ControlledShutdownRequest
	reply chan *kmsg.ControlledShutdownResponse
}

// ControlledShutdown hands req to the event loop and waits for the answer
// (version of req). Not the active controller: NOT_CONTROLLER. Not
// processed in time: REQUEST_TIMED_OUT (the broker retries).
func (c *Controller) ControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse {
	if !c.active.Load() {
		return controlledShutdownError(req, kerr.NotController)
	}
	ev := controlledShutdownEvent{req: req, reply: make(chan *kmsg.ControlledShutdownResponse, 1)}
	c.events.put(ev)
	t := time.NewTimer(controlledShutdownTimeout)
	defer t.Stop()
	select {
	case resp := <-ev.reply:
		return resp
	case <-c.runDone:
		return controlledShutdownError(req, kerr.NotController)
	case <-ctx.Done():
		return controlledShutdownError(req, kerr.RequestTimedOut)
	case <-t.C:
		c.log.WithField("broker_id", req.BrokerID).Warn("ControlledShutdown not processed in time")
		return controlledShutdownError(req, kerr.RequestTimedOut)
	}
}

func controlledShutdownError(req *kmsg.ControlledShutdownRequest, e *kerr.Error) *kmsg.ControlledShutdownResponse {
	resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
	resp.ErrorCode = e.Code
	return resp
}

// processControlledShutdown answers a controlledShutdownEvent on the event
// loop, also when this broker is not the controller. A ZooKeeper error is
// returned for handleError after the broker got UNKNOWN_SERVER_ERROR.
func (c *Controller) processControlledShutdown(ev controlledShutdownEvent) error {
	if !c.active.Load() {
		ev.reply <- controlledShutdownError(ev.req, kerr.NotController)
		return nil
	}
	remaining, delivered, kerrCode, err := c.doControlledShutdown(ev.req.BrokerID, ev.req.BrokerEpoch)
	if err != nil {
		ev.reply <- controlledShutdownError(ev.req, kerr.UnknownServerError)
		return err
	}
	resp := ev.req.ResponseKind().(*kmsg.ControlledShutdownResponse)
	if kerrCode != nil {
		resp.ErrorCode = kerrCode.Code
	}
	for _, p := range remaining {
		r := kmsg.NewControlledShutdownResponsePartitionsRemaining()
		r.Topic, r.Partition = p.topic, p.partition
		resp.PartitionsRemaining = append(resp.PartitionsRemaining, r)
	}
	// Answer once the broker has applied its LeaderAndIsr and StopReplica:
	// a broker that stops serving before, as it does right after the
	// answer, would never learn that it lost its leaderships, and produce
	// requests parked on it (acks=all) would wait for their timeout instead
	// of failing over at once with NOT_LEADER_OR_FOLLOWER.
	go func() {
		t := time.NewTimer(shutdownDeliveryTimeout)
		defer t.Stop()
		select {
		case <-delivered:
		case <-t.C:
			c.log.WithField("broker_id", ev.req.BrokerID).Warn("controlled shutdown answered before the broker acknowledged its requests")
		}
		ev.reply <- resp
	}()
	return nil
}

// shutdownDeliveryTimeout bounds the wait for the shutting-down broker's
// answers to its LeaderAndIsr and StopReplica.
const shutdownDeliveryTimeout = 20 * time.Second

// doControlledShutdown is KafkaController.doControlledShutdown: it returns
// the partitions the broker still leads (partitionLeadersOnBroker), or a
// request-level error (STALE_BROKER_EPOCH, BROKER_NOT_AVAILABLE), and a
// channel closed when the broker has answered the LeaderAndIsr and
// StopReplica sent to it.
func (c *Controller) doControlledShutdown(id int32, brokerEpoch int64) ([]tp, <-chan struct{}, *kerr.Error, error) {
	delivered := make(chan struct{})
	lb, ok := c.cc.brokers[id]
	if !ok {
		c.log.WithField("broker_id", id).Info("controlled shutdown of a broker that is not live")
		close(delivered)
		return nil, delivered, kerr.BrokerNotAvailable, nil
	}
	// -1: a sender that predates KIP-380 (v0–1); the check is skipped.
	if brokerEpoch != -1 && brokerEpoch < lb.epoch {
		c.log.WithFields(logrus.Fields{"broker_id": id, "broker_epoch": brokerEpoch, "current_broker_epoch": lb.epoch}).
			Info("controlled shutdown from an old broker epoch rejected")
		close(delivered)
		return nil, delivered, kerr.StaleBrokerEpoch, nil
	}
	c.markShuttingDown(id)
	c.log.WithFields(logrus.Fields{"broker_id": id, "shutting_down": sortedIDs(c.shuttingDown)}).Info("controlled shutdown")

	var led, followed []tp
	for _, p := range c.cc.allPartitions() {
		pi := c.cc.partition(p)
		if len(pi.replicas) <= 1 || pi.leadership == nil || !contains(pi.replicas, id) || c.cc.deleting(p.topic) {
			continue
		}
		if pi.leadership.Leader == id {
			led = append(led, p)
		} else {
			followed = append(followed, p)
		}
	}
	moved, err := c.electControlledShutdownLeaders(id, led)
	if err != nil {
		return nil, nil, nil, err
	}
	c.sendBatch()
	// The shutting-down broker stops its replicas of the partitions it no
	// longer leads and of those it follows (StopReplica, delete=false): it
	// stops fetching, and produce requests parked on it fail over at once.
	// Kafka sends it LeaderAndIsr for the moved partitions instead, making
	// it a follower, and since 3.3 (KAFKA-14140) refuses to let it back
	// into the ISR; a follower that is about to exit has nothing to fetch
	// for, and one that rejoined the ISR would hold up acks=all once it
	// stopped. The request goes out with a callback so that the answer can
	// wait for it.
	var pending []chan struct{}
	if len(moved)+len(followed) > 0 {
		parts := make(map[tp]bool, len(moved)+len(followed))
		for _, p := range moved {
			parts[p] = false
		}
		for _, p := range followed {
			parts[p] = false
		}
		done := make(chan struct{})
		pending = append(pending, done)
		c.channels.send(id, c.stopReplicaRequest(id, parts), func(kmsg.Response) { close(done) })
	}
	go func() {
		t := time.NewTimer(shutdownDeliveryTimeout)
		defer t.Stop()
		for _, done := range pending {
			select {
			case <-done:
			case <-t.C:
				return // the answer goes out on its own timer
			}
		}
		close(delivered)
	}()
	// Then it leaves the ISRs of what it follows (the OfflineReplica
	// transition; LeaderAndIsr to the other replicas).
	removed := make(map[tp][]int32, len(followed))
	for _, p := range followed {
		removed[p] = []int32{id}
	}
	if err := c.offlineReplicas(removed); err != nil {
		return nil, nil, nil, err
	}
	c.sendBatch()
	remaining := c.partitionLeadersOnBroker(id)
	c.log.WithFields(logrus.Fields{"broker_id": id, "leaders_moved": len(moved), "isrs_left": len(followed), "remaining": len(remaining)}).
		Info("controlled shutdown processed")
	return remaining, delivered, nil, nil
}

// electControlledShutdownLeaders moves the leadership of parts (led by the
// shutting-down broker id) with the ControlledShutdown strategy: the new
// ISR drops every shutting-down broker, and LeaderAndIsr goes to the live
// replicas including the other shutting-down ones (they become followers);
// id itself gets StopReplica from the caller. A partition with no other eligible ISR member
// keeps its leader. It returns the partitions that moved.
func (c *Controller) electControlledShutdownLeaders(id int32, parts []tp) ([]tp, error) {
	shutting := sortedIDs(c.shuttingDown)
	updates := make([]stateUpdate, len(parts))
	for i, p := range parts {
		pi := c.cc.partition(p)
		liveOrShutting := c.cc.liveReplicas(pi.replicas)
		updates[i] = stateUpdate{p: p, decide: func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
			if !contains(shutting, cur.Leader) {
				return cur, false // moved meanwhile
			}
			leader, ok := controlledShutdownLeader(pi.replicas, cur.ISR, liveOrShutting, shutting)
			if !ok {
				return cur, false
			}
			isr := filter(cur.ISR, func(r int32) bool { return !contains(shutting, r) })
			return zkpaths.PartitionState{Leader: leader, LeaderEpoch: cur.LeaderEpoch + 1, ISR: isr, LeaderRecoveryState: cur.LeaderRecoveryState}, true
		}}
	}
	wrote, err := c.updateStates(updates)
	var moved []tp
	for i, p := range parts {
		if !wrote[i] {
			continue
		}
		pi := c.cc.partition(p)
		st := pi.leadership
		c.log.WithFields(logrus.Fields{"topic": p.topic, "partition": p.partition, "leader": st.Leader, "leader_epoch": st.LeaderEpoch, "isr": st.ISR}).
			Info("leader moved for controlled shutdown")
		c.batch.addLeaderAndISR(filter(c.cc.liveReplicas(pi.replicas), func(r int32) bool { return r != id }), p, false)
		moved = append(moved, p)
	}
	return moved, err
}

// partitionLeadersOnBroker is ControllerContext.partitionLeadersOnBroker:
// the partitions id leads with more than one replica, except those of
// topics being deleted. A single-replica partition cannot move, so it does
// not hold up the shutdown.
func (c *Controller) partitionLeadersOnBroker(id int32) []tp {
	var out []tp
	for _, p := range c.cc.allPartitions() {
		pi := c.cc.partition(p)
		if pi.leadership != nil && pi.leadership.Leader == id && len(pi.replicas) > 1 && !c.cc.deleting(p.topic) {
			out = append(out, p)
		}
	}
	return out
}

// markShuttingDown adds id to shuttingDownBrokerIds.
func (c *Controller) markShuttingDown(id int32) {
	if c.shuttingDown == nil {
		c.shuttingDown = map[int32]bool{}
	}
	c.shuttingDown[id] = true
}

// clearShuttingDown forgets the shutting-down mark of brokers whose
// registration went away (onBrokerFailure): a restarted broker is an
// ordinary candidate again.
func (c *Controller) clearShuttingDown(ids []int32) {
	for _, id := range ids {
		delete(c.shuttingDown, id)
	}
}

// electableReplicas is replicas filtered to brokers that are live and not
// shutting down (Kafka's isReplicaOnline without includeShuttingDownBrokers):
// the candidates of every election.
func (c *Controller) electableReplicas(replicas []int32) []int32 {
	return filter(replicas, func(r int32) bool { return c.cc.isLive(r) && !c.shuttingDown[r] })
}

// controlledShutdownLeader is PartitionLeaderElectionAlgorithms.
// controlledShutdownPartitionLeaderElection: the first replica in
// assignment order that is live (or shutting down), in the ISR and not
// shutting down.
func controlledShutdownLeader(assignment, isr, liveOrShuttingDown, shuttingDown []int32) (int32, bool) {
	for _, r := range assignment {
		if contains(liveOrShuttingDown, r) && contains(isr, r) && !contains(shuttingDown, r) {
			return r, true
		}
	}
	return -1, false
}
