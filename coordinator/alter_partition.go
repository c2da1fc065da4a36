package coordinator

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// AlterPartition: the controller side of ISR changes (KIP-497), Kafka's
// KafkaController.processAlterPartition in ZooKeeper mode. A partition
// leader proposes a new ISR for partitions it leads; the controller checks
// the proposal against its context, writes the partition state znodes
// conditionally on their dataVersion (the partition epoch) under the
// controller-epoch fence, answers with the state written (its new partition
// epoch) and sends UpdateMetadata for the partitions to every live broker.
// It sends no LeaderAndIsr: the leader already knows, and followers do not
// need the ISR.

// alterPartitionTimeout bounds how long a request waits for the event loop
// (blocked, for instance, while ZooKeeper is unreachable): below the
// sender's replica.socket.timeout.ms default (30 s), so it gets an answer
// (REQUEST_TIMED_OUT, after which it retries) rather than dropping the
// connection.
const alterPartitionTimeout = 25 * time.Second

// maxAlterPartitionMulti bounds the state writes batched in one multi-op
// (ZooKeeper's jute.maxbuffer is 1 MiB; a state znode is ~100 bytes).
const maxAlterPartitionMulti = 500

// AlterPartition hands req to the event loop and waits for the answer. Not
// the active controller: NOT_CONTROLLER at once. A context done or the
// event loop not answering within alterPartitionTimeout: REQUEST_TIMED_OUT
// for the whole request (the sender retries; a write that did happen is
// answered idempotently next time). The response has req's version.
func (c *Controller) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	if !c.active.Load() {
		return alterPartitionTopLevel(req, kerr.NotController)
	}
	ev := alterPartitionEvent{req: req, reply: make(chan *kmsg.AlterPartitionResponse, 1)}
	c.events.put(ev)
	t := time.NewTimer(alterPartitionTimeout)
	defer t.Stop()
	select {
	case resp := <-ev.reply:
		return resp
	case <-c.runDone:
		return alterPartitionTopLevel(req, kerr.NotController)
	case <-ctx.Done():
		return alterPartitionTopLevel(req, kerr.RequestTimedOut)
	case <-t.C:
		c.log.WithField("broker_id", req.BrokerID).Warn("AlterPartition not processed in time")
		return alterPartitionTopLevel(req, kerr.RequestTimedOut)
	}
}

func alterPartitionTopLevel(req *kmsg.AlterPartitionRequest, e *kerr.Error) *kmsg.AlterPartitionResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	resp.ErrorCode = e.Code
	return resp
}

// alterPartitionItem is one partition of a request and its outcome.
type alterPartitionItem struct {
	topicIndex int // index in the response's Topics
	p          tp
	req        kmsg.AlterPartitionRequestTopicPartition
	errCode    int16
	result     *zkpaths.PartitionState // answered state when errCode == 0
	version    int32                   // its partition epoch
	proposed   zkpaths.PartitionState  // what would be written
	write      bool                    // accepted, to be written
	written    bool                    // written by this request
}

// processAlterPartition runs on the event loop. It returns an error only
// for what handleError must act on (the controller moved, the session was
// lost); the response is complete either way.
func (c *Controller) processAlterPartition(req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	if !c.active.Load() {
		return alterPartitionTopLevel(req, kerr.NotController), nil
	}
	l := c.log.WithFields(logrus.Fields{"broker_id": req.BrokerID, "broker_epoch": req.BrokerEpoch})
	lb, ok := c.cc.brokers[req.BrokerID]
	if !ok || lb.epoch != req.BrokerEpoch {
		var known int64 = -1
		if ok {
			known = lb.epoch
		}
		l.WithField("known_broker_epoch", known).Info("AlterPartition from an unknown broker or with a stale broker epoch ignored")
		return alterPartitionTopLevel(req, kerr.StaleBrokerEpoch), nil
	}
	useIDs := req.Version >= 2
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	var items []*alterPartitionItem
	for _, rt := range req.Topics {
		topic, known := rt.Topic, true
		if useIDs {
			topic, known = c.topicNameByID(rt.TopicID)
		}
		t := kmsg.NewAlterPartitionResponseTopic()
		t.Topic, t.TopidID = rt.Topic, rt.TopicID
		resp.Topics = append(resp.Topics, t)
		for _, rp := range rt.Partitions {
			it := &alterPartitionItem{topicIndex: len(resp.Topics) - 1, p: tp{topic, rp.Partition}, req: rp}
			if !known {
				it.errCode = kerr.UnknownTopicID.Code
			} else {
				c.checkAlterPartition(req, it)
			}
			items = append(items, it)
		}
	}

	if err := c.writeAlterPartition(items); err != nil {
		// The controller moved or its session is gone: nothing more is
		// written or sent with this epoch (handleError resigns). What did
		// get written is answered idempotently when the leader retries.
		l.WithError(err).Warn("AlterPartition aborted: no longer the controller")
		return alterPartitionTopLevel(req, kerr.NotController), err
	}

	var touched []tp
	wrote := false
	for _, it := range items {
		if c.cc.partition(it.p) != nil {
			touched = append(touched, it.p)
		}
		wrote = wrote || it.written
		rp := kmsg.NewAlterPartitionResponseTopicPartition()
		rp.Partition = it.req.Partition
		rp.ErrorCode = it.errCode
		if it.errCode == 0 {
			rp.LeaderID = it.result.Leader
			rp.LeaderEpoch = it.result.LeaderEpoch
			rp.ISR = slices.Clone(it.result.ISR)
			rp.LeaderRecoveryState = it.result.LeaderRecoveryState
			rp.PartitionEpoch = it.version
		}
		resp.Topics[it.topicIndex].Partitions = append(resp.Topics[it.topicIndex].Partitions, rp)
	}
	if wrote {
		// Kafka sends the state of every partition of the request.
		c.batch.addUpdateMetadata(c.cc.liveIDs(), touched...)
		c.sendBatch()
		// An ISR that now holds every target replica completes a
		// reassignment (reassign.go).
		if err := c.maybeCompleteReassignments(touched); err != nil {
			return resp, err
		}
	}
	return resp, nil
}

