package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// DeleteGroups (key 42): v0–2.
//
// Behaviour (group.Coordinator.DeleteGroups): an Empty group is deleted with
// its offsets (tombstones in __consumer_offsets); a group with members:
// NON_EMPTY_GROUP (68); unknown: GROUP_ID_NOT_FOUND (69); not coordinated
// here: NOT_COORDINATOR (16).
//
// Not implemented: v3 (KIP-1043 error messages).
//
// Kafka: KafkaApis.handleDeleteGroupsRequest, GroupCoordinator.handleDeleteGroups.
func (h *Handlers) handleDeleteGroups(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	var errs []*kerr.Error
	if h.Groups != nil {
		errs = h.Groups.DeleteGroups(req.Groups)
	}
	for i, id := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		switch {
		case h.Groups == nil:
			rg.ErrorCode = kerr.CoordinatorNotAvailable.Code
		case errs[i] != nil:
			rg.ErrorCode = errs[i].Code
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
