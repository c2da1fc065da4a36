package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// topicDesc is what --describe prints of one topic, independent of where
// it came from, so the formatting is tested with fixed data.
type topicDesc struct {
	Name       string
	ID         string // "" when the broker has no topic id (Uuid.ZERO_UUID)
	Configs    []configEntry
	MinISR     int // min.insync.replicas of the topic
	Partitions []partitionDesc
}

type configEntry struct {
	Name, Value string
	Default     bool
}

type partitionDesc struct {
	Partition int32
	Leader    int32 // -1: none
	Replicas  []int32
	ISR       []int32
}

// describeFilter is DescribeOptions: which lines --describe prints.
type describeFilter struct {
	underReplicated, unavailable, underMinIsr, atMinIsr, withOverrides bool
	liveBrokers                                                        map[int32]bool
}

func (f describeFilter) describeConfigs() bool {
	return !f.unavailable && !f.underReplicated && !f.underMinIsr && !f.atMinIsr
}

func (f describeFilter) printPartition(t *topicDesc, p partitionDesc) bool {
	if f.describeConfigs() {
		return true
	}
	hasLeader := p.Leader >= 0
	switch {
	case f.underReplicated && len(p.Replicas)-len(p.ISR) > 0:
		return true
	case f.unavailable && (!hasLeader || !f.liveBrokers[p.Leader]):
		return true
	case f.underMinIsr && (!hasLeader || len(p.ISR) < t.MinISR):
		return true
	case f.atMinIsr && len(p.ISR) == t.MinISR:
		return true
	}
	return false
}

// writeDescribe prints topics as TopicCommand does: a topic line
// "Topic: t\tTopicId: id\tPartitionCount: n\tReplicationFactor: r\tConfigs: k=v,..."
// then one "\tTopic: t\tPartition: p\tLeader: l\tReplicas: a,b\tIsr: a,b"
// line per partition, in partition order.
func writeDescribe(w io.Writer, topics []topicDesc, f describeFilter) {
	for i := range topics {
		t := &topics[i]
		sort.Slice(t.Partitions, func(a, b int) bool { return t.Partitions[a].Partition < t.Partitions[b].Partition })
		var overridden []string
		for _, c := range t.Configs {
			if !c.Default {
				overridden = append(overridden, c.Name+"="+c.Value)
			}
		}
		if f.describeConfigs() && len(t.Partitions) > 0 && (!f.withOverrides || len(overridden) > 0) {
			var b strings.Builder
			b.WriteString("Topic: " + t.Name)
			if t.ID != "" {
				b.WriteString("\tTopicId: " + t.ID)
			}
			fmt.Fprintf(&b, "\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
				len(t.Partitions), len(t.Partitions[0].Replicas), strings.Join(overridden, ","))
			io.WriteString(w, b.String())
		}
		if f.withOverrides {
			continue
		}
		for _, p := range t.Partitions {
			if !f.printPartition(t, p) {
				continue
			}
			leader := "none"
			if p.Leader >= 0 {
				leader = strconv.Itoa(int(p.Leader))
			}
			fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\n",
				t.Name, p.Partition, leader, joinIDs(p.Replicas), joinIDs(p.ISR))
		}
	}
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// internalTopics are Kafka's Topic.isInternal names.
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true}

// selectTopics is TopicCommand.doGetTopics: all (sorted) names, filtered by
// --topic as a regular expression matching the whole name (IncludeList: ','
// means '|', spaces and surrounding quotes are dropped) and by
// --exclude-internal.
func selectTopics(all []string, include string, hasInclude, excludeInternal bool) ([]string, error) {
	sort.Strings(all)
	var re *regexp.Regexp
	if hasInclude {
		raw := strings.TrimSpace(include)
		raw = strings.ReplaceAll(raw, ",", "|")
		raw = strings.ReplaceAll(raw, " ", "")
		raw = strings.Trim(raw, "\"'")
		var err error
		re, err = regexp.Compile("^(?:" + raw + ")$")
		if err != nil {
			return nil, cli.Errorf("InvalidTopicException", "%s is an invalid regex.", include)
		}
	}
	var out []string
	for _, t := range all {
		if excludeInternal && internalTopics[t] {
			continue
		}
		if re != nil && !re.MatchString(t) {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// parseReplicaAssignment is TopicCommand.parseReplicaAssignment:
// "0:1,1:2" is partition 0 on brokers 0 and 1, partition 1 on 1 and 2.
func parseReplicaAssignment(s string) (map[int32][]int32, error) {
	out := map[int32][]int32{}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		var ids []int32
		seen := map[int32]bool{}
		var dups []string
		for _, b := range strings.Split(p, ":") {
			n, err := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
			if err != nil {
				return nil, cli.Errorf("NumberFormatException", "For input string: \"%s\"", strings.TrimSpace(b))
			}
			if seen[int32(n)] {
				dups = append(dups, strconv.Itoa(int(n)))
			}
			seen[int32(n)] = true
			ids = append(ids, int32(n))
		}
		if len(dups) > 0 {
			return nil, cli.Errorf("AdminCommandFailedException", "Partition replica lists may not contain duplicate entries: %s", strings.Join(dups, ","))
		}
		out[int32(i)] = ids
		if len(ids) != len(out[0]) {
			return nil, cli.Errorf("AdminOperationException", "Partition %d has different replication factor: [%s]", i, joinIDsSpace(ids))
		}
	}
	return out, nil
}

func joinIDsSpace(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ", ")
}

// parseConfigs is parseTopicConfigsToBeAdded: every --config is key=value.
func parseConfigs(kvs []string) (map[string]*string, error) {
	out := map[string]*string{}
	for _, kv := range kvs {
		parts := regexp.MustCompile(`\s*=\s*`).Split(kv, -1)
		if len(parts) != 2 {
			return nil, cli.Errorf("IllegalArgumentException", "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".")
		}
		v := strings.TrimSpace(parts[1])
		out[strings.TrimSpace(parts[0])] = &v
	}
	return out, nil
}