// checkAlterPartition decides one partition against the context, in
// Kafka's order (plus the leader check KRaft makes): it either sets an
// error, answers the current state (already as proposed: idempotent
// retries), or marks the proposal for writing.
func (c *Controller) checkAlterPartition(req *kmsg.AlterPartitionRequest, it *alterPartitionItem) {
	pi := c.cc.partition(it.p)
	if pi == nil || pi.leadership == nil {
		it.errCode = kerr.UnknownTopicOrPartition.Code
		return
	}
	cur, curVersion := *pi.leadership, pi.zkVersion
	r := it.req
	newISR := r.NewISR
	if req.Version >= 3 {
		newISR = nil
		for _, b := range r.NewEpochISR {
			newISR = append(newISR, b.BrokerID)
		}
	}
	if newISR == nil {
		newISR = []int32{}
	}
	l := c.log.WithFields(logrus.Fields{"topic": it.p.topic, "partition": it.p.partition, "broker_id": req.BrokerID,
		"leader_epoch": r.LeaderEpoch, "partition_epoch": r.PartitionEpoch, "new_isr": newISR})
	switch {
	case r.PartitionEpoch > curVersion || r.LeaderEpoch > cur.LeaderEpoch:
		// The leader knows a newer state than we do: we are probably no
		// longer the controller; let it find the new one.
		l.WithFields(logrus.Fields{"current_leader_epoch": cur.LeaderEpoch, "current_partition_epoch": curVersion}).
			Info("AlterPartition with a newer epoch than the controller's; answering NOT_CONTROLLER")
		it.errCode = kerr.NotController.Code
		return
	case r.LeaderEpoch < cur.LeaderEpoch:
		l.WithField("current_leader_epoch", cur.LeaderEpoch).Info("AlterPartition rejected: fenced leader epoch")
		it.errCode = kerr.FencedLeaderEpoch.Code
		return
	case req.BrokerID != cur.Leader:
		l.WithField("current_leader", cur.Leader).Info("AlterPartition rejected: the requester is not the leader")
		it.errCode = kerr.NotLeaderForPartition.Code
		return
	case slices.Equal(newISR, cur.ISR) && r.LeaderRecoveryState == cur.LeaderRecoveryState:
		// Already in the proposed state (a retry after a lost answer):
		// answer it; checked before the partition epoch for idempotency.
		it.result, it.version = &cur, curVersion
		return
	case r.PartitionEpoch < curVersion:
		l.WithField("current_partition_epoch", curVersion).Info("AlterPartition rejected: stale partition epoch")
		it.errCode = kerr.InvalidUpdateVersion.Code
		return
	case r.LeaderRecoveryState == zkpaths.LeaderRecovering && len(newISR) > 1,
		cur.LeaderRecoveryState == zkpaths.LeaderRecovered && r.LeaderRecoveryState == zkpaths.LeaderRecovering:
		l.WithField("leader_recovery_state", r.LeaderRecoveryState).Info("AlterPartition rejected: invalid leader recovery state")
		it.errCode = kerr.InvalidRequest.Code
		return
	}
	var ineligible []int32
	for _, id := range newISR {
		// A broker in controlled shutdown may not rejoin an ISR it was just
		// taken out of (KAFKA-14140).
		if !c.cc.isLive(id) || c.shuttingDown[id] {
			ineligible = append(ineligible, id)
		}
	}
	if len(ineligible) > 0 {
		// KIP-841: only live brokers may join the ISR. Before v2 the error
		// did not exist; OPERATION_NOT_ATTEMPTED means the same to a leader.
		l.WithField("ineligible", ineligible).Info("AlterPartition rejected: ineligible replicas in the new ISR")
		it.errCode = kerr.OperationNotAttempted.Code
		if req.Version >= 2 {
			it.errCode = kerr.IneligibleReplica.Code
		}
		return
	}
	it.proposed = zkpaths.PartitionState{Leader: req.BrokerID, LeaderEpoch: r.LeaderEpoch, ISR: newISR,
		ControllerEpoch: c.epoch.Load(), LeaderRecoveryState: r.LeaderRecoveryState}
	it.write = true
}

