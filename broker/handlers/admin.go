package handlers

import "context"

// TopicAdmin writes topic creations and deletions to ZooKeeper, as Kafka's
// AdminZkClient does; the controller then acts on the znodes. The
// coordinator package implements it (coordinator.Admin). Handlers call it
// instead of touching ZooKeeper themselves.
//
// Errors a client should see are *apierr.Error values with Kafka's code and
// message: TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
// INVALID_REPLICATION_FACTOR ("Replication factor: 2 larger than available
// brokers: 1."), INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG,
// UNKNOWN_TOPIC_OR_PARTITION, TOPIC_DELETION_DISABLED.
type TopicAdmin interface {
	// CreateTopic validates t and, unless t.ValidateOnly, writes
	// /config/topics/<t> and /brokers/topics/<t> (with a new topic id). It
	// returns once the znodes are written, not when leaders exist.
	CreateTopic(ctx context.Context, t NewTopic) error
	// DeleteTopic marks the topic for deletion (/admin/delete_topics/<t>).
	DeleteTopic(ctx context.Context, topic string) error
}

// NewTopic is one topic to create.
type NewTopic struct {
	Name              string
	NumPartitions     int32             // -1: num.partitions
	ReplicationFactor int16             // -1: default.replication.factor
	Assignment        map[int32][]int32 // explicit replica assignment; nil: Kafka's algorithm over live brokers
	Configs           map[string]string // topic config overrides
	ValidateOnly      bool
}
