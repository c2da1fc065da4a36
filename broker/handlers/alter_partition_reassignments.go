package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// AlterPartitionReassignments (key 45): v0. KIP-455, sent by admin clients
// to the controller.
//
// Behaviour:
//   - This broker not the active controller: NOT_CONTROLLER (41) for the
//     whole request (the admin client retries on the controller).
//   - Otherwise the controller's event loop handles each partition
//     (coordinator.Controller.AlterPartitionReassignments): a replica list
//     starts or replaces a reassignment, a null list cancels one
//     (NO_REASSIGNMENT_IN_PROGRESS, 85, when there is none); an empty list,
//     duplicates, negative ids or added brokers that are not live are
//     INVALID_REPLICA_ASSIGNMENT (39); a partition that does not exist or
//     whose topic is being deleted is UNKNOWN_TOPIC_OR_PARTITION (3). The
//     answer comes once the reassignment is recorded in the topic znode; it
//     completes asynchronously (ListPartitionReassignments follows it).
//   - v1 (allowReplicationFactorChange, KIP-860) is not served.
//
// Kafka: KafkaApis.handleAlterPartitionReassignmentsRequest,
// KafkaController.processApiPartitionReassignment.
func (h *Handlers) handleAlterPartitionReassignments(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	rc, ok := h.Controller.(Reassigner)
	if !ok || !h.IsController() {
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return rc.AlterPartitionReassignments(ctx, req), nil
}

// Reassigner is the part of the controller (coordinator.Controller) that
// serves partition reassignments. It is asserted on Deps.Controller, so a
// controller without it answers NOT_CONTROLLER.
type Reassigner interface {
	AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse
	ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse
}
