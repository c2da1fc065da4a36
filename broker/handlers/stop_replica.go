package handlers

import (
	"context"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
)

// StopReplica (key 5): v0–4. A controller → broker API.
//
// Behaviour (reference §3.4):
//   - Accepted only on the inter-broker listener, else
//     CLUSTER_AUTHORIZATION_FAILED (31) for the request and every partition.
//   - BrokerEpoch (v1+) older than ours: STALE_BROKER_EPOCH (77); a stale
//     controller epoch: STALE_CONTROLLER_EPOCH (11).
//   - Per partition: stopped when the request's leader epoch is -2 (topic
//     being deleted), -1 (unknown) or not older than ours, else
//     FENCED_LEADER_EPOCH (74); with delete (v0–2 DeletePartitions, v3+ per
//     partition) the log is removed from disk even when the partition is
//     not hosted.
//
// Not implemented: stopping follower fetchers (issue 4).
//
// Kafka: KafkaApis.handleStopReplicaRequest, ReplicaManager.stopReplicas.
func (h *Handlers) handleStopReplica(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.StopReplicaRequest)
	resp := req.ResponseKind().(*kmsg.StopReplicaResponse)

	var parts []replica.StopReplicaPartition
	for _, t := range req.Topics {
		switch {
		case req.Version == 0:
			parts = append(parts, replica.StopReplicaPartition{Topic: t.Topic, Partition: t.Partition, LeaderEpoch: -1, Delete: req.DeletePartitions})
		case req.Version <= 2:
			for _, p := range t.Partitions {
				parts = append(parts, replica.StopReplicaPartition{Topic: t.Topic, Partition: p, LeaderEpoch: -1, Delete: req.DeletePartitions})
			}
		default:
			for _, p := range t.PartitionStates {
				parts = append(parts, replica.StopReplicaPartition{Topic: t.Topic, Partition: p.Partition, LeaderEpoch: p.LeaderEpoch, Delete: p.Delete})
			}
		}
	}

	var errs []error
	topErr := h.checkControlRequest(r, req.BrokerEpoch)
	if topErr == nil {
		var err error
		if errs, err = h.Replicas.StopReplicas(req.ControllerEpoch, parts); err != nil {
			topErr = kerr.StaleControllerEpoch
		}
	}
	if topErr != nil {
		resp.ErrorCode = topErr.Code
		h.log.WithFields(logrus.Fields{"controller_id": req.ControllerID, "controller_epoch": req.ControllerEpoch, "error": topErr.Message}).Warn("StopReplica rejected")
	}
	for i, p := range parts {
		rp := kmsg.NewStopReplicaResponsePartition()
		rp.Topic, rp.Partition = p.Topic, p.Partition
		if topErr != nil {
			rp.ErrorCode = topErr.Code
		} else {
			rp.ErrorCode = h.errorCode(errs[i])
		}
		resp.Partitions = append(resp.Partitions, rp)
	}
	return resp, nil
}
