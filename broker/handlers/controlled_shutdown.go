package handlers

import (
	"context"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// ControlledShutdown (key 7): v1–3. A broker → controller API: the broker
// about to stop asks the controller to move its leaderships away first
// (reference §2.12, §3.5).
//
// Behaviour:
//   - Accepted only on the inter-broker listener, else
//     CLUSTER_AUTHORIZATION_FAILED (31), like the other control APIs.
//   - This broker not the active controller: NOT_CONTROLLER (41).
//   - Otherwise the controller's event loop acts (coordinator.Controller.
//     ControlledShutdown): BROKER_NOT_AVAILABLE (8) for a broker that is not
//     registered, STALE_BROKER_EPOCH (77) for a BrokerEpoch (v2+) older
//     than its registration (-1 skips the check); else leaderships move and
//     the broker leaves the ISRs it is in, and PartitionsRemaining lists the
//     multi-replica partitions it still leads (no other ISR member).
//   - v0 is not served: it uses a request header without a client id,
//     which the server does not decode (Kafka 3.x brokers send v3).
//
// Kafka: KafkaApis.handleControlledShutdownRequest,
// KafkaController.doControlledShutdown.
func (h *Handlers) handleControlledShutdown(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ControlledShutdownRequest)
	var topErr *kerr.Error
	switch {
	case h.Config.InterBrokerListener != "" && r.Listener != h.Config.InterBrokerListener:
		h.log.WithFields(logrus.Fields{"api_key": r.APIKey, "remote": r.Remote, "listener": r.Listener}).Warn("ControlledShutdown on a client listener rejected")
		topErr = kerr.ClusterAuthorizationFailed
	case !h.IsController():
		topErr = kerr.NotController
	}
	ctl, ok := h.Controller.(ElectionController)
	if !ok && topErr == nil {
		topErr = kerr.NotController
	}
	if topErr != nil {
		resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
		resp.ErrorCode = topErr.Code
		return resp, nil
	}
	if req.Version < 2 {
		req.BrokerEpoch = -1 // not on the wire before v2
	}
	return ctl.ControlledShutdown(ctx, req), nil
}
