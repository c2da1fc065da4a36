package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// DescribeConfigs (key 32): v0–4.
//
// Behaviour:
//   - Topics: every LogConfig key with its effective value: the
//     /config/topics override (DYNAMIC_TOPIC_CONFIG), else the broker
//     synonym's value (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG,
//     STATIC_BROKER_CONFIG, DEFAULT_CONFIG), else the LogConfig default.
//     Unknown topic: UNKNOWN_TOPIC_OR_PARTITION (3).
//   - Brokers: this broker's id describes every key it knows; "" (the
//     cluster default) describes /config/brokers/<default>. Another id:
//     INVALID_REQUEST (42) "Unexpected broker id, ...". ReadOnly is false
//     exactly for the keys Gregor changes without a restart.
//   - Synonyms (v1+, when asked) in precedence order; a value of unknown
//     type is sensitive (null), as KafkaConfig.maybeSensitive.
//   - Documentation (v3+, when asked) from the broker key table.
//   - v0: IsDefault = the source is DEFAULT_CONFIG.
//
// Not implemented: BROKER_LOGGER resources (INVALID_REQUEST).
//
// Kafka: KafkaApis.handleDescribeConfigsRequest, ZkAdminManager.describeConfigs.
func (h *Handlers) handleDescribeConfigs(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		entries, err := h.describeConfigs(ctx, rr)
		if err != nil {
			out.ErrorCode = h.errorCode(err)
			out.ErrorMessage = configErrorMessage(err)
			resp.Resources = append(resp.Resources, out)
			continue
		}
		for _, e := range entries {
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
			c.Source = e.Source
			c.IsDefault = e.Source == kmsg.ConfigSourceDefaultConfig
			if req.IncludeSynonyms {
				for _, s := range e.Synonyms {
					cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					cs.Name, cs.Value, cs.Source = s.Name, s.Value, s.Source
					c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
				}
			}
			c.ConfigType = e.Type
			if req.IncludeDocumentation {
				c.Documentation = e.Doc
			}
			out.Configs = append(out.Configs, c)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}

func (h *Handlers) describeConfigs(ctx context.Context, rr kmsg.DescribeConfigsRequestResource) ([]ConfigEntry, error) {
	if h.ClusterAdmin == nil {
		return nil, errors.New("no cluster admin")
	}
	if rr.ResourceType == kmsg.ConfigResourceTypeTopic {
		if err := validateTopicName(rr.ResourceName); err != nil {
			return nil, err
		}
	}
	var names []string
	if rr.ConfigNames != nil {
		names = append([]string{}, rr.ConfigNames...)
	}
	return h.ClusterAdmin.DescribeConfigs(ctx, ConfigResource{Type: rr.ResourceType, Name: rr.ResourceName}, names)
}

// configErrorMessage is the message of a config API error: Kafka sends its
// exception message, null for NOT_CONTROLLER-style bare codes.
func configErrorMessage(err error) *string {
	if m := errorMessage(err); m != nil {
		return m
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return nil
	}
	m := err.Error()
	return &m
}
