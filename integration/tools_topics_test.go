package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestToolTopics runs kafka-topics against one broker: the seed's session
// (create 5 partitions, describe, the replication-factor error) and each
// documented error and flag.
func TestToolTopics(t *testing.T) {
	c := newCluster(t, opts{Overrides: map[string]string{"auto.create.topics.enable": "false"}})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	topics := func(args ...string) toolResult {
		t.Helper()
		return runTool(t, "", "kafka-topics", append([]string{"--bootstrap-server", bs}, args...)...)
	}
	expect := func(r toolResult, code int, stdout string) {
		t.Helper()
		if r.Code != code {
			t.Errorf("exit %d, want %d\n%s", r.Code, code, r)
		}
		compareLines(t, "stdout", normalize(r.Stdout, addrs), stdout)
	}

	t.Run("create and describe", func(t *testing.T) {
		r := topics("--create", "--topic", "test-tatum-service", "--partitions", "5", "--replication-factor", "1")
		if r.Code != 0 {
			t.Fatalf("create: %s", r)
		}
		checkGolden(t, "topics_create.golden", r.Stdout, nil)
		waitTopicReady(t, c, "test-tatum-service", 5)
		r = topics("--describe", "--topic", "test-tatum-service")
		if r.Code != 0 {
			t.Fatalf("describe: %s", r)
		}
		checkGolden(t, "topics_describe_rf1.golden", normalize(r.Stdout, addrs), nil)
	})

	t.Run("replication factor larger than brokers", func(t *testing.T) {
		r := topics("--create", "--topic", "test-tatum-service-2", "--partitions", "5", "--replication-factor", "2")
		if r.Code != 1 {
			t.Errorf("exit %d, want 1\n%s", r.Code, r)
		}
		checkGolden(t, "topics_rf_error.stdout.golden", r.Stdout, nil)
		checkGolden(t, "topics_rf_error.stderr.golden", normalize(r.Stderr, addrs), nil)
	})

	t.Run("already exists", func(t *testing.T) {
		r := topics("--create", "--topic", "test-tatum-service", "--partitions", "5")
		expect(r, 1, "Error while executing topic command : Topic 'test-tatum-service' already exists.\n")
		if !strings.Contains(r.Stderr, "ERROR org.apache.kafka.common.errors.TopicExistsException: Topic 'test-tatum-service' already exists.") {
			t.Errorf("stderr lacks the TopicExistsException log line:\n%s", r.Stderr)
		}
		expect(topics("--create", "--if-not-exists", "--topic", "test-tatum-service", "--partitions", "5"), 0, "")
	})

	t.Run("defaults, replica assignment, configs and collision warning", func(t *testing.T) {
		expect(topics("--create", "--topic", "with_default"), 0,
			"WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.\nCreated topic with_default.\n")
		expect(topics("--create", "--topic", "assigned", "--replica-assignment", "0,0,0"), 0, "Created topic assigned.\n")
		expect(topics("--create", "--topic", "configured", "--partitions", "2", "--config", "retention.ms=60000", "--config", "cleanup.policy=delete"), 0, "Created topic configured.\n")
		waitTopicReady(t, c, "with_default", 1)
		waitTopicReady(t, c, "assigned", 3)
		r := topics("--describe", "--topic", "with_default|assigned")
		want := "Topic: assigned\tTopicId: <topic-id>\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: \n" +
			"\tTopic: assigned\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n" +
			"\tTopic: assigned\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0\n" +
			"\tTopic: assigned\tPartition: 2\tLeader: 0\tReplicas: 0\tIsr: 0\n" +
			"Topic: with_default\tTopicId: <topic-id>\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n" +
			"\tTopic: with_default\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n"
		if !strings.Contains(r.Stdout, "Configs: \n") {
			// A broker that serves DescribeConfigs may report overrides; compare
			// the partition lines only.
			t.Logf("describe printed configs: %s", r.Stdout)
		}
		expect(r, 0, want)
		expect(topics("--create", "--topic", "bad-assignment", "--replica-assignment", "0:0"), 1,
			"Error while executing topic command : Partition replica lists may not contain duplicate entries: 0\n")
		expect(topics("--create", "--topic", "bad-config", "--config", "retention.ms"), 1,
			"Error while executing topic command : requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".\n")
		expect(topics("--create", "--topic", "zero", "--partitions", "0"), 1,
			"Error while executing topic command : The partitions must be greater than 0\n")
		expect(topics("--create", "--topic", "zero-rf", "--replication-factor", "0"), 1,
			"Error while executing topic command : The replication factor must be between 1 and 32767 inclusive\n")
	})

	t.Run("list", func(t *testing.T) {
		expect(topics("--list"), 0, "assigned\nconfigured\ntest-tatum-service\nwith_default\n")
		expect(topics("--list", "--topic", "test.*"), 0, "test-tatum-service\n")
		expect(topics("--list", "--topic", "nothing-matches"), 0, "\n")
	})

	t.Run("describe filters", func(t *testing.T) {
		expect(topics("--describe", "--topic", "test-tatum-service", "--under-replicated-partitions"), 0, "")
		expect(topics("--describe", "--topic", "test-tatum-service", "--unavailable-partitions"), 0, "")
		expect(topics("--describe", "--topic", "test-tatum-service", "--under-min-isr-partitions"), 0, "")
		r := topics("--describe", "--topic", "test-tatum-service", "--at-min-isr-partitions")
		if r.Code != 0 || strings.Count(r.Stdout, "\tTopic: test-tatum-service\tPartition: ") != 5 || strings.HasPrefix(r.Stdout, "Topic:") {
			t.Errorf("--at-min-isr-partitions with RF 1 and min.insync.replicas 1: want the 5 partition lines only\n%s", r)
		}
		expect(topics("--describe", "--topic", "nope"), 1, "Error while executing topic command : Topic 'nope' does not exist as expected\n")
		expect(topics("--describe", "--if-exists", "--topic", "nope"), 0, "")
	})

	t.Run("alter partitions", func(t *testing.T) {
		r := topics("--alter", "--topic", "configured", "--partitions", "4")
		if toolSupportsAPI(t, c, 37) {
			expect(r, 0, "")
			waitTopicReady(t, c, "configured", 4)
		} else {
			expect(r, 1, "Error while executing topic command : The broker does not support CREATE_PARTITIONS\n")
		}
		expect(topics("--alter", "--topic", "nope", "--partitions", "4"), 1, "Error while executing topic command : Topic 'nope' does not exist as expected\n")
		expect(topics("--alter", "--if-exists", "--topic", "nope", "--partitions", "4"), 0, "")
	})

	t.Run("delete", func(t *testing.T) {
		expect(topics("--delete", "--topic", "with_default"), 0, "")
		c.WaitFor(t, 60*time.Second, func() error {
			r := topics("--list")
			if strings.Contains(r.Stdout, "with_default") {
				return fmt.Errorf("with_default still listed: %q", r.Stdout)
			}
			return nil
		})
		expect(topics("--delete", "--topic", "with_default"), 1, "Error while executing topic command : Topic 'with_default' does not exist as expected\n")
		expect(topics("--delete", "--if-exists", "--topic", "with_default"), 0, "")
	})

	t.Run("usage errors", func(t *testing.T) {
		cases := []struct {
			name   string
			args   []string
			stdout string
			stderr string // first line of stderr
		}{
			{"no action", []string{"--bootstrap-server", bs, "--topic", "x"}, "", "Command must include exactly one action: --list, --describe, --create, --alter or --delete"},
			{"two actions", []string{"--bootstrap-server", bs, "--list", "--describe"}, "", "Command must include exactly one action: --list, --describe, --create, --alter or --delete"},
			{"create without topic", []string{"--bootstrap-server", bs, "--create"}, "", "Missing required argument \"[topic]\""},
			{"partitions with list", []string{"--bootstrap-server", bs, "--list", "--partitions", "3"}, "", "Option \"[partitions]\" can't be used with option \"[list]\""},
			{"assignment with partitions", []string{"--bootstrap-server", bs, "--create", "--topic", "x", "--partitions", "3", "--replica-assignment", "0"}, "", "Option \"[replica-assignment]\" can't be used with option \"[partitions]\""},
			{"alter without partitions", []string{"--bootstrap-server", bs, "--alter", "--topic", "x"}, "", "Missing required argument \"[partitions]\""},
			{"no bootstrap server", []string{"--list"}, "Error while executing topic command : --bootstrap-server must be specified\n", "[<time>] ERROR java.lang.IllegalArgumentException: --bootstrap-server must be specified (org.apache.kafka.tools.TopicCommand)"},
			{"unknown option", []string{"--bootstrap-server", bs, "--list", "--frobnicate"}, "Error while executing topic command : frobnicate is not a recognized option\n", ""},
			{"no arguments", nil, "", "Create, delete, describe, or change a topic."},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := runTool(t, "", "kafka-topics", tc.args...)
				expect(r, 1, tc.stdout)
				first, _, _ := strings.Cut(normalize(r.Stderr, addrs), "\n")
				if tc.stderr != "" && first != tc.stderr {
					t.Errorf("stderr starts %q, want %q", first, tc.stderr)
				}
			})
		}
	})

	t.Run("help", func(t *testing.T) {
		r := runTool(t, "", "kafka-topics", "--help")
		if r.Code != 0 || !strings.HasPrefix(r.Stderr, "This tool helps to create, delete, describe, or change a topic.\nOption") {
			t.Errorf("--help:\n%s", r)
		}
		for _, flag := range []string{"--bootstrap-server <String: server to", "--replication-factor <Integer:", "--if-not-exists", "--under-min-isr-partitions", "--at-min-isr-partitions", "--command-config"} {
			if !strings.Contains(r.Stderr, flag) {
				t.Errorf("--help does not show %s", flag)
			}
		}
	})

	t.Run("unreachable cluster", func(t *testing.T) {
		r := runTool(t, "", "kafka-topics", "--bootstrap-server", "127.0.0.1:1", "--list")
		expect(r, 1, "Error while executing topic command : Timed out waiting for a node assignment. Call: listTopics\n")
	})
}

