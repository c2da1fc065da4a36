package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kafka-configs tool against one broker: topic overrides added,
// described and deleted, broker and cluster-default configs, --all, the
// quota entity types on a cluster without the quota APIs, and Kafka's
// errors.

// writeToolFile writes content to a file in a test's temp dir (the JSON
// files the admin tools read) and returns its path.
func writeToolFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// expectTool checks a tool run's exit code and its stdout and stderr line
// by line (after normalize).
func expectTool(t testing.TB, addrs map[string]string, r toolResult, code int, stdout, stderr string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\n%s", r.Code, code, r)
	}
	compareLines(t, "stdout", normalize(r.Stdout, addrs), stdout)
	compareLines(t, "stderr", normalize(r.Stderr, addrs), stderr)
}

func TestToolConfigs(t *testing.T) {
	buildTools(t)
	c := newCluster(t, opts{Overrides: map[string]string{"auto.create.topics.enable": "false"}})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	configs := func(args ...string) toolResult {
		t.Helper()
		return runTool(t, "", "kafka-configs", append([]string{"--bootstrap-server", bs}, args...)...)
	}
	const topic = "cfg-topic"
	if r := runTool(t, "", "kafka-topics", "--bootstrap-server", bs, "--create", "--topic", topic, "--partitions", "1"); r.Code != 0 {
		t.Fatal(r)
	}
	waitTopicReady(t, c, topic, 1)

	t.Run("topic add, describe, delete", func(t *testing.T) {
		expectTool(t, addrs, configs("--entity-type", "topics", "--entity-name", topic, "--describe"), 0,
			"Dynamic configs for topic cfg-topic are:\n", "")
		expectTool(t, addrs, configs("--entity-type", "topics", "--entity-name", topic, "--alter", "--add-config", "segment.bytes=1048576,cleanup.policy=[compact,delete]"), 0,
			"Completed updating config for topic cfg-topic.\n", "")
		expectTool(t, addrs, configs("--entity-type", "topics", "--entity-name", topic, "--describe"), 0,
			"Dynamic configs for topic cfg-topic are:\n"+
				"  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}\n"+
				"  segment.bytes=1048576 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.bytes=1048576, DEFAULT_CONFIG:log.segment.bytes=1073741824}\n", "")
		// --topic is the shortcut for --entity-type topics --entity-name.
		expectTool(t, addrs, configs("--topic", topic, "--alter", "--delete-config", "segment.bytes"), 0,
			"Completed updating config for topic cfg-topic.\n", "")
		expectTool(t, addrs, configs("--topic", topic, "--describe"), 0,
			"Dynamic configs for topic cfg-topic are:\n"+
				"  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}\n", "")
		// Every topic when no name is given.
		r := configs("--entity-type", "topics", "--describe")
		if r.Code != 0 || !strings.Contains(r.Stdout, "Dynamic configs for topic cfg-topic are:\n  cleanup.policy=compact,delete ") {
			t.Errorf("describe every topic:\n%s", r)
		}
	})

	t.Run("topic --all", func(t *testing.T) {
		r := configs("--entity-type", "topics", "--entity-name", topic, "--describe", "--all")
		if r.Code != 0 {
			t.Fatal(r)
		}
		lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
		if lines[0] != "All configs for topic cfg-topic are:" || len(lines) < 20 {
			t.Fatalf("describe --all:\n%s", r.Stdout)
		}
		for _, want := range []string{
			"  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}",
			"  segment.bytes=1073741824 sensitive=false synonyms={DEFAULT_CONFIG:log.segment.bytes=1073741824}",
		} {
			if !strings.Contains(r.Stdout, want+"\n") {
				t.Errorf("describe --all lacks %q:\n%s", want, r.Stdout)
			}
		}
		for i := 2; i < len(lines); i++ {
			if lines[i-1] > lines[i] {
				t.Errorf("entries not sorted by name: %q before %q", lines[i-1], lines[i])
			}
		}
	})

	t.Run("topic errors", func(t *testing.T) {
		expectTool(t, addrs, configs("--topic", topic, "--alter", "--delete-config", "nope,retention.bytes"), 1,
			"", "Invalid config(s): nope,retention.bytes\n")
		args := []string{"--bootstrap-server", bs, "--entity-type", "topics", "--entity-name", "missing", "--describe"}
		r := runTool(t, "", "kafka-configs", args...)
		// As Kafka's, the header is printed before the describe fails.
		expectTool(t, addrs, r, 1, "Dynamic configs for topic missing are:\n",
			"Error while executing config command with args '--bootstrap-server localhost:9092 --entity-type topics --entity-name missing --describe'\n"+
				"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: The topic 'missing' does not exist.\n")
		expectTool(t, addrs, configs("--topic", topic, "--alter", "--add-config", "retention.ms"), 1,
			"", "requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\".\n")
		expectTool(t, addrs, configs("--topic", topic, "--alter", "--add-config", "retention.ms=abc"), 1, "",
			"Error while executing config command with args '--bootstrap-server localhost:9092 --topic cfg-topic --alter --add-config retention.ms=abc'\n"+
				"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.InvalidRequestException: Invalid config value for resource ConfigResource(type=TOPIC, name='cfg-topic'): Invalid value abc for configuration retention.ms: Not a number of type LONG\n")
	})

	t.Run("broker and cluster default", func(t *testing.T) {
		expectTool(t, addrs, configs("--entity-type", "brokers", "--entity-name", "0", "--alter", "--add-config", "log.retention.ms=3600000"), 0,
			"Completed updating config for broker 0.\n", "")
		r := configs("--entity-type", "brokers", "--entity-name", "0", "--describe")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "Dynamic configs for broker 0 are:\n  log.retention.ms=3600000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.retention.ms=3600000") {
			t.Errorf("describe broker 0:\n%s", r)
		}
		expectTool(t, addrs, configs("--entity-type", "brokers", "--entity-name", "0", "--alter", "--delete-config", "log.retention.ms"), 0,
			"Completed updating config for broker 0.\n", "")
		expectTool(t, addrs, configs("--entity-type", "brokers", "--entity-name", "0", "--describe"), 0,
			"Dynamic configs for broker 0 are:\n", "")
		expectTool(t, addrs, configs("--entity-type", "brokers", "--entity-default", "--alter", "--add-config", "min.insync.replicas=1"), 0,
			"Completed updating default config for brokers in the cluster.\n", "")
		expectTool(t, addrs, configs("--broker-defaults", "--describe"), 0,
			"Default configs for brokers in the cluster are:\n"+
				"  min.insync.replicas=1 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=1}\n", "")
		r = configs("--entity-type", "brokers", "--describe")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "Dynamic configs for broker 0 are:\n") ||
			!strings.HasSuffix(r.Stdout, "Default configs for brokers in the cluster are:\n  min.insync.replicas=1 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:min.insync.replicas=1}\n") {
			t.Errorf("describe every broker:\n%s", r)
		}
		expectTool(t, addrs, configs("--entity-type", "brokers", "--entity-default", "--alter", "--delete-config", "min.insync.replicas"), 0,
			"Completed updating default config for brokers in the cluster.\n", "")
		expectTool(t, addrs, configs("--entity-type", "brokers", "--entity-name", "0", "--alter", "--delete-config", "log.flush.interval.ms"), 1,
			"", "Invalid config(s): log.flush.interval.ms\n")
	})

	t.Run("quotas", func(t *testing.T) {
		if toolSupportsAPI(t, c, 48) {
			t.Skip("the cluster serves DescribeClientQuotas")
		}
		for _, args := range [][]string{
			{"--entity-type", "users", "--entity-name", "alice", "--describe"},
			{"--entity-type", "clients", "--entity-default", "--describe"},
		} {
			r := configs(args...)
			expectTool(t, addrs, r, 1, "",
				"Error while executing config command with args '--bootstrap-server localhost:9092 "+strings.Join(args, " ")+"'\n"+
					"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.UnsupportedVersionException: The broker does not support DESCRIBE_CLIENT_QUOTAS\n")
		}
		expectTool(t, addrs, configs("--entity-type", "clients", "--entity-name", "c", "--alter", "--add-config", "retention.ms=1"), 1,
			"", "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: List(retention.ms)\n")
	})

	t.Run("usage errors", func(t *testing.T) {
		cases := []struct {
			name   string
			args   []string
			stderr string // first line
		}{
			{"no action", []string{"--bootstrap-server", bs, "--entity-type", "topics"}, "Command must include exactly one action: --describe, --alter"},
			{"no entity type", []string{"--bootstrap-server", bs, "--describe"}, "At least one entity type must be specified"},
			{"bad entity type", []string{"--bootstrap-server", bs, "--describe", "--entity-type", "things"}, "Invalid entity type things, the entity type must be one of topics, clients, users, brokers, ips, broker-loggers, client-metrics with a --bootstrap-server or --bootstrap-controller argument"},
			{"no bootstrap", []string{"--describe", "--entity-type", "topics"}, "One of the required --bootstrap-server, --boostrap-controller, or --zookeeper arguments must be specified"},
			{"alter without configs", []string{"--bootstrap-server", bs, "--alter", "--topic", topic}, "At least one of --add-config, --add-config-file, or --delete-config must be specified with --alter"},
			{"unknown option", []string{"--bootstrap-server", bs, "--describe", "--frobnicate"}, "frobnicate is not a recognized option"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := runTool(t, "", "kafka-configs", tc.args...)
				if r.Code != 1 || strings.SplitN(r.Stderr, "\n", 2)[0] != tc.stderr || r.Stdout != "" {
					t.Errorf("want exit 1 and stderr starting %q\n%s", tc.stderr, r)
				}
			})
		}
		r := runTool(t, "", "kafka-configs", "--help")
		if r.Code != 0 || !strings.HasPrefix(r.Stderr, purposeLine("kafka-configs")) || !strings.Contains(r.Stderr, "--add-config <String>") {
			t.Errorf("--help:\n%s", r)
		}
	})
}

// purposeLine is the first line each admin tool's --help prints.
func purposeLine(tool string) string {
	return map[string]string{
		"kafka-configs":             "This tool helps to manipulate and describe entity config for a topic, client, user, broker, ip or client-metrics\n",
		"kafka-delete-records":      "This tool helps to delete records of the given partitions down to the specified offset.\n",
		"kafka-leader-election":     "This tool attempts to elect a new leader for a set of topic partitions. The type of elections supported are preferred replicas and unclean replicas.\n",
		"kafka-reassign-partitions": "This tool helps to move topic partitions between replicas.\n",
	}[tool]
}
