package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// TopicPartition is Kafka's org.apache.kafka.common.TopicPartition: the
// tools print it as "topic-partition".
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// SortTopicPartitions orders by topic, then partition, as the tools'
// compareTopicPartitions does.
func SortTopicPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// JoinTopicPartitions sorts tps and joins their names with sep.
func JoinTopicPartitions(tps []TopicPartition, sep string) string {
	tps = append([]TopicPartition(nil), tps...)
	SortTopicPartitions(tps)
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = tp.String()
	}
	return strings.Join(s, sep)
}

// JoinInts joins ids with sep ("0,1,2"), as Utils.join does.
func JoinInts(ids []int32, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, sep)
}
