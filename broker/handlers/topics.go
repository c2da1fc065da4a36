package handlers

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/metadata"
)

// maxTopicNameLength is Kafka's Topic.MAX_NAME_LENGTH.
const maxTopicNameLength = 249

// validateTopicName is Kafka's Topic.validate: INVALID_TOPIC_EXCEPTION (17)
// with Kafka's message for an empty name, "." or "..", a name longer than
// 249 characters, or one with a character other than [a-zA-Z0-9._-].
func validateTopicName(name string) error {
	invalid := func(format string, args ...any) error {
		return apierr.New(kerr.InvalidTopicException, fmt.Sprintf(format, args...))
	}
	switch {
	case name == "":
		return invalid("Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return invalid("Topic name cannot be \".\" or \"..\"")
	case len(name) > maxTopicNameLength:
		return invalid("Topic name is illegal, it can't be longer than %d characters, topic name: %s", maxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid("Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// isInternalTopic reports Kafka's internal topics.
func isInternalTopic(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}

// refineNotHosted turns the replica manager's UNKNOWN_TOPIC_OR_PARTITION into
// NOT_LEADER_OR_FOLLOWER when the metadata cache knows the partition (it
// lives on another broker, or this broker has not received its LeaderAndIsr
// yet), as Kafka's ReplicaManager.getPartitionOrError does.
func refineNotHosted(snap *metadata.Snapshot, topic string, partition int32, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		if _, ok := snap.Partition(topic, partition); ok {
			return kerr.NotLeaderForPartition
		}
	}
	return err
}

// currentLeader returns the leader and leader epoch the cache knows, for the
// CurrentLeader fields of Produce v10+ / Fetch v12+ errors (KIP-951).
func currentLeader(snap *metadata.Snapshot, topic string, partition int32) (int32, int32) {
	leader, epoch, ok := snap.Leader(topic, partition)
	if !ok {
		return -1, -1
	}
	if _, live := snap.Broker(leader); !live {
		return -1, -1
	}
	return leader, epoch
}
