package handlers

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// ListGroups (key 16): v0–5.
//
// Behaviour (group.Coordinator.ListGroups): the groups this broker
// coordinates, with protocol type, state (v4+, filtered by StatesFilter,
// case-insensitively) and type (v5+: always "classic"; a TypesFilter without
// "classic" lists nothing). COORDINATOR_LOAD_IN_PROGRESS (14) while an
// offsets partition loads (with the groups loaded so far).
//
// Kafka: KafkaApis.handleListGroupsRequest, GroupCoordinator.handleListGroups.
func (h *Handlers) handleListGroups(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if h.Groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	if req.Version >= 5 && len(req.TypesFilter) > 0 && !slices.ContainsFunc(req.TypesFilter, func(t string) bool { return strings.EqualFold(t, "classic") }) {
		return resp, nil
	}
	var states []string
	if req.Version >= 4 {
		states = req.StatesFilter
	}
	err, groups := h.Groups.ListGroups(states)
	if err != nil {
		resp.ErrorCode = err.Code
	}
	for _, g := range groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.GroupID, g.ProtocolType, g.State, "classic"
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
