// kafka-delete-records deletes the records of partitions below an offset,
// with the flags and output of Kafka 3.x's bin/kafka-delete-records.sh
// (org.apache.kafka.tools.DeleteRecordsCommand):
//
//	kafka-delete-records --bootstrap-server localhost:9092 --offset-json-file offsets.json
//
// where offsets.json is {"partitions":[{"topic":"t","partition":0,"offset":3}],"version":1}
// (offset -1 is the high watermark). It prints "partition: t-0\tlow_watermark: 3"
// per partition, or "partition: t-0\terror: <exception>"; a partition that
// failed makes the exit status 1.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

const purpose = "This tool helps to delete records of the given partitions down to the specified offset."

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := cli.NewParser()
	bootstrap := p.Arg("bootstrap-server", "REQUIRED: The server to connect to.", "server(s) to use for bootstrapping")
	offsetFile := p.Arg("offset-json-file", "REQUIRED: The JSON file with offset per partition. The format to use is:\n{\"partitions\":\n  [{\"topic\": \"foo\", \"partition\": 1, \"offset\": 1}],\n \"version\":1\n}", "Offset json file path")
	commandConfig := p.Arg("command-config", "A property file containing configs to be passed to Admin Client.", "command config property file path")
	t := &cli.Tool{Stdout: stdout, Stderr: stderr, Parser: p, Purpose: purpose}
	if done, code := t.Start(args, true); done {
		return code
	}
	if err := cli.CheckRequired(bootstrap, offsetFile); err != nil {
		return t.Fail(err)
	}
	props, err := cli.LoadProperties(commandConfig.Value())
	if err != nil {
		return cli.MainException(t, err)
	}
	data, err := cli.ReadFile(offsetFile.Value())
	if err != nil {
		return cli.MainException(t, err)
	}
	offsets, err := parseOffsetJSON(data)
	if err != nil {
		return cli.MainException(t, err)
	}
	cfg, err := cli.NewConfig("adminclient-1", props)
	if err != nil {
		return cli.MainException(t, err)
	}
	cfg.Metadata.AllowAutoTopicCreation = false
	client, err := sarama.NewClient(cli.Bootstrap(bootstrap.Value()), cfg)
	if err != nil {
		return cli.MainException(t, cli.AsKafka(err, "deleteRecords"))
	}
	defer client.Close()
	fmt.Fprintln(stdout, "Executing records delete operation")
	results := deleteRecords(client, offsets)
	fmt.Fprintln(stdout, "Records delete operation completed:")
	if failed := writeResults(stdout, results); failed {
		return 1
	}
	return 0
}

// result is one partition's outcome: its new low watermark, or an error.
type result struct {
	tp           cli.TopicPartition
	lowWatermark int64
	err          error
}

// writeResults prints DeleteRecordsCommand's lines, partitions in order,
// and says whether any partition failed.
func writeResults(w io.Writer, results []result) bool {
	tps := make([]cli.TopicPartition, len(results))
	byTP := map[cli.TopicPartition]result{}
	for i, r := range results {
		tps[i] = r.tp
		byTP[r.tp] = r
	}
	cli.SortTopicPartitions(tps)
	failed := false
	for _, tp := range tps {
		r := byTP[tp]
		if r.err != nil {
			failed = true
			fmt.Fprintf(w, "partition: %s\terror: %s\n", tp, cli.JavaError(r.err))
			continue
		}
		fmt.Fprintf(w, "partition: %s\tlow_watermark: %d\n", tp, r.lowWatermark)
	}
	return failed
}

// deleteRecords is Admin.deleteRecords: one DeleteRecords request per
// partition leader. A topic the cluster does not know fails its partitions
// with UNKNOWN_TOPIC_OR_PARTITION, a partition without a leader with
// LEADER_NOT_AVAILABLE, as KafkaAdminClient does.
func deleteRecords(client sarama.Client, offsets []partitionOffset) []result {
	var results []result
	byLeader := map[*sarama.Broker][]partitionOffset{}
	var leaders []*sarama.Broker
	for _, po := range offsets {
		parts, err := client.Partitions(po.tp.Topic)
		if err != nil {
			results = append(results, result{tp: po.tp, err: cli.AsKafka(err, "deleteRecords")})
			continue
		}
		known := false
		for _, p := range parts {
			known = known || p == po.tp.Partition
		}
		var leader *sarama.Broker
		if known {
			leader, err = client.Leader(po.tp.Topic, po.tp.Partition)
		}
		if !known || err != nil {
			results = append(results, result{tp: po.tp, err: cli.FromCode(int16(sarama.ErrLeaderNotAvailable), "")})
			continue
		}
		if _, ok := byLeader[leader]; !ok {
			leaders = append(leaders, leader)
		}
		byLeader[leader] = append(byLeader[leader], po)
	}
	for _, b := range leaders {
		req := &sarama.DeleteRecordsRequest{Version: 1, Timeout: client.Config().Admin.Timeout, Topics: map[string]*sarama.DeleteRecordsRequestTopic{}}
		for _, po := range byLeader[b] {
			t := req.Topics[po.tp.Topic]
			if t == nil {
				t = &sarama.DeleteRecordsRequestTopic{PartitionOffsets: map[int32]int64{}}
				req.Topics[po.tp.Topic] = t
			}
			t.PartitionOffsets[po.tp.Partition] = po.offset
		}
		res, err := b.DeleteRecords(req)
		for _, po := range byLeader[b] {
			r := result{tp: po.tp}
			switch {
			case err != nil:
				r.err = cli.AsKafka(err, "deleteRecords")
			case res.Topics[po.tp.Topic] == nil || res.Topics[po.tp.Topic].Partitions[po.tp.Partition] == nil:
				r.err = cli.Errorf("UnknownServerException", "The broker did not answer for %s", po.tp)
			default:
				p := res.Topics[po.tp.Topic].Partitions[po.tp.Partition]
				if p.Err != sarama.ErrNoError {
					r.err = cli.FromCode(int16(p.Err), "")
				} else {
					r.lowWatermark = p.LowWatermark
				}
			}
			results = append(results, r)
		}
	}
	return results
}
