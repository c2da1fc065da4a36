package handlers

import (
	"context"
	"net"
	"strconv"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
)

// LeaderAndIsr (key 4): v0–7. A controller → broker API.
//
// Behaviour (reference §3.2):
//   - Accepted only on the inter-broker listener, else
//     CLUSTER_AUTHORIZATION_FAILED (31) for the request and every partition.
//   - BrokerEpoch (v2+) older than ours: STALE_BROKER_EPOCH (77); the
//     ControllerEpoch older than the highest seen: STALE_CONTROLLER_EPOCH
//     (11); both for the whole request.
//   - Per partition (replica.Manager.BecomeLeaderOrFollower): a newer leader
//     epoch makes this broker leader or follower, creating or opening the log
//     and recording the topic id (v5+) in partition.metadata; the same or an
//     older epoch → STALE_CONTROLLER_EPOCH; not in the replicas →
//     UNKNOWN_TOPIC_OR_PARTITION; another topic id on disk →
//     INCONSISTENT_TOPIC_ID (103); an unusable log dir → KAFKA_STORAGE_ERROR (56).
//   - The response lists partitions by topic name (v0–4) or topic id (v5+).
//   - LiveLeaders (v1+) give the followers' fetchers the leader's
//     inter-broker endpoint (replica.LeaderAndIsrPartition.LeaderAddr).
//
// AddingReplicas/RemovingReplicas (v3+) are read by nothing here: a leader
// treats an adding replica like any other follower, as Kafka's does apart
// from its reassignment metrics.
//
// Kafka: KafkaApis.handleLeaderAndIsrRequest, ReplicaManager.becomeLeaderOrFollower.
func (h *Handlers) handleLeaderAndIsr(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.LeaderAndISRRequest)
	resp := req.ResponseKind().(*kmsg.LeaderAndISRResponse)

	// LiveLeaders (v1+) carries each leader's inter-broker endpoint, so a
	// follower can fetch before UpdateMetadata reaches the metadata cache.
	leaderAddrs := map[int32]string{}
	for _, ll := range req.LiveLeaders {
		leaderAddrs[ll.BrokerID] = net.JoinHostPort(ll.Host, strconv.Itoa(int(ll.Port)))
	}
	var states []replica.LeaderAndIsrPartition
	add := func(topic string, id [16]byte, p kmsg.LeaderAndISRRequestTopicPartition) {
		states = append(states, replica.LeaderAndIsrPartition{
			Topic: topic, TopicID: id, Partition: p.Partition,
			ControllerEpoch: p.ControllerEpoch, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			PartitionEpoch: p.ZKVersion, Replicas: p.Replicas, ISR: p.ISR, IsNew: p.IsNew,
			LeaderAddr: leaderAddrs[p.Leader],
		})
	}
	for _, p := range req.PartitionStates { // v0–1
		add(p.Topic, [16]byte{}, p)
	}
	for _, t := range req.TopicStates { // v2+
		for _, p := range t.PartitionStates {
			add(t.Topic, t.TopicID, p)
		}
	}

	var errs []error
	topErr := h.checkControlRequest(r, req.BrokerEpoch)
	if topErr == nil {
		var err error
		errs, err = h.Replicas.BecomeLeaderOrFollower(req.ControllerEpoch, states)
		if err != nil {
			topErr = kerr.StaleControllerEpoch
			if code := h.errorCode(err); code != kerr.StaleControllerEpoch.Code {
				topErr = kerr.ErrorForCode(code).(*kerr.Error)
			}
		}
	}
	if topErr != nil {
		resp.ErrorCode = topErr.Code
		h.log.WithFields(logrus.Fields{"controller_id": req.ControllerID, "controller_epoch": req.ControllerEpoch, "broker_epoch": req.BrokerEpoch, "error": topErr.Message}).Warn("LeaderAndIsr rejected")
	}

	byTopic := map[string]int{}
	for i, st := range states {
		code := int16(0)
		if topErr != nil {
			code = topErr.Code
		} else {
			code = h.errorCode(errs[i])
		}
		rp := kmsg.NewLeaderAndISRResponseTopicPartition()
		rp.Partition, rp.ErrorCode = st.Partition, code
		if req.Version < 5 {
			rp.Topic = st.Topic
			resp.Partitions = append(resp.Partitions, rp)
			continue
		}
		k, ok := byTopic[st.Topic]
		if !ok {
			k = len(resp.Topics)
			byTopic[st.Topic] = k
			t := kmsg.NewLeaderAndISRResponseTopic()
			t.TopicID = st.TopicID
			resp.Topics = append(resp.Topics, t)
		}
		resp.Topics[k].Partitions = append(resp.Topics[k].Partitions, rp)
	}
	return resp, nil
}
