package handlers

import (
	"context"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
)

// UpdateMetadata (key 6): v0–8. A controller → broker API.
//
// Behaviour (reference §3.3):
//   - Accepted only on the inter-broker listener, else
//     CLUSTER_AUTHORIZATION_FAILED (31).
//   - BrokerEpoch (v5+) older than ours: STALE_BROKER_EPOCH (77); a
//     controller epoch older than the highest seen: STALE_CONTROLLER_EPOCH
//     (11). The epoch check and the cache update run under the replica
//     manager's state change lock.
//   - Otherwise the metadata cache takes the live brokers and controller id
//     and merges the partition states (leader -2 deletes the partition);
//     waiting CreateTopics/DeleteTopics are woken.
//
// Not implemented: removing committed offsets of deleted partitions (the
// group coordinator, a later issue).
//
// Kafka: KafkaApis.handleUpdateMetadataRequest, ReplicaManager.maybeUpdateMetadataCache,
// ZkMetadataCache.updateMetadata.
func (h *Handlers) handleUpdateMetadata(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.UpdateMetadataRequest)
	resp := req.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if e := h.checkControlRequest(r, req.BrokerEpoch); e != nil {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	var deleted []metadata.TopicPartition
	err := h.Replicas.WithControllerEpoch(req.ControllerEpoch, func() {
		deleted = h.Metadata.Update(req)
	})
	if err != nil {
		resp.ErrorCode = kerr.StaleControllerEpoch.Code
		h.log.WithFields(logrus.Fields{"controller_id": req.ControllerID, "controller_epoch": req.ControllerEpoch}).Warn("UpdateMetadata from a stale controller rejected")
		return resp, nil
	}
	if len(deleted) > 0 {
		h.log.WithField("partitions", len(deleted)).Debug("metadata cache removed deleted partitions")
	}
	return resp, nil
}