// TestToolThreeBrokers is the seed's three-broker session: zookeeper-shell
// lists the three broker ids, kafka-broker-api-versions prints every broker,
// and a topic of 5 partitions with replication factor 3 is described with
// every replica in the ISR (which needs replication in the broker).
func TestToolThreeBrokers(t *testing.T) {
	c := newCluster(t, opts{Brokers: 3})
	bs := bootstrapFlag(c)
	t.Run("zookeeper-shell ls /brokers/ids", func(t *testing.T) {
		connect := c.ZK().ConnectString() + c.Chroot()
		r := runTool(t, "", "zookeeper-shell", connect, "ls", "/brokers/ids")
		if r.Code != 0 {
			t.Fatal(r)
		}
		checkGolden(t, "zookeeper_shell_ls_ids.golden", r.Stdout, map[string]string{"connect": connect})
	})
	t.Run("broker-api-versions", func(t *testing.T) {
		r := runTool(t, "", "kafka-broker-api-versions", "--bootstrap-server", bs)
		if r.Code != 0 {
			t.Fatal(r)
		}
		checkAPIVersionsOutput(t, c, normalize(r.Stdout, kafkaAddrs(c)))
	})
	t.Run("topics RF 3", func(t *testing.T) { threeBrokerTopic(t, c, bs) })
}

