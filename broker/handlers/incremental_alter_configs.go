package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// IncrementalAlterConfigs (key 44): v0–1.
//
// Behaviour: as AlterConfigs, but each op changes one key of the stored
// dynamic config: SET (0), DELETE (1), APPEND (2) and SUBTRACT (3), the last
// two for list configs only (INVALID_REQUEST "Config value append is not
// allowed for config key: k"). A key named twice: INVALID_REQUEST "Error due
// to duplicate config keys : k"; a null value except for DELETE:
// INVALID_REQUEST "Null value not supported for : SET:k".
//
// Not implemented: BROKER_LOGGER resources (INVALID_REQUEST).
//
// Kafka: KafkaApis.handleIncrementalAlterConfigsRequest,
// ZkAdminManager.incrementalAlterConfigs.
func (h *Handlers) handleIncrementalAlterConfigs(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		ops := make([]ConfigOp, len(rr.Configs))
		for i, c := range rr.Configs {
			ops[i] = ConfigOp{Name: c.Name, Value: c.Value, Op: c.Op}
		}
		err := errors.New("no cluster admin")
		if h.ClusterAdmin != nil {
			err = h.ClusterAdmin.IncrementalAlterConfigs(ctx, ConfigResource{Type: rr.ResourceType, Name: rr.ResourceName}, ops, req.ValidateOnly)
		}
		if err != nil {
			out.ErrorCode = h.errorCode(err)
			out.ErrorMessage = configErrorMessage(err)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}
