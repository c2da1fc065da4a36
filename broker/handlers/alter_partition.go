package handlers

import (
	"context"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// AlterPartition (key 56): v0–2. A partition leader → controller API
// (KIP-497): the leader proposes a new ISR, the controller writes it.
//
// Behaviour:
//   - Accepted only on the inter-broker listener, else
//     CLUSTER_AUTHORIZATION_FAILED (31) for the whole request, like the
//     controller → broker APIs (checkControlRequest; the broker epoch in
//     the request is the sender's and is checked by the controller).
//   - This broker not the active controller: NOT_CONTROLLER (41).
//   - Otherwise the controller's event loop decides every partition
//     (coordinator.Controller.AlterPartition): STALE_BROKER_EPOCH (77) for
//     an unknown broker or an old broker epoch; per partition
//     UNKNOWN_TOPIC_OR_PARTITION (3), UNKNOWN_TOPIC_ID (100, v2),
//     NOT_CONTROLLER when the leader knows newer epochs, FENCED_LEADER_EPOCH
//     (74), NOT_LEADER_OR_FOLLOWER (6) when the sender does not lead the
//     partition, INVALID_UPDATE_VERSION (95) for a stale partition epoch,
//     INVALID_REQUEST (42) for a bad leader recovery state, and
//     INELIGIBLE_REPLICA (107, v2) / OPERATION_NOT_ATTEMPTED (55, v0–1)
//     for a new ISR naming a broker that is not live. Accepted: the leader,
//     leader epoch, ISR and new partition epoch written.
//   - v0–1 name topics, v2 identifies them by topic id. v3 (KIP-903 broker
//     epochs in the ISR) is not served.
//
// Kafka: KafkaApis.handleAlterPartitionRequest, KafkaController.processAlterPartition.
func (h *Handlers) handleAlterPartition(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.AlterPartitionRequest)
	topErr := (*kerr.Error)(nil)
	switch {
	case h.Config.InterBrokerListener != "" && r.Listener != h.Config.InterBrokerListener:
		h.log.WithFields(logrus.Fields{"api_key": r.APIKey, "remote": r.Remote, "listener": r.Listener}).Warn("AlterPartition on a client listener rejected")
		topErr = kerr.ClusterAuthorizationFailed
	case h.Controller == nil || !h.IsController():
		topErr = kerr.NotController
	}
	if topErr != nil {
		resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = topErr.Code
		return resp, nil
	}
	return h.Controller.AlterPartition(ctx, req), nil
}
