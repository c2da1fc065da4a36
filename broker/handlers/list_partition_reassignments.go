package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// ListPartitionReassignments (key 46): v0. KIP-455, sent by admin clients
// to the controller.
//
// Behaviour:
//   - This broker not the active controller: NOT_CONTROLLER (41).
//   - Otherwise the controller lists the ongoing reassignments: of the
//     partitions named, or of every partition when Topics is null. Each
//     carries the full replica set RS and its adding and removing replicas;
//     partitions not being reassigned (or unknown) are left out, as Kafka
//     does.
//
// Kafka: KafkaApis.handleListPartitionReassignmentsRequest,
// KafkaController.processListPartitionReassignments.
func (h *Handlers) handleListPartitionReassignments(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListPartitionReassignmentsRequest)
	rc, ok := h.Controller.(Reassigner)
	if !ok || !h.IsController() {
		resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return rc.ListPartitionReassignments(ctx, req), nil
}
