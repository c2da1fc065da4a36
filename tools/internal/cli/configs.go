package cli

import (
	"strconv"

	"github.com/IBM/sarama"
)

// FromCode is the Kafka exception of an error code, with the broker's
// message when it sent one (ApiError.exception()).
func FromCode(code int16, msg string) *KafkaError {
	k := fromCode(code)
	if msg != "" {
		k.Msg = msg
	}
	return k
}

// configBroker is where a config request for resource goes: a broker
// resource with an id to that broker (Kafka's admin client does the same),
// anything else to the controller.
func configBroker(client sarama.Client, typ sarama.ConfigResourceType, name string) (*sarama.Broker, error) {
	if (typ == sarama.BrokerResource && name != "") || typ == sarama.BrokerLoggerResource {
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil {
			return nil, Errorf("IllegalArgumentException", "The entity name for brokers must be a valid integer broker id, found: %s", name)
		}
		b, err := client.Broker(int32(id))
		if err != nil {
			return nil, AsKafka(err, "incrementalAlterConfigs")
		}
		if ok, _ := b.Connected(); !ok {
			if err := b.Open(client.Config()); err != nil && err != sarama.ErrAlreadyConnected {
				return nil, AsKafka(err, "incrementalAlterConfigs")
			}
		}
		return b, nil
	}
	b, err := client.Controller()
	if err != nil {
		return nil, AsKafka(err, "incrementalAlterConfigs")
	}
	return b, nil
}

// IncrementalAlterConfigs applies ops to each resource, one request per
// broker the resources need (Admin.incrementalAlterConfigs), and returns the
// first resource's error as Kafka's exception with the broker's message
// (sarama's ClusterAdmin keeps only the code for several resources).
func IncrementalAlterConfigs(client sarama.Client, resources []*sarama.IncrementalAlterConfigsResource) error {
	byBroker := map[*sarama.Broker][]*sarama.IncrementalAlterConfigsResource{}
	var order []*sarama.Broker
	for _, r := range resources {
		b, err := configBroker(client, r.Type, r.Name)
		if err != nil {
			return err
		}
		if _, ok := byBroker[b]; !ok {
			order = append(order, b)
		}
		byBroker[b] = append(byBroker[b], r)
	}
	for _, b := range order {
		if err := RequireAPI(b, 44); err != nil {
			return err
		}
		req := &sarama.IncrementalAlterConfigsRequest{Version: 1, Resources: byBroker[b]}
		res, err := b.IncrementalAlterConfigs(req)
		if err != nil {
			return AsKafka(err, "incrementalAlterConfigs")
		}
		for _, r := range res.Resources {
			if r.ErrorCode != 0 {
				return FromCode(r.ErrorCode, r.ErrorMsg)
			}
		}
	}
	return nil
}

// AlterConfigs replaces a resource's dynamic config with entries (the
// legacy Admin.alterConfigs kafka-configs uses for brokers).
func AlterConfigs(client sarama.Client, typ sarama.ConfigResourceType, name string, entries map[string]*string) error {
	b, err := configBroker(client, typ, name)
	if err != nil {
		return err
	}
	req := &sarama.AlterConfigsRequest{Version: 1, Resources: []*sarama.AlterConfigsResource{{Type: typ, Name: name, ConfigEntries: entries}}}
	res, err := b.AlterConfigs(req)
	if err != nil {
		return AsKafka(err, "alterConfigs")
	}
	for _, r := range res.Resources {
		if r.ErrorCode != 0 {
			return FromCode(r.ErrorCode, r.ErrorMsg)
		}
	}
	return nil
}
