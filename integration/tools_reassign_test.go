package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestToolReassignPartitions runs kafka-reassign-partitions on three
// brokers: --generate proposes an assignment on the brokers given,
// --execute with a throttle moves two partitions (the records follow),
// --verify reports them completed and clears the throttles, --list and
// --cancel on a reassignment that cannot finish, and Kafka's errors.
func TestToolReassignPartitions(t *testing.T) {
	buildTools(t)
	c := newCluster(t, opts{Brokers: 3, Overrides: map[string]string{"auto.leader.rebalance.enable": "false"}})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	const topic = "ra-topic"
	if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", topic, "--replica-assignment", "0,1"); r.Code != 0 {
		t.Fatal(r)
	}
	waitLeadersAndISR(t, c, topic, []int32{0, 1}, 1)
	produceToPartitions(t, c, topic, "ra", map[int32]int{0: 3, 1: 2})
	reassign := func(args ...string) toolResult {
		t.Helper()
		return runTool(t, "", "kafka-reassign-partitions", append([]string{"--bootstrap-server", bs}, args...)...)
	}

	t.Run("list nothing", func(t *testing.T) {
		expectTool(t, addrs, reassign("--list"), 0, "No partition reassignments found.\n", "")
	})

	t.Run("generate", func(t *testing.T) {
		topics := writeToolFile(t, "topics.json", `{"topics": [{"topic": "ra-topic"}], "version": 1}`)
		r := reassign("--generate", "--topics-to-move-json-file", topics, "--broker-list", "1,2")
		if r.Code != 0 {
			t.Fatal(r)
		}
		lines := strings.Split(r.Stdout, "\n")
		if len(lines) != 6 || lines[0] != "Current partition replica assignment" || lines[2] != "" ||
			lines[3] != "Proposed partition reassignment configuration" || lines[5] != "" {
			t.Fatalf("generate output:\n%s", r.Stdout)
		}
		compareLines(t, "current", lines[1], `{"version":1,"partitions":[{"topic":"ra-topic","partition":0,"replicas":[0],"log_dirs":["any"]},{"topic":"ra-topic","partition":1,"replicas":[1],"log_dirs":["any"]}]}`)
		var proposed struct {
			Version    int
			Partitions []struct {
				Topic     string
				Partition int32
				Replicas  []int32
				LogDirs   []string `json:"log_dirs"`
			}
		}
		if err := json.Unmarshal([]byte(lines[4]), &proposed); err != nil {
			t.Fatalf("proposed JSON %q: %v", lines[4], err)
		}
		leaders := map[int32]int{}
		for i, p := range proposed.Partitions {
			if p.Topic != topic || p.Partition != int32(i) || len(p.Replicas) != 1 || !slices.Equal(p.LogDirs, []string{"any"}) {
				t.Errorf("proposed partition %+v", p)
			}
			leaders[p.Replicas[0]]++
		}
		if proposed.Version != 1 || len(proposed.Partitions) != 2 || leaders[1] != 1 || leaders[2] != 1 {
			t.Errorf("proposed %s: want one partition on each of brokers 1 and 2", lines[4])
		}
		expectTool(t, addrs, reassign("--generate", "--topics-to-move-json-file", topics, "--broker-list", "1,1"), 1,
			"Error: Broker list contains duplicate entries: [1]\norg.apache.kafka.server.common.AdminCommandFailedException: Broker list contains duplicate entries: [1]\n", "")
		missing := writeToolFile(t, "missing.json", `{"topics": [{"topic": "nope"}], "version": 1}`)
		expectTool(t, addrs, reassign("--generate", "--topics-to-move-json-file", missing, "--broker-list", "1,2"), 1,
			"Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic nope not found.\n"+
				"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic nope not found.\n", "")
	})

	plan := writeToolFile(t, "reassign.json", `{
  "version": 1,
  "partitions": [
    {"topic": "ra-topic", "partition": 0, "replicas": [1,2]},
    {"topic": "ra-topic", "partition": 1, "replicas": [2,0]}
  ]
}`)

	t.Run("execute with throttle and verify", func(t *testing.T) {
		r := reassign("--execute", "--reassignment-json-file", plan, "--throttle", "50000000")
		expectTool(t, addrs, r, 0, "Current partition replica assignment\n"+
			"\n"+
			`{"version":1,"partitions":[{"topic":"ra-topic","partition":0,"replicas":[0],"log_dirs":["any"]},{"topic":"ra-topic","partition":1,"replicas":[1],"log_dirs":["any"]}]}`+"\n"+
			"\n"+
			"Save this to use as the --reassignment-json-file option during rollback\n"+
			"Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n"+
			"The inter-broker throttle limit was set to 50000000 B/s\n"+
			"Successfully started partition reassignments for ra-topic-0,ra-topic-1\n", "")
		if r.Code != 0 {
			t.FailNow()
		}
		var last toolResult
		c.WaitFor(t, 60*time.Second, func() error {
			last = reassign("--verify", "--reassignment-json-file", plan)
			if strings.Contains(last.Stdout, "still in progress") {
				return fmt.Errorf("verify: %s", last.Stdout)
			}
			return nil
		})
		expectTool(t, addrs, last, 0, "Status of partition reassignment:\n"+
			"Reassignment of partition ra-topic-0 is completed.\n"+
			"Reassignment of partition ra-topic-1 is completed.\n"+
			"\n"+
			"Clearing broker-level throttles on brokers 0,1,2\n"+
			"Clearing topic-level throttles on topic ra-topic\n", "")
		waitLeadersAndISR(t, c, topic, []int32{1, 2}, 2)
		// The throttles --execute set are gone.
		expectTool(t, addrs, runTool(t, "", "kafka-configs", "--bootstrap-server", bs, "--topic", topic, "--describe"), 0,
			"Dynamic configs for topic ra-topic are:\n", "")
		expectTool(t, addrs, runTool(t, "", "kafka-configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--entity-name", "1", "--describe"), 0,
			"Dynamic configs for broker 1 are:\n", "")
		// The records moved with the partitions.
		expectTool(t, addrs, runTool(t, "", "kafka-get-offsets", "--bootstrap-server", bs, "--topic", topic), 0, "ra-topic:0:3\nra-topic:1:2\n", "")
		expectTool(t, addrs, reassign("--list"), 0, "No partition reassignments found.\n", "")
	})

	t.Run("throttled reassignment in progress, then cancelled", func(t *testing.T) {
		// 3 MB on broker 1 moving to 1,2 at 1 B/s: the first fetch overdraws
		// the throttle and the rest waits, so the reassignment stays in
		// progress until cancelled.
		const slow = "ra-slow"
		if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", slow, "--replica-assignment", "1"); r.Code != 0 {
			t.Fatal(r)
		}
		waitLeadersAndISR(t, c, slow, []int32{1}, 1)
		var msgs []message
		for i := 0; i < 300; i++ {
			msgs = append(msgs, message{Value: fmt.Sprintf("%d-%s", i, strings.Repeat(fmt.Sprintf("%07d", i*7919), 1500))})
		}
		produce(t, c, c.SaramaConfig(), slow, msgs)
		grow := writeToolFile(t, "grow.json", `{"version":1,"partitions":[{"topic":"ra-slow","partition":0,"replicas":[1,2]}]}`)
		expectTool(t, addrs, reassign("--execute", "--reassignment-json-file", grow, "--throttle", "1"), 0, "Current partition replica assignment\n"+
			"\n"+
			`{"version":1,"partitions":[{"topic":"ra-slow","partition":0,"replicas":[1],"log_dirs":["any"]}]}`+"\n"+
			"\n"+
			"Save this to use as the --reassignment-json-file option during rollback\n"+
			"Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n"+
			"The inter-broker throttle limit was set to 1 B/s\n"+
			"Successfully started partition reassignment for ra-slow-0\n", "")
		expectTool(t, addrs, reassign("--list"), 0, "Current partition reassignments:\nra-slow-0: replicas: 1,2. adding: 2.\n", "")
		expectTool(t, addrs, runTool(t, "", "kafka-configs", "--bootstrap-server", bs, "--topic", slow, "--describe"), 0,
			"Dynamic configs for topic ra-slow are:\n"+
				"  follower.replication.throttled.replicas=0:2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:follower.replication.throttled.replicas=0:2}\n"+
				"  leader.replication.throttled.replicas=0:1 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:leader.replication.throttled.replicas=0:1}\n", "")
		r := runTool(t, "", "kafka-configs", "--bootstrap-server", bs, "--entity-type", "brokers", "--entity-name", "2", "--describe")
		// The rates are set on the brokers involved (Kafka prints
		// "leader.replication.throttled.rate=1 sensitive=false ..."; the
		// value is compared once the broker types these keys).
		for _, want := range []string{"  follower.replication.throttled.rate=", "  leader.replication.throttled.rate="} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("broker 2 lacks %q:\n%s", want, r)
			}
		}
		expectTool(t, addrs, reassign("--execute", "--reassignment-json-file", plan), 1,
			"Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.\n", "")
		// While a reassignment is in progress --verify keeps the throttles.
		expectTool(t, addrs, reassign("--verify", "--reassignment-json-file", grow), 0,
			"Status of partition reassignment:\nReassignment of partition ra-slow-0 is still in progress.\n\n", "")
		expectTool(t, addrs, reassign("--cancel", "--reassignment-json-file", grow), 0,
			"Successfully cancelled partition reassignment for: ra-slow-0\n"+
				"None of the specified partition moves are active.\n"+
				"Clearing broker-level throttles on brokers 0,1,2\n"+
				"Clearing topic-level throttles on topic ra-slow\n", "")
		c.WaitFor(t, 30*time.Second, func() error {
			if r := reassign("--list"); r.Stdout != "No partition reassignments found.\n" {
				return fmt.Errorf("after cancel: %s", r)
			}
			return nil
		})
		expectTool(t, addrs, runTool(t, "", "kafka-configs", "--bootstrap-server", bs, "--topic", slow, "--describe"), 0,
			"Dynamic configs for topic ra-slow are:\n", "")
		waitLeadersAndISR(t, c, slow, []int32{1}, 1)
	})

	t.Run("errors", func(t *testing.T) {
		unknown := writeToolFile(t, "unknown.json", `{"version":1,"partitions":[{"topic":"ra-topic","partition":0,"replicas":[1,7]}]}`)
		expectTool(t, addrs, reassign("--execute", "--reassignment-json-file", unknown), 1,
			"Error: Unknown broker id 7\norg.apache.kafka.server.common.AdminCommandFailedException: Unknown broker id 7\n", "")
		dup := writeToolFile(t, "dup.json", `{"version":1,"partitions":[{"topic":"ra-topic","partition":0,"replicas":[1,1]}]}`)
		expectTool(t, addrs, reassign("--execute", "--reassignment-json-file", dup), 1,
			"Error: Partition replica lists may not contain duplicate entries: ra-topic-0 contains multiple entries for 1\n"+
				"org.apache.kafka.server.common.AdminCommandFailedException: Partition replica lists may not contain duplicate entries: ra-topic-0 contains multiple entries for 1\n", "")
		empty := writeToolFile(t, "empty.json", `{"version":1,"partitions":[]}`)
		expectTool(t, addrs, reassign("--execute", "--reassignment-json-file", empty), 1,
			"Error: Partition reassignment list cannot be empty\norg.apache.kafka.server.common.AdminCommandFailedException: Partition reassignment list cannot be empty\n", "")
		noTopic := writeToolFile(t, "notopic.json", `{"version":1,"partitions":[{"topic":"nope","partition":0,"replicas":[1]}]}`)
		expectTool(t, addrs, reassign("--execute", "--reassignment-json-file", noTopic), 1,
			"Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic nope not found.\n"+
				"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: Topic nope not found.\n", "")
		expectTool(t, addrs, reassign("--cancel", "--reassignment-json-file", plan, "--preserve-throttles"), 0,
			"None of the specified partition reassignments are active.\nNone of the specified partition moves are active.\n", "")
		usage := []struct {
			name   string
			args   []string
			stderr string
		}{
			{"no action", []string{"--bootstrap-server", bs}, "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"},
			{"no bootstrap", []string{"--list"}, "Please specify --bootstrap-server"},
			{"no file", []string{"--bootstrap-server", bs, "--verify"}, "Missing required argument \"[reassignment-json-file]\""},
			{"throttle with verify", []string{"--bootstrap-server", bs, "--verify", "--reassignment-json-file", plan, "--throttle", "1"}, "Option \"[throttle]\" can't be used with action \"[verify]\""},
		}
		for _, tc := range usage {
			t.Run(tc.name, func(t *testing.T) {
				r := runTool(t, "", "kafka-reassign-partitions", tc.args...)
				if r.Code != 1 || r.Stdout != "" || !strings.HasPrefix(r.Stderr, tc.stderr+"\nOption ") {
					t.Errorf("want exit 1 and %q then the options\n%s", tc.stderr, r)
				}
			})
		}
		r := runTool(t, "", "kafka-reassign-partitions", "--help")
		if r.Code != 0 || !strings.HasPrefix(r.Stderr, purposeLine("kafka-reassign-partitions")) {
			t.Errorf("--help:\n%s", r)
		}
	})
}