// writeAlterPartition writes the accepted proposals: one fenced multi-op
// for all of them when possible, else one write per partition so that a
// stale partition epoch fails only its own partition.
func (c *Controller) writeAlterPartition(items []*alterPartitionItem) error {
	var todo []*alterPartitionItem
	for _, it := range items {
		if it.write {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if len(todo) > 1 && len(todo) <= maxAlterPartitionMulti {
		ops := make([]zkpaths.Op, len(todo))
		for i, it := range todo {
			ops[i] = zkpaths.SetDataOp(zkpaths.PartitionStatePath(it.p.topic, it.p.partition), it.proposed.Encode(), c.cc.partition(it.p).zkVersion)
		}
		res, err := c.zk.EpochFenced(c.epochZkVersion, ops...)
		if err == nil {
			for i, it := range todo {
				c.acceptAlterPartition(it, res[i].Stat.Version)
			}
			return nil
		}
		if errors.Is(err, zkpaths.ErrControllerMoved) || isSessionLost(err) {
			c.failAlterPartition(todo, kerr.NotController.Code)
			return err
		}
		c.log.WithError(err).Debug("batched ISR update failed; writing partitions one by one")
	}
	for i, it := range todo {
		if err := c.writeOneAlterPartition(it); err != nil {
			c.failAlterPartition(todo[i:], kerr.NotController.Code)
			return err
		}
	}
	return nil
}

func (c *Controller) failAlterPartition(items []*alterPartitionItem, code int16) {
	for _, it := range items {
		it.errCode, it.result, it.write = code, nil, false
	}
}

// writeOneAlterPartition writes one proposal conditionally. BADVERSION is
// either our own earlier attempt whose answer was lost (the znode holds
// exactly the proposal one version later: success) or another write
// (INVALID_UPDATE_VERSION, with the context refreshed).
func (c *Controller) writeOneAlterPartition(it *alterPartitionItem) error {
	pi := c.cc.partition(it.p)
	expected := pi.zkVersion
	res, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.SetDataOp(zkpaths.PartitionStatePath(it.p.topic, it.p.partition), it.proposed.Encode(), expected))
	switch {
	case err == nil:
		c.acceptAlterPartition(it, res[0].Stat.Version)
		return nil
	case errors.Is(err, zkpaths.ErrControllerMoved) || isSessionLost(err):
		return err
	case errors.Is(err, zk.ErrNoNode):
		it.errCode, it.write = kerr.UnknownTopicOrPartition.Code, false
		return nil
	case errors.Is(err, zk.ErrBadVersion):
		cur, stat, rerr := c.zk.GetPartitionState(it.p.topic, it.p.partition)
		if rerr != nil {
			if errors.Is(rerr, zkpaths.ErrControllerMoved) || isSessionLost(rerr) {
				return rerr
			}
			c.log.WithError(rerr).WithFields(logrus.Fields{"topic": it.p.topic, "partition": it.p.partition}).Warn("re-read partition state")
			it.errCode, it.write = kerr.UnknownServerError.Code, false
			return nil
		}
		if stat.Version == expected+1 && partitionStateEqual(cur, it.proposed) {
			c.acceptAlterPartition(it, stat.Version)
			return nil
		}
		pi.leadership, pi.zkVersion = &cur, stat.Version
		c.log.WithFields(logrus.Fields{"topic": it.p.topic, "partition": it.p.partition, "expected_partition_epoch": expected, "partition_epoch": stat.Version}).
			Info("AlterPartition rejected: the partition state changed meanwhile")
		it.errCode, it.write = kerr.InvalidUpdateVersion.Code, false
		return nil
	default:
		c.log.WithError(err).WithFields(logrus.Fields{"topic": it.p.topic, "partition": it.p.partition}).Error("write ISR update")
		it.errCode, it.write = kerr.UnknownServerError.Code, false
		return nil
	}
}

// acceptAlterPartition records a written proposal in the context and as
// the answer.
func (c *Controller) acceptAlterPartition(it *alterPartitionItem, version int32) {
	pi := c.cc.partition(it.p)
	st := it.proposed
	pi.leadership, pi.zkVersion = &st, version
	it.result, it.version, it.write, it.written = &st, version, false, true
	c.log.WithFields(logrus.Fields{"topic": it.p.topic, "partition": it.p.partition, "leader": st.Leader,
		"leader_epoch": st.LeaderEpoch, "isr": st.ISR, "partition_epoch": version}).Info("ISR updated")
}

func partitionStateEqual(a, b zkpaths.PartitionState) bool {
	return a.Leader == b.Leader && a.LeaderEpoch == b.LeaderEpoch && slices.Equal(a.ISR, b.ISR) &&
		a.ControllerEpoch == b.ControllerEpoch && a.LeaderRecoveryState == b.LeaderRecoveryState
}

// topicNameByID finds a topic of the context by its id (AlterPartition v2+).
func (c *Controller) topicNameByID(id [16]byte) (string, bool) {
	for name, t := range c.cc.topics {
		if t.id == id {
			return name, true
		}
	}
	return "", false
}
