package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// service holds the admin client ConfigCommand.processCommand creates.
type service struct {
	o      *options
	out    io.Writer
	client sarama.Client
	admin  sarama.ClusterAdmin
}

func newService(o *options, out io.Writer) (*service, error) {
	props, err := cli.LoadProperties(o.commandConfig.Value())
	if err != nil {
		return nil, err
	}
	cfg, err := cli.NewConfig("adminclient-1", props)
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(cli.Bootstrap(o.bootstrap.Value()), cfg)
	if err != nil {
		return nil, &execError{cli.AsKafka(err, "describeConfigs")}
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, &execError{cli.AsKafka(err, "describeConfigs")}
	}
	return &service{o: o, out: out, client: client, admin: admin}, nil
}

func (s *service) close() { s.admin.Close() }

// resourceType maps an entity type to its ConfigResource.Type and the
// source its dynamic configs come from (getResourceConfig).
func resourceType(entityType, name string) (sarama.ConfigResourceType, sarama.ConfigSource, error) {
	switch entityType {
	case typeTopics:
		if name != "" {
			if err := validateTopicName(name); err != nil {
				return 0, 0, err
			}
		}
		return sarama.TopicResource, sarama.SourceTopic, nil
	case typeBrokers:
		if name == "" {
			return sarama.BrokerResource, sarama.SourceDynamicDefaultBroker, nil
		}
		if _, err := strconv.ParseInt(name, 10, 32); err != nil {
			return 0, 0, illegal("The entity name for %s must be a valid integer broker id, found: %s", entityType, name)
		}
		return sarama.BrokerResource, sarama.SourceDynamicBroker, nil
	case typeBrokerLoggers:
		if _, err := strconv.ParseInt(name, 10, 32); name != "" && err != nil {
			return 0, 0, illegal("The entity name for %s must be a valid integer broker id, found: %s", entityType, name)
		}
		return sarama.BrokerLoggerResource, -1, nil
	case typeClientMetrics:
		return sarama.ConfigResourceType(16), 7, nil
	}
	return 0, 0, illegal("Invalid entity type: %s", entityType)
}

