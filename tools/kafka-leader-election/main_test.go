package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

func TestValidate(t *testing.T) {
	bs := []string{"--bootstrap-server", "localhost:9092"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nothing required", []string{"--topic", "t"}, "Missing required option(s): bootstrap-server, election-type"},
		{"no election type", append(bs, "--topic", "t", "--partition", "0"), "Missing required option(s): election-type"},
		{"no target", append(bs, "--election-type", "preferred"), "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file"},
		{"two targets", append(bs, "--election-type", "preferred", "--topic", "t", "--all-topic-partitions"), "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file"},
		{"topic without partition", append(bs, "--election-type", "preferred", "--topic", "t"), "Missing required option(s): partition"},
		{"partition without topic", append(bs, "--election-type", "preferred", "--all-topic-partitions", "--partition", "1"), "Option partition is only allowed if topic is used"},
		{"ok topic", append(bs, "--election-type", "PREFERRED", "--topic", "t", "--partition", "1"), ""},
		{"ok all", append(bs, "--election-type", "unclean", "--all-topic-partitions"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := cli.NewParser()
			o := newOptions(p)
			if err := p.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.validate()
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Errorf("validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseElectionType(t *testing.T) {
	for in, want := range map[string]string{"preferred": "PREFERRED", "PREFERRED": "PREFERRED", "Unclean": "UNCLEAN"} {
		_, got, err := parseElectionType(in)
		if err != nil || got != want {
			t.Errorf("parseElectionType(%q) = %q, %v", in, got, err)
		}
	}
	_, _, err := parseElectionType("random")
	if err == nil || cli.JavaError(err) != "joptsimple.OptionArgumentConversionException: Cannot parse argument 'random' of option election-type" {
		t.Errorf("bad type: %v", err)
	}
}

func TestParseElectionJSON(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []cli.TopicPartition
		err  string
	}{
		{"kafka's example", `{"partitions": [{"topic": "foo", "partition": 1}, {"topic": "foobar", "partition": 2}]}`,
			[]cli.TopicPartition{{Topic: "foo", Partition: 1}, {Topic: "foobar", Partition: 2}}, ""},
		{"not json", `nope`, nil, `org.apache.kafka.server.common.AdminOperationException: Replica election data is empty`},
		{"no partitions", `{"topics": []}`, nil, `org.apache.kafka.server.common.AdminOperationException: Replica election data is missing "partitions" field`},
		{"no topic", `{"partitions": [{"partition": 1}]}`, nil, "com.fasterxml.jackson.databind.JsonMappingException: No such field exists: `topic`"},
		{"duplicates", `{"partitions": [{"topic": "t", "partition": 1}, {"topic": "t", "partition": 1}]}`, nil,
			`org.apache.kafka.server.common.AdminOperationException: Replica election data contains duplicate partitions: [t-1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseElectionJSON(tc.in)
			if tc.err != "" {
				if err == nil || cli.JavaError(err) != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestWriteResults(t *testing.T) {
	tp := func(topic string, p int32) cli.TopicPartition { return cli.TopicPartition{Topic: topic, Partition: p} }
	cases := []struct {
		name    string
		results map[cli.TopicPartition]error
		want    string
		failed  int
	}{
		{"elected", map[cli.TopicPartition]error{tp("t", 1): nil, tp("t", 0): nil},
			"Successfully completed leader election (PREFERRED) for partitions t-0, t-1\n", 0},
		{"not needed", map[cli.TopicPartition]error{tp("t", 2): cli.FromCode(int16(sarama.ErrElectionNotNeeded), ""), tp("t", 0): nil},
			"Successfully completed leader election (PREFERRED) for partitions t-0\n" +
				"Valid replica already elected for partitions t-2\n", 0},
		{"failures", map[cli.TopicPartition]error{
			tp("t", 0): cli.FromCode(int16(sarama.ErrPreferredLeaderNotAvailable), "Failed to elect leader for partition t-0 under strategy PreferredReplicaPartitionLeaderElectionStrategy"),
			tp("x", 0): cli.FromCode(int16(sarama.ErrUnknownTopicOrPartition), ""),
		},
			"Error completing leader election (PREFERRED) for partition: t-0: org.apache.kafka.common.errors.PreferredLeaderNotAvailableException: Failed to elect leader for partition t-0 under strategy PreferredReplicaPartitionLeaderElectionStrategy\n" +
				"Error completing leader election (PREFERRED) for partition: x-0: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			failed := writeResults(&b, "PREFERRED", tc.results)
			if b.String() != tc.want || failed != tc.failed {
				t.Errorf("got (%d)\n%s\nwant (%d)\n%s", failed, b.String(), tc.failed, tc.want)
			}
		})
	}
}

// TestRunUsage checks the messages that need no cluster, as main prints them.
func TestRunUsage(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"--bootstrap-server", "localhost:1", "--topic", "t"}, &out, &errb)
	want := "Missing required option(s): election-type\n" +
		"org.apache.kafka.server.common.AdminCommandFailedException: Missing required option(s): election-type\n"
	if code != 1 || errb.String() != want || out.String() != "" {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant %q", code, out.String(), errb.String(), want)
	}
}