func threeBrokerTopic(t *testing.T, c *Cluster, bs string) {
	r := runTool(t, "", "kafka-topics", "--create", "--topic", "test-tatum-service-2", "--bootstrap-server", bs, "--partitions", "5", "--replication-factor", "3")
	if r.Code != 0 {
		t.Fatalf("create: %s", r)
	}
	compareLines(t, "create", r.Stdout, "Created topic test-tatum-service-2.\n")
	// Wait until every partition has its full ISR, then describe and compare
	// with the metadata a sarama client sees.
	var want strings.Builder
	c.WaitFor(t, 60*time.Second, func() error {
		want.Reset()
		want.WriteString("Topic: test-tatum-service-2\tTopicId: <topic-id>\tPartitionCount: 5\tReplicationFactor: 3\tConfigs: \n")
		md, err := fetchMetadata(c, "test-tatum-service-2")
		if err != nil {
			return err
		}
		if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 5 {
			return fmt.Errorf("metadata: %+v", md.Topics)
		}
		parts := md.Topics[0].Partitions
		byID := map[int32]*sarama.PartitionMetadata{}
		for _, p := range parts {
			byID[p.ID] = p
		}
		for i := int32(0); i < 5; i++ {
			p := byID[i]
			if p == nil || len(p.Isr) != 3 || p.Leader < 0 {
				return fmt.Errorf("partition %d not fully replicated yet: %+v", i, p)
			}
			fmt.Fprintf(&want, "\tTopic: test-tatum-service-2\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\n", i, p.Leader, toolIDs(p.Replicas), toolIDs(p.Isr))
		}
		return nil
	})
	r = runTool(t, "", "kafka-topics", "--describe", "--topic", "test-tatum-service-2", "--bootstrap-server", bs)
	if r.Code != 0 {
		t.Fatalf("describe: %s", r)
	}
	compareLines(t, "describe", normalize(r.Stdout, nil), want.String())
	r = runTool(t, "", "kafka-topics", "--describe", "--under-replicated-partitions", "--bootstrap-server", bs)
	compareLines(t, "under-replicated", r.Stdout, "")
}

func toolIDs(v []int32) string {
	s := make([]string, len(v))
	for i, id := range v {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

// toolSupportsAPI says whether broker 0 advertises API key.
func toolSupportsAPI(t testing.TB, c *Cluster, key int16) bool {
	t.Helper()
	b := sarama.NewBroker(c.Addr(0))
	if err := b.Open(c.SaramaConfig()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := b.ApiVersions(&sarama.ApiVersionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.ApiKeys {
		if k.ApiKey == key {
			return true
		}
	}
	return false
}