// resourceConfig is ConfigCommand.getResourceConfig: the entries of one
// resource, only the dynamic ones unless all, sorted by name.
func (s *service) resourceConfig(entityType, name string, synonyms, all bool) ([]sarama.ConfigEntry, error) {
	typ, dynamic, err := resourceType(entityType, name)
	if err != nil {
		return nil, err
	}
	res, err := s.admin.DescribeConfigs([]*sarama.ConfigResource{{Type: typ, Name: name}}, sarama.DescribeConfigsOptions{IncludeSynonyms: synonyms})
	if err != nil {
		return nil, &execError{cli.AsKafka(err, "describeConfigs")}
	}
	if len(res) == 0 {
		return nil, &execError{cli.Errorf("UnknownServerException", "The broker did not describe %s %s", entityType, name)}
	}
	if res[0].ErrorCode != sarama.ErrNoError {
		return nil, &execError{cli.FromCode(int16(res[0].ErrorCode), res[0].ErrorMsg)}
	}
	var out []sarama.ConfigEntry
	for _, e := range res[0].Configs {
		if all || dynamic < 0 || e.Source == dynamic {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *service) describeConfig() error {
	types, names := s.o.entityTypes(), s.o.entityNames()
	switch types[0] {
	case typeTopics, typeBrokers, typeBrokerLoggers, typeClientMetrics:
		return s.describeResourceConfig(types[0], names)
	case typeUsers, typeClients, typeIPs:
		return s.describeQuotas(types, names)
	}
	return illegal("Invalid entity type: %s", types[0])
}

// describeResourceConfig prints "Dynamic configs for topic t are:" (or
// "All configs", or "Default configs for brokers in the cluster are:") and
// one line per entry, for the entity named or every one of its type.
func (s *service) describeResourceConfig(entityType string, names []string) error {
	var entities []string
	if len(names) > 0 {
		entities = names[:1]
	} else {
		switch entityType {
		case typeTopics:
			topics, err := s.admin.ListTopics()
			if err != nil {
				return &execError{cli.AsKafka(err, "listTopics")}
			}
			entities = sortedKeys(topics)
		case typeBrokers, typeBrokerLoggers:
			brokers, _, err := s.admin.DescribeCluster()
			if err != nil {
				return &execError{cli.AsKafka(err, "describeCluster")}
			}
			var ids []int
			for _, b := range brokers {
				ids = append(ids, int(b.ID()))
			}
			sort.Ints(ids)
			for _, id := range ids {
				entities = append(entities, strconv.Itoa(id))
			}
			entities = append(entities, "")
		default:
			controller, err := s.admin.Controller()
			if err != nil {
				return &execError{cli.AsKafka(err, "listClientMetricsResources")}
			}
			if err := cli.RequireAPI(controller, 74); err != nil {
				return &execError{err}
			}
		}
	}
	all := s.o.all.Has()
	for _, name := range entities {
		if name == "" && entityType != typeTopics {
			fmt.Fprintf(s.out, "Default configs for %s in the cluster are:\n", entityType)
		} else {
			source := "Dynamic"
			if all {
				source = "All"
			}
			fmt.Fprintf(s.out, "%s configs for %s %s are:\n", source, strings.TrimSuffix(entityType, "s"), name)
		}
		entries, err := s.resourceConfig(entityType, name, true, all)
		if err != nil {
			return err
		}
		for _, e := range entries {
			writeEntry(s.out, e)
		}
	}
	return nil
}

// configsToBeAdded is ConfigCommand.parseConfigsToBeAdded.
func (s *service) configsToBeAdded() (map[string]string, error) {
	props := map[string]string{}
	if s.o.addConfigFile.Has() {
		p, err := cli.LoadProperties(s.o.addConfigFile.Value())
		if err != nil {
			return nil, err
		}
		props = p
	}
	if s.o.addConfig.Has() {
		p, err := parseAddConfig(s.o.addConfig.Value())
		if err != nil {
			return nil, err
		}
		for k, v := range p {
			props[k] = v
		}
	}
	if v, ok := props["message.format.version"]; ok {
		fmt.Fprintf(s.out, "WARNING: The configuration message.format.version=%s is specified. This configuration will be ignored if the version is newer than the inter.broker.protocol.version specified in the broker or if the inter.broker.protocol.version is 3.0 or newer. This configuration is deprecated and it will be removed in Apache Kafka 4.0.\n", v)
	}
	return props, validateKeys(props)
}

// configsToBeDeleted is --delete-config, split at commas.
func (s *service) configsToBeDeleted() []string {
	var keys []string
	for _, v := range s.o.deleteCfg.Values() {
		for _, k := range strings.Split(v, ",") {
			keys = append(keys, strings.TrimSpace(k))
		}
	}
	return keys
}

func (s *service) alterConfig() error {
	types, names := s.o.entityTypes(), s.o.entityNames()
	add, err := s.configsToBeAdded()
	if err != nil {
		return err
	}
	del := s.configsToBeDeleted()
	typ, name := types[0], names[0]
	switch typ {
	case typeTopics, typeClientMetrics, typeBrokerLoggers:
		if err := s.alterResourceConfig(typ, name, add, del); err != nil {
			return err
		}
	case typeBrokers:
		if err := s.alterBrokerConfig(name, add, del); err != nil {
			return err
		}
	case typeUsers, typeClients, typeIPs:
		if err := s.alterQuotas(types, names, add, del); err != nil {
			return err
		}
	default:
		return illegal("Unsupported entity type: %s", typ)
	}
	if name != "" {
		fmt.Fprintf(s.out, "Completed updating config for %s %s.\n", strings.TrimSuffix(typ, "s"), name)
	} else {
		fmt.Fprintf(s.out, "Completed updating default config for %s in the cluster.\n", typ)
	}
	return nil
}

// invalidDeletes fails when a key to delete is not set (ConfigCommand's
// "Invalid config(s): a,b").
func invalidDeletes(old []sarama.ConfigEntry, del []string) error {
	have := map[string]bool{}
	for _, e := range old {
		have[e.Name] = true
	}
	var bad []string
	for _, k := range del {
		if !have[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return cli.Errorf("InvalidConfigurationException", "Invalid config(s): %s", strings.Join(bad, ","))
	}
	return nil
}

// alterResourceConfig is ConfigCommand.alterResourceConfig: SET and DELETE
// ops through IncrementalAlterConfigs.
func (s *service) alterResourceConfig(entityType, name string, add map[string]string, del []string) error {
	old, err := s.resourceConfig(entityType, name, false, false)
	if err != nil {
		return err
	}
	if entityType == typeBrokerLoggers {
		// every logger named must exist (ConfigCommand's "Invalid broker logger(s)")
		if err := invalidDeletes(old, append(append([]string(nil), del...), sortedKeys(add)...)); err != nil {
			return cli.Errorf("InvalidConfigurationException", "%s", strings.Replace(err.Error(), "Invalid config(s)", "Invalid broker logger(s)", 1))
		}
	} else if err := invalidDeletes(old, del); err != nil {
		return err
	}
	typ, _, _ := resourceType(entityType, name)
	entries := map[string]sarama.IncrementalAlterConfigsEntry{}
	for k, v := range add {
		entries[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
	}
	for _, k := range del {
		empty := ""
		entries[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationDelete, Value: &empty}
	}
	err = cli.IncrementalAlterConfigs(s.client, []*sarama.IncrementalAlterConfigsResource{{Type: typ, Name: name, ConfigEntries: entries}})
	if err != nil {
		return &execError{err}
	}
	return nil
}

// alterBrokerConfig is ConfigCommand's broker case: the whole dynamic
// config is sent again through the legacy AlterConfigs, so a sensitive
// entry whose value the broker hides must be given again.
func (s *service) alterBrokerConfig(name string, add map[string]string, del []string) error {
	old, err := s.resourceConfig(typeBrokers, name, false, false)
	if err != nil {
		return err
	}
	if err := invalidDeletes(old, del); err != nil {
		return err
	}
	entries := map[string]*string{}
	hidden := map[string]bool{}
	for _, e := range old {
		v := e.Value
		entries[e.Name] = &v
		hidden[e.Name] = e.Sensitive
	}
	for k, v := range add {
		entries[k] = &v
		hidden[k] = false
	}
	for _, k := range del {
		delete(entries, k)
		delete(hidden, k)
	}
	var missing []string
	for _, k := range sortedKeys(hidden) {
		if hidden[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return cli.Errorf("InvalidConfigurationException", "All sensitive broker config entries must be specified for --alter, missing entries: Set(%s)", strings.Join(missing, ", "))
	}
	if err := cli.AlterConfigs(s.client, sarama.BrokerResource, name, entries); err != nil {
		return &execError{err}
	}
	return nil
}
