package handlers

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/server"
)

// checkControlRequest applies the checks common to the controller → broker
// APIs (LeaderAndIsr, UpdateMetadata, StopReplica), in Kafka's order:
//
//  1. the request must come in on the inter-broker listener, else
//     CLUSTER_AUTHORIZATION_FAILED (31). Kafka without an authorizer relies
//     on the epochs only; Gregor also fences by listener (fault matrix §8
//     row 34) so a client cannot forge control requests by copying epochs.
//  2. a broker epoch older than ours is STALE_BROKER_EPOCH (77); -1 skips the
//     check (KIP-380, Kafka's isBrokerEpochStale).
//
// The controller epoch (STALE_CONTROLLER_EPOCH, 11) is checked by the
// replica manager under its state change lock.
func (h *Handlers) checkControlRequest(r *server.Request, brokerEpoch int64) *kerr.Error {
	if h.Config.InterBrokerListener != "" && r.Listener != h.Config.InterBrokerListener {
		h.log.WithFields(map[string]any{"api_key": r.APIKey, "remote": r.Remote, "listener": r.Listener}).Warn("control request on a client listener rejected")
		return kerr.ClusterAuthorizationFailed
	}
	if brokerEpoch != -1 && brokerEpoch < h.BrokerEpoch() {
		return kerr.StaleBrokerEpoch
	}
	return nil
}
