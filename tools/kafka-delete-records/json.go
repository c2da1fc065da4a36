package main

import (
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// partitionOffset is one entry of the offset JSON file.
type partitionOffset struct {
	tp     cli.TopicPartition
	offset int64
}

func adminOperation(format string, a ...any) error {
	return cli.Errorf("org.apache.kafka.server.common.AdminOperationException", format, a...)
}

// parseOffsetJSON is DeleteRecordsCommand.parseOffsetJsonStringWithoutDedup
// plus its duplicate check: version 1 (the default) with a "partitions"
// list of {"topic", "partition", "offset"}.
func parseOffsetJSON(data string) ([]partitionOffset, error) {
	js, ok := cli.ParseJSONObject(data)
	if !ok {
		return nil, adminOperation("The input string is not a valid JSON")
	}
	version, err := js.Version(1)
	if err != nil {
		return nil, err
	}
	if version != 1 {
		return nil, adminOperation("Not supported version field value %d", version)
	}
	if !js.Has("partitions") {
		return nil, adminOperation("Missing partitions field")
	}
	parts, err := js.Objects("partitions")
	if err != nil {
		return nil, err
	}
	var out []partitionOffset
	seen := map[cli.TopicPartition]int{}
	var dups []string
	for _, p := range parts {
		topic, err := p.String("topic")
		if err != nil {
			return nil, err
		}
		partition, err := p.Int("partition")
		if err != nil {
			return nil, err
		}
		offset, err := p.Long("offset")
		if err != nil {
			return nil, err
		}
		tp := cli.TopicPartition{Topic: topic, Partition: partition}
		if seen[tp]++; seen[tp] == 2 {
			dups = append(dups, tp.String())
		}
		out = append(out, partitionOffset{tp, offset})
	}
	if len(dups) > 0 {
		return nil, cli.Errorf("org.apache.kafka.server.common.AdminCommandFailedException", "Offset json file contains duplicate topic partitions: %s", strings.Join(dups, ","))
	}
	return out, nil
}
