package zkpaths

import (
	"path"
	"strconv"
)

// Fixed znode paths, relative to the chroot of zookeeper.connect (ZkData.scala).
const (
	ClusterIDPath             = "/cluster/id"
	ControllerPath            = "/controller"
	ControllerEpochPath       = "/controller_epoch"
	BrokersPath               = "/brokers"
	BrokerIDsPath             = "/brokers/ids"
	BrokerSeqIDPath           = "/brokers/seqid"
	TopicsPath                = "/brokers/topics"
	ConfigPath                = "/config"
	ConfigChangesPath         = "/config/changes"
	AdminPath                 = "/admin"
	DeleteTopicsPath          = "/admin/delete_topics"
	ReassignPartitionsPath    = "/admin/reassign_partitions"
	PreferredReplicaElection  = "/admin/preferred_replica_election"
	ConsumersPath             = "/consumers"
	IsrChangeNotificationPath = "/isr_change_notification"
	LogDirEventNotification   = "/log_dir_event_notification"
	ProducerIDBlockPath       = "/latest_producer_id_block"
	FeaturePath               = "/feature"
)

// Config entity types (Kafka's ConfigType.all), the children of /config.
const (
	ConfigTypeTopic   = "topics"
	ConfigTypeClient  = "clients"
	ConfigTypeUser    = "users"
	ConfigTypeBroker  = "brokers"
	ConfigTypeIP      = "ips"
	ConfigDefaultName = "<default>" // ConfigEntityName.Default
)

// ConfigTypes lists ConfigType.all in Kafka's order.
var ConfigTypes = []string{ConfigTypeTopic, ConfigTypeClient, ConfigTypeUser, ConfigTypeBroker, ConfigTypeIP}

// PersistentPaths returns the paths every broker ensures at start-up
// (KafkaZkClient.createTopLevelPaths / ZkData.PersistentZkPaths), in Kafka's
// order. Each is a persistent znode with null data; parents are created too.
func PersistentPaths() []string {
	ps := []string{
		ConsumersPath,
		BrokerIDsPath,
		TopicsPath,
		ConfigChangesPath,
		DeleteTopicsPath,
		BrokerSeqIDPath,
		IsrChangeNotificationPath,
		ProducerIDBlockPath,
		LogDirEventNotification,
	}
	for _, t := range ConfigTypes {
		ps = append(ps, ConfigEntityTypePath(t))
	}
	return ps
}

// BrokerIDPath is /brokers/ids/<id>, the broker's ephemeral registration
// (BrokerIdZNode).
func BrokerIDPath(id int32) string { return BrokerIDsPath + "/" + strconv.Itoa(int(id)) }

// TopicPath is /brokers/topics/<topic>, the replica assignment (TopicZNode).
func TopicPath(topic string) string { return TopicsPath + "/" + topic }

// TopicPartitionsPath is /brokers/topics/<topic>/partitions.
func TopicPartitionsPath(topic string) string { return TopicPath(topic) + "/partitions" }

// TopicPartitionPath is /brokers/topics/<topic>/partitions/<p>.
func TopicPartitionPath(topic string, partition int32) string {
	return TopicPartitionsPath(topic) + "/" + strconv.Itoa(int(partition))
}

// PartitionStatePath is /brokers/topics/<topic>/partitions/<p>/state, the
// leader and ISR (TopicPartitionStateZNode).
func PartitionStatePath(topic string, partition int32) string {
	return TopicPartitionPath(topic, partition) + "/state"
}

// ConfigEntityTypePath is /config/<entityType>.
func ConfigEntityTypePath(entityType string) string { return ConfigPath + "/" + entityType }

// ConfigEntityPath is /config/<entityType>/<entityName> (ConfigEntityZNode).
func ConfigEntityPath(entityType, entityName string) string {
	return ConfigEntityTypePath(entityType) + "/" + entityName
}

// ConfigTopicPath is /config/topics/<topic>.
func ConfigTopicPath(topic string) string { return ConfigEntityPath(ConfigTypeTopic, topic) }

// ConfigBrokerPath is /config/brokers/<id>; use ConfigDefaultName for the
// cluster-wide default.
func ConfigBrokerPath(name string) string { return ConfigEntityPath(ConfigTypeBroker, name) }

// ConfigChangeNotificationPrefix is the sequential-node prefix under
// /config/changes (config_change_NNNNNNNNNN).
const ConfigChangeNotificationPrefix = ConfigChangesPath + "/config_change_"

// DeleteTopicPath is /admin/delete_topics/<topic>, the deletion marker
// (DeleteTopicsTopicZNode).
func DeleteTopicPath(topic string) string { return DeleteTopicsPath + "/" + topic }

// IsrChangeNotificationPrefix is the sequential-node prefix under
// /isr_change_notification.
const IsrChangeNotificationPrefix = IsrChangeNotificationPath + "/isr_change_"

// LogDirEventNotificationPrefix is the sequential-node prefix under
// /log_dir_event_notification.
const LogDirEventNotificationPrefix = LogDirEventNotification + "/log_dir_event_"

// parentPath is the parent of p ("/" for top-level nodes).
func parentPath(p string) string { return path.Dir(p) }
