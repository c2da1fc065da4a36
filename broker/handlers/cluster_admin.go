package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterAdmin is what the cluster-operation APIs need beyond TopicAdmin:
// dynamic configs (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs)
// and partition addition (CreatePartitions). coordinator.Admin implements it
// through ZooKeeper, as Kafka's ZkAdminManager + AdminZkClient do; handlers
// never touch ZooKeeper themselves.
//
// Errors a client should see are *apierr.Error values carrying Kafka's code
// and message (UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG, INVALID_REQUEST
// "Invalid config value for resource ...", INVALID_PARTITIONS,
// INVALID_REPLICA_ASSIGNMENT, ...).
type ClusterAdmin interface {
	// DescribeConfigs returns the resource's configs, every one when names
	// is nil, else those named (unknown names are left out). Synonyms are
	// always filled; the handler drops them when not asked for.
	DescribeConfigs(ctx context.Context, res ConfigResource, names []string) ([]ConfigEntry, error)
	// AlterConfigs replaces the resource's whole dynamic config with
	// entries (the legacy AlterConfigs semantics), unless validateOnly.
	AlterConfigs(ctx context.Context, res ConfigResource, entries []ConfigOp, validateOnly bool) error
	// IncrementalAlterConfigs applies ops (set, delete, append, subtract)
	// to the resource's dynamic config, unless validateOnly.
	IncrementalAlterConfigs(ctx context.Context, res ConfigResource, ops []ConfigOp, validateOnly bool) error
	// CreatePartitions grows topic to count partitions; assignment, when
	// not nil, holds the replicas of each new partition in order. It
	// returns once /brokers/topics/<topic> is rewritten (or validated).
	CreatePartitions(ctx context.Context, topic string, count int32, assignment [][]int32, validateOnly bool) error
}

// ConfigResource names a config entity: a topic, a broker id, or the
// cluster-wide broker default (Type broker, Name "").
type ConfigResource struct {
	Type kmsg.ConfigResourceType
	Name string
}

// ConfigEntry is one described config (DescribeConfigsResourceResult).
type ConfigEntry struct {
	Name      string
	Value     *string // nil for sensitive configs and unset ones
	Source    kmsg.ConfigSource
	ReadOnly  bool
	Sensitive bool
	Type      kmsg.ConfigType
	Doc       *string
	// Synonyms in order of precedence, the entry's own source first.
	Synonyms []ConfigSynonym
}

// ConfigSynonym is one source of a config's value (DescribeConfigsSynonym).
type ConfigSynonym struct {
	Name   string
	Value  *string
	Source kmsg.ConfigSource
}

// ConfigOp is one change: AlterConfigs sends only sets (Op 0);
// IncrementalAlterConfigs also delete (1), append (2) and subtract (3).
type ConfigOp struct {
	Name  string
	Value *string
	Op    kmsg.IncrementalAlterConfigOp
}
