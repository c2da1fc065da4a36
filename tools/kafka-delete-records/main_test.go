package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

func TestParseOffsetJSON(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []partitionOffset
		err  string // JavaError of the failure
	}{
		{"kafka's example", `{"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version":1}`,
			[]partitionOffset{{cli.TopicPartition{Topic: "foo", Partition: 1}, 1}}, ""},
		{"version defaults to 1", `{"partitions":[{"topic":"t","partition":0,"offset":3},{"topic":"t","partition":1,"offset":-1}]}`,
			[]partitionOffset{{cli.TopicPartition{Topic: "t"}, 3}, {cli.TopicPartition{Topic: "t", Partition: 1}, -1}}, ""},
		{"not json", `{"partitions": [`, nil, "org.apache.kafka.server.common.AdminOperationException: The input string is not a valid JSON"},
		{"version 2", `{"partitions": [], "version": 2}`, nil, "org.apache.kafka.server.common.AdminOperationException: Not supported version field value 2"},
		{"no partitions", `{"version": 1}`, nil, "org.apache.kafka.server.common.AdminOperationException: Missing partitions field"},
		{"no offset", `{"partitions": [{"topic": "t", "partition": 0}]}`, nil, "com.fasterxml.jackson.databind.JsonMappingException: No such field exists: `offset`"},
		{"duplicates", `{"partitions": [{"topic": "t", "partition": 0, "offset": 1}, {"topic": "t", "partition": 0, "offset": 2}]}`, nil,
			"org.apache.kafka.server.common.AdminCommandFailedException: Offset json file contains duplicate topic partitions: t-0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOffsetJSON(tc.in)
			if tc.err != "" {
				if err == nil || cli.JavaError(err) != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWriteResults(t *testing.T) {
	var b strings.Builder
	failed := writeResults(&b, []result{
		{tp: cli.TopicPartition{Topic: "t", Partition: 1}, lowWatermark: 7},
		{tp: cli.TopicPartition{Topic: "nope", Partition: 0}, err: cli.FromCode(int16(sarama.ErrUnknownTopicOrPartition), "")},
		{tp: cli.TopicPartition{Topic: "t", Partition: 0}, lowWatermark: 3},
		{tp: cli.TopicPartition{Topic: "t", Partition: 2}, err: cli.FromCode(int16(sarama.ErrOffsetOutOfRange), "")},
	})
	want := "partition: nope-0\terror: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n" +
		"partition: t-0\tlow_watermark: 3\n" +
		"partition: t-1\tlow_watermark: 7\n" +
		"partition: t-2\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested offset is not within the range of offsets maintained by the server.\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if !failed {
		t.Error("failed = false with two errors")
	}
}
