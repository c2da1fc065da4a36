package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// anyLogDir is the log_dirs entry that leaves the directory to the broker.
const anyLogDir = "any"

const (
	adminCommandFailed = "org.apache.kafka.server.common.AdminCommandFailedException"
	adminOperation     = "org.apache.kafka.server.common.AdminOperationException"
)

// replica is Kafka's TopicPartitionReplica.
type replica struct {
	tp     cli.TopicPartition
	broker int32
}

func (r replica) String() string {
	return fmt.Sprintf("%s-%d-%d", r.tp.Topic, r.tp.Partition, r.broker)
}

// target is one "partitions" entry of a reassignment file.
type target struct {
	tp       cli.TopicPartition
	replicas []int32
}

// javaList is how Java prints a List: "[1, 2, 3]".
func javaList[T any](v []T) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// parseReassignmentJSON is parsePartitionReassignmentData: the targets in
// file order and the replicas given an explicit log dir.
func parseReassignmentJSON(data string) ([]target, map[replica]string, error) {
	js, ok := cli.ParseJSONObject(data)
	if !ok {
		var v any
		err := json.Unmarshal([]byte(data), &v)
		msg := "Unexpected end-of-input"
		if err != nil {
			msg = err.Error()
		}
		return nil, nil, cli.Errorf(adminOperation, "com.fasterxml.jackson.core.JsonParseException: %s", msg)
	}
	version, err := js.Version(1)
	if err != nil {
		return nil, nil, err
	}
	if version != 1 {
		return nil, nil, cli.Errorf(adminOperation, "Not supported version field value %d", version)
	}
	var targets []target
	dirs := map[replica]string{}
	if !js.Has("partitions") {
		return targets, dirs, nil
	}
	parts, err := js.Objects("partitions")
	if err != nil {
		return nil, nil, err
	}
	for _, p := range parts {
		topic, err := p.String("topic")
		if err != nil {
			return nil, nil, err
		}
		partition, err := p.Int("partition")
		if err != nil {
			return nil, nil, err
		}
		replicas, err := p.IntList("replicas")
		if err != nil {
			return nil, nil, err
		}
		tp := cli.TopicPartition{Topic: topic, Partition: partition}
		logDirs := make([]string, len(replicas))
		for i := range logDirs {
			logDirs[i] = anyLogDir
		}
		if p.Has("log_dirs") {
			if logDirs, err = p.StringList("log_dirs"); err != nil {
				return nil, nil, err
			}
		}
		if len(replicas) != len(logDirs) {
			return nil, nil, cli.Errorf(adminCommandFailed, "Size of replicas list %s is different from size of log dirs list %s for partition %s", javaList(replicas), javaList(logDirs), tp)
		}
		targets = append(targets, target{tp, replicas})
		for i, d := range logDirs {
			if d != anyLogDir {
				dirs[replica{tp, replicas[i]}] = d
			}
		}
	}
	return targets, dirs, nil
}

// validateExecute is parseExecuteAssignmentArgs' checks.
func validateExecute(targets []target) error {
	if len(targets) == 0 {
		return cli.Errorf(adminCommandFailed, "Partition reassignment list cannot be empty")
	}
	for _, t := range targets {
		if len(t.replicas) == 0 {
			return cli.Errorf(adminCommandFailed, "Partition replica list cannot be empty")
		}
	}
	seen := map[cli.TopicPartition]int{}
	var dups []cli.TopicPartition
	for _, t := range targets {
		if seen[t.tp]++; seen[t.tp] == 2 {
			dups = append(dups, t.tp)
		}
	}
	if len(dups) > 0 {
		return cli.Errorf(adminCommandFailed, "Partition reassignment contains duplicate topic partitions: %s", cli.JoinTopicPartitions(dups, ","))
	}
	var msgs []string
	for _, t := range targets {
		if d := duplicates(t.replicas); len(d) > 0 {
			msgs = append(msgs, fmt.Sprintf("%s contains multiple entries for %s", t.tp, cli.JoinInts(d, ",")))
		}
	}
	if len(msgs) > 0 {
		return cli.Errorf(adminCommandFailed, "Partition replica lists may not contain duplicate entries: %s", strings.Join(msgs, ". "))
	}
	return nil
}

// duplicates is ToolsUtils.duplicates: the values found more than once.
func duplicates[T comparable](v []T) []T {
	seen := map[T]int{}
	var out []T
	for _, x := range v {
		if seen[x]++; seen[x] == 2 {
			out = append(out, x)
		}
	}
	return out
}

// parseTopicsJSON is parseTopicsData: {"topics":[{"topic":"foo"}],"version":1}.
func parseTopicsJSON(data string) ([]string, error) {
	js, ok := cli.ParseJSONObject(data)
	if !ok {
		return nil, cli.Errorf(adminOperation, "The input string is not a valid JSON")
	}
	version, err := js.Version(1)
	if err != nil {
		return nil, err
	}
	if version != 1 {
		return nil, cli.Errorf(adminOperation, "Not supported version field value %d", version)
	}
	var topics []string
	if !js.Has("topics") {
		return topics, nil
	}
	objs, err := js.Objects("topics")
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		t, err := o.String("topic")
		if err != nil {
			return nil, err
		}
		topics = append(topics, t)
	}
	return topics, nil
}

// reassignmentEntry and reassignmentFile are the JSON
// formatAsReassignmentJson writes, field order included.
type reassignmentEntry struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs"`
}

type reassignmentFile struct {
	Version    int                 `json:"version"`
	Partitions []reassignmentEntry `json:"partitions"`
}

// formatReassignmentJSON is formatAsReassignmentJson: partitions sorted,
// log_dirs "any" unless dirs names one.
func formatReassignmentJSON(assignment map[cli.TopicPartition][]int32, dirs map[replica]string) string {
	tps := make([]cli.TopicPartition, 0, len(assignment))
	for tp := range assignment {
		tps = append(tps, tp)
	}
	cli.SortTopicPartitions(tps)
	f := reassignmentFile{Version: 1, Partitions: []reassignmentEntry{}}
	for _, tp := range tps {
		e := reassignmentEntry{Topic: tp.Topic, Partition: tp.Partition, Replicas: assignment[tp], LogDirs: []string{}}
		if e.Replicas == nil {
			e.Replicas = []int32{}
		}
		for _, r := range assignment[tp] {
			d, ok := dirs[replica{tp, r}]
			if !ok {
				d = anyLogDir
			}
			e.LogDirs = append(e.LogDirs, d)
		}
		f.Partitions = append(f.Partitions, e)
	}
	b, _ := json.Marshal(f)
	return string(b)
}
