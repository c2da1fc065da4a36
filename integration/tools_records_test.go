package integration

import (
	"strings"
	"testing"
)

// TestToolDeleteRecords runs kafka-delete-records against one broker: the
// low watermarks it reports are the log start offsets kafka-get-offsets
// then sees, and each of Kafka's errors, per partition and for the file.
func TestToolDeleteRecords(t *testing.T) {
	buildTools(t)
	c := newCluster(t, opts{Overrides: map[string]string{"auto.create.topics.enable": "false"}})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	const topic = "dr-topic"
	if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", topic, "--partitions", "2"); r.Code != 0 {
		t.Fatal(r)
	}
	waitTopicReady(t, c, topic, 2)
	produceToPartitions(t, c, topic, "dr", map[int32]int{0: 5, 1: 2})
	deleteRecords := func(json string) toolResult {
		t.Helper()
		return runTool(t, "", "kafka-delete-records", "--bootstrap-server", bs, "--offset-json-file", writeToolFile(t, "offsets.json", json))
	}

	t.Run("delete", func(t *testing.T) {
		r := deleteRecords(`{"partitions":[{"topic":"dr-topic","partition":0,"offset":3},{"topic":"dr-topic","partition":1,"offset":-1}],"version":1}`)
		expectTool(t, addrs, r, 0,
			"Executing records delete operation\n"+
				"Records delete operation completed:\n"+
				"partition: dr-topic-0\tlow_watermark: 3\n"+
				"partition: dr-topic-1\tlow_watermark: 2\n", "")
		r = runTool(t, "", "kafka-get-offsets", "--bootstrap-server", bs, "--topic", topic, "--time", "-2")
		expectTool(t, addrs, r, 0, "dr-topic:0:3\ndr-topic:1:2\n", "")
		// Deleting below the log start offset changes nothing.
		r = deleteRecords(`{"partitions":[{"topic":"dr-topic","partition":0,"offset":1}]}`)
		expectTool(t, addrs, r, 0,
			"Executing records delete operation\nRecords delete operation completed:\npartition: dr-topic-0\tlow_watermark: 3\n", "")
	})

	t.Run("partition errors", func(t *testing.T) {
		r := deleteRecords(`{"partitions":[{"topic":"dr-topic","partition":0,"offset":100},{"topic":"nope","partition":0,"offset":1},{"topic":"dr-topic","partition":7,"offset":1},{"topic":"dr-topic","partition":1,"offset":2}]}`)
		expectTool(t, addrs, r, 1,
			"Executing records delete operation\n"+
				"Records delete operation completed:\n"+
				"partition: dr-topic-0\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested offset is not within the range of offsets maintained by the server.\n"+
				"partition: dr-topic-1\tlow_watermark: 2\n"+
				"partition: dr-topic-7\terror: org.apache.kafka.common.errors.LeaderNotAvailableException: There is no leader for this topic-partition as we are in the middle of a leadership election.\n"+
				"partition: nope-0\terror: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n", "")
	})

	t.Run("file errors", func(t *testing.T) {
		cases := []struct{ name, json, stderr string }{
			{"not json", `{"partitions":`, "Exception in thread \"main\" org.apache.kafka.server.common.AdminOperationException: The input string is not a valid JSON\n"},
			{"version", `{"partitions":[],"version":2}`, "Exception in thread \"main\" org.apache.kafka.server.common.AdminOperationException: Not supported version field value 2\n"},
			{"no partitions", `{"version":1}`, "Exception in thread \"main\" org.apache.kafka.server.common.AdminOperationException: Missing partitions field\n"},
			{"duplicates", `{"partitions":[{"topic":"dr-topic","partition":0,"offset":4},{"topic":"dr-topic","partition":0,"offset":5}]}`,
				"Exception in thread \"main\" org.apache.kafka.server.common.AdminCommandFailedException: Offset json file contains duplicate topic partitions: dr-topic-0\n"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { expectTool(t, addrs, deleteRecords(tc.json), 1, "", tc.stderr) })
		}
		r := runTool(t, "", "kafka-delete-records", "--bootstrap-server", bs, "--offset-json-file", "/nonexistent/offsets.json")
		expectTool(t, addrs, r, 1, "", "Exception in thread \"main\" java.nio.file.NoSuchFileException: /nonexistent/offsets.json\n")
	})

	t.Run("usage", func(t *testing.T) {
		r := runTool(t, "", "kafka-delete-records", "--bootstrap-server", bs)
		if r.Code != 1 || !strings.HasPrefix(r.Stderr, "Missing required argument \"[offset-json-file]\"\nOption ") {
			t.Errorf("no offset file:\n%s", r)
		}
		r = runTool(t, "", "kafka-delete-records")
		if r.Code != 1 || !strings.HasPrefix(r.Stderr, purposeLine("kafka-delete-records")) {
			t.Errorf("no arguments:\n%s", r)
		}
	})
}
