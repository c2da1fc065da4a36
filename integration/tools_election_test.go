package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// waitLeadersAndISR waits until each partition of topic has the leader in
// leaders (-1: any) and a full ISR of n replicas.
func waitLeadersAndISR(t testing.TB, c *Cluster, topic string, leaders []int32, n int) {
	t.Helper()
	c.WaitFor(t, 60*time.Second, func() error {
		md, err := fetchMetadata(c, topic)
		if err != nil {
			return err
		}
		if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != len(leaders) {
			return fmt.Errorf("metadata: %+v", md.Topics)
		}
		for _, p := range md.Topics[0].Partitions {
			want := leaders[p.ID]
			if len(p.Isr) != n || p.Leader < 0 || (want >= 0 && p.Leader != want) {
				return fmt.Errorf("partition %d: leader %d isr %v, want leader %d and %d in sync", p.ID, p.Leader, p.Isr, want, n)
			}
		}
		return nil
	})
}

// TestToolLeaderElection runs kafka-leader-election on three brokers: a
// partition whose leader moved away from its preferred replica gets it
// back, partitions already led by it are "Valid replica already elected",
// and Kafka's errors.
func TestToolLeaderElection(t *testing.T) {
	buildTools(t)
	c := newCluster(t, opts{Brokers: 3, Overrides: map[string]string{"auto.leader.rebalance.enable": "false"}})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	const topic = "el-topic"
	if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", topic, "--replica-assignment", "0:1:2,1:2:0,2:0:1"); r.Code != 0 {
		t.Fatal(r)
	}
	waitLeadersAndISR(t, c, topic, []int32{0, 1, 2}, 3)
	elect := func(args ...string) toolResult {
		t.Helper()
		r := runTool(t, "", "kafka-leader-election", append([]string{"--bootstrap-server", strings.Join(c.LiveBootstrap(), ",")}, args...)...)
		return r
	}

	t.Run("nothing to do", func(t *testing.T) {
		// For every partition Kafka's broker leaves out the ones that need no election.
		expectTool(t, addrs, elect("--election-type", "PREFERRED", "--all-topic-partitions"), 0, "", "")
		expectTool(t, addrs, elect("--election-type", "preferred", "--topic", topic, "--partition", "1"), 0,
			"Valid replica already elected for partitions el-topic-1\n", "")
		path := writeToolFile(t, "election.json", `{"partitions": [{"topic": "el-topic", "partition": 0}, {"topic": "el-topic", "partition": 2}]}`)
		expectTool(t, addrs, elect("--election-type", "PREFERRED", "--path-to-json-file", path), 0,
			"Valid replica already elected for partitions el-topic-0, el-topic-2\n", "")
		expectTool(t, addrs, elect("--election-type", "UNCLEAN", "--topic", topic, "--partition", "0"), 0,
			"Valid replica already elected for partitions el-topic-0\n", "")
	})

	t.Run("preferred leader back", func(t *testing.T) {
		c.StopBroker(0)
		waitLeadersAndISR(t, c, topic, []int32{-1, 1, 2}, 2)
		r := elect("--election-type", "PREFERRED", "--topic", topic, "--partition", "0")
		expectTool(t, addrs, r, 1,
			"Error completing leader election (PREFERRED) for partition: el-topic-0: org.apache.kafka.common.errors.PreferredLeaderNotAvailableException: "+
				"Failed to elect leader for partition el-topic-0 under strategy PreferredReplicaPartitionLeaderElectionStrategy\n",
			"1 replica(s) could not be elected\norg.apache.kafka.server.common.AdminCommandFailedException: 1 replica(s) could not be elected\n")
		c.StartBroker(0)
		waitLeadersAndISR(t, c, topic, []int32{-1, 1, 2}, 3)
		expectTool(t, addrs, elect("--election-type", "PREFERRED", "--all-topic-partitions"), 0,
			"Successfully completed leader election (PREFERRED) for partitions el-topic-0\n", "")
		waitLeadersAndISR(t, c, topic, []int32{0, 1, 2}, 3)
	})

	t.Run("errors", func(t *testing.T) {
		expectTool(t, addrs, elect("--election-type", "PREFERRED", "--topic", "nope", "--partition", "0"), 1,
			"Error completing leader election (PREFERRED) for partition: nope-0: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: The partition does not exist.\n",
			"1 replica(s) could not be elected\norg.apache.kafka.server.common.AdminCommandFailedException: 1 replica(s) could not be elected\n")
		cases := []struct {
			name string
			args []string
			msg  string
		}{
			{"no election type", []string{"--topic", topic, "--partition", "0"}, "org.apache.kafka.server.common.AdminCommandFailedException: Missing required option(s): election-type"},
			{"bad election type", []string{"--election-type", "random", "--topic", topic, "--partition", "0"}, "joptsimple.OptionArgumentConversionException: Cannot parse argument 'random' of option election-type"},
			{"two targets", []string{"--election-type", "preferred", "--all-topic-partitions", "--topic", topic}, "org.apache.kafka.server.common.AdminCommandFailedException: One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file"},
			{"topic without partition", []string{"--election-type", "preferred", "--topic", topic}, "org.apache.kafka.server.common.AdminCommandFailedException: Missing required option(s): partition"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, msg, _ := strings.Cut(tc.msg, ": ")
				expectTool(t, addrs, elect(tc.args...), 1, "", msg+"\n"+tc.msg+"\n")
			})
		}
		path := writeToolFile(t, "dup.json", `{"partitions": [{"topic": "el-topic", "partition": 0}, {"topic": "el-topic", "partition": 0}]}`)
		expectTool(t, addrs, elect("--election-type", "preferred", "--path-to-json-file", path), 1, "",
			"Replica election data contains duplicate partitions: [el-topic-0]\norg.apache.kafka.server.common.AdminOperationException: Replica election data contains duplicate partitions: [el-topic-0]\n")
		r := runTool(t, "", "kafka-leader-election", "--help")
		if r.Code != 0 || !strings.HasPrefix(r.Stderr, purposeLine("kafka-leader-election")) {
			t.Errorf("--help:\n%s", r)
		}
	})
}
