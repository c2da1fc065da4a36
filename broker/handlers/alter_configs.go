package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// AlterConfigs (key 33): v0–2.
//
// Behaviour (the legacy API: the resource's dynamic config becomes exactly
// the entries sent):
//   - Topics: written to /config/topics/<t>, then a
//     /config/changes/config_change_N notification; every broker applies it
//     to its live logs (broker/configwatch). Unknown topic:
//     UNKNOWN_TOPIC_OR_PARTITION (3); a name LogConfig does not know:
//     INVALID_CONFIG (40) "Unknown topic config name: x"; a bad value:
//     INVALID_REQUEST (42) "Invalid config value for resource
//     ConfigResource(type=TOPIC, name='t'): Invalid value x for
//     configuration retention.ms: Not a number of type LONG".
//   - Brokers: "" is the cluster default (/config/brokers/<default>), an id
//     must be this broker's. Keys Gregor cannot change live: INVALID_REQUEST
//     "... Cannot update these configs dynamically: Set(k)".
//   - A null value: INVALID_REQUEST "Null value not supported for : k".
//   - ValidateOnly: validated, nothing written.
//
// Kafka: KafkaApis.handleAlterConfigsRequest, ZkAdminManager.alterConfigs.
func (h *Handlers) handleAlterConfigs(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		ops := make([]ConfigOp, len(rr.Configs))
		for i, c := range rr.Configs {
			ops[i] = ConfigOp{Name: c.Name, Value: c.Value, Op: kmsg.IncrementalAlterConfigOpSet}
		}
		err := errors.New("no cluster admin")
		if h.ClusterAdmin != nil {
			err = h.ClusterAdmin.AlterConfigs(ctx, ConfigResource{Type: rr.ResourceType, Name: rr.ResourceName}, ops, req.ValidateOnly)
		}
		if err != nil {
			out.ErrorCode = h.errorCode(err)
			out.ErrorMessage = configErrorMessage(err)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}
