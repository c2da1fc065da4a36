package integration

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// The kafka-consumer-groups tool against one broker: the seeds' session
// (produce, consume part with a committing group, describe with LAG), the
// members and state views, list, reset-offsets in every scenario (and a
// consumer resuming from the new offset), delete-offsets, delete, and
// Kafka's errors.

var (
	// uuidRe is the random part of a member id ("console-consumer-<uuid>");
	// it becomes a placeholder of the same length, so columns stay aligned.
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	// hostRe is a member's host as the broker reports it ("/127.0.0.1").
	hostRe = regexp.MustCompile(`/127\.0\.0\.\d+( *)`)
)

// normalizeGroups is normalize plus member ids and hosts. Broker addresses
// in a padded cell (the --state COORDINATOR column) keep the cell's width.
func normalizeGroups(s string, addrs map[string]string) string {
	for from, to := range addrs {
		re := regexp.MustCompile(regexp.QuoteMeta(from) + `( \(\d+\))?( *)`)
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			cell := to + sub[1]
			if pad := len(m) - len(cell); sub[2] != "" && pad > 0 {
				return cell + strings.Repeat(" ", pad)
			}
			return cell + sub[2]
		})
	}
	s = normalize(s, nil)
	s = uuidRe.ReplaceAllString(s, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
	return hostRe.ReplaceAllStringFunc(s, func(m string) string {
		// keep the cell's width: "/127.0.0.10 " and "/127.0.0.1  " alike.
		return "/127.0.0.1" + strings.Repeat(" ", len(m)-len("/127.0.0.1"))
	})
}

// produceToPartitions produces counts[p] records to each partition p.
func produceToPartitions(t testing.TB, c *Cluster, topic, prefix string, counts map[int32]int) {
	t.Helper()
	cfg := c.SaramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	var msgs []message
	for p := int32(0); p < 16; p++ {
		for i := 0; i < counts[p]; i++ {
			msgs = append(msgs, message{Partition: p, Value: fmt.Sprintf("%s-p%d-%d", prefix, p, i)})
		}
	}
	produce(t, c, cfg, topic, msgs)
}

func TestToolConsumerGroups(t *testing.T) {
	buildTools(t)
	c := newCluster(t, opts{})
	bs := bootstrapFlag(c)
	addrs := kafkaAddrs(c)
	const (
		topic = "test-consumer-topic"
		group = "test-consumer-group"
	)
	groups := func(args ...string) toolResult {
		t.Helper()
		r := runTool(t, "", "kafka-consumer-groups", append([]string{"--bootstrap-server", bs}, args...)...)
		r.Stdout, r.Stderr = normalizeGroups(r.Stdout, addrs), normalizeGroups(r.Stderr, addrs)
		return r
	}
	expect := func(t *testing.T, r toolResult, code int, stdout, stderr string) {
		t.Helper()
		if r.Code != code {
			t.Errorf("exit %d, want %d\n%s", r.Code, code, r)
		}
		compareLines(t, "stdout", r.Stdout, stdout)
		compareLines(t, "stderr", r.Stderr, stderr)
	}
	golden := func(t *testing.T, r toolResult, code int, name, stderr string) {
		t.Helper()
		if r.Code != code {
			t.Errorf("exit %d, want %d\n%s", r.Code, code, r)
		}
		checkGolden(t, "consumer-groups/"+name, r.Stdout, nil)
		compareLines(t, "stderr", r.Stderr, stderr)
	}
	committed := func(t *testing.T, g string, want map[int32]int64) {
		t.Helper()
		c.WaitFor(t, 30*time.Second, func() error {
			got := committedOffsets(t, c, g, topic, 3)
			for p, off := range want {
				if got[p] != off {
					return fmt.Errorf("committed offsets of %s: %v, want %v", g, got, want)
				}
			}
			return nil
		})
	}
	waitState := func(t *testing.T, g, state string) {
		t.Helper()
		c.WaitFor(t, 60*time.Second, func() error {
			if s, _ := describeGroup(t, c, g); s != state {
				return fmt.Errorf("group %s is %s, want %s", g, s, state)
			}
			return nil
		})
	}
	member := func(t *testing.T, name string, sink *groupSink) *saramaMember {
		cfg := groupConfig(c, sarama.OffsetOldest)
		cfg.ClientID = "console-consumer"
		return startSaramaMember(t, c, cfg, group, topic, name, sink)
	}

	admin := c.Admin(t, nil)
	createTopic(t, c, admin, topic, 3, 1)
	produceToPartitions(t, c, topic, "first", map[int32]int{0: 4, 1: 3, 2: 2})

	// The first member belongs to the whole test: later subtests see it
	// active, then close it.
	active := member(t, "m1", newGroupSink())
	t.Run("describe an active group", func(t *testing.T) {
		waitAssignment(t, []*saramaMember{active}, 3, 3, 3)
		committed(t, group, map[int32]int64{0: 4, 1: 3, 2: 2})
		golden(t, groups("--describe", "--group", group), 0, "describe_active.golden", "")
		golden(t, groups("--describe", "--group", group, "--offsets"), 0, "describe_active.golden", "")
		golden(t, groups("--describe", "--group", group, "--members"), 0, "members.golden", "")
		golden(t, groups("--describe", "--group", group, "--members", "--verbose"), 0, "members_verbose.golden", "")
		golden(t, groups("--describe", "--group", group, "--state"), 0, "state_stable.golden", "")
	})

	t.Run("refused while the group is active", func(t *testing.T) {
		golden(t, groups("--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute"), 1, "reset_refused.golden", "")
		expect(t, groups("--delete", "--group", group), 1,
			"\nError: Deletion of some consumer groups failed:\n"+
				"* Group 'test-consumer-group' could not be deleted due to: java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.\n", "")
		golden(t, groups("--delete-offsets", "--group", group, "--topic", topic), 1, "delete_offsets_subscribed.golden", "")
		committed(t, group, map[int32]int64{0: 4, 1: 3, 2: 2})
	})

	t.Run("describe an empty group with lag", func(t *testing.T) {
		active.Close()
		waitState(t, group, "Empty")
		produceToPartitions(t, c, topic, "second", map[int32]int{0: 2, 2: 1})
		noMembers := "\nConsumer group 'test-consumer-group' has no active members.\n"
		golden(t, groups("--describe", "--group", group), 0, "describe_empty.golden", noMembers)
		golden(t, groups("--describe", "--group", group, "--state"), 0, "state_empty.golden", noMembers)
		expect(t, groups("--describe", "--group", group, "--members"), 0, "", noMembers)
	})

	t.Run("reset offsets of a group that does not exist yet", func(t *testing.T) {
		expect(t, groups("--reset-offsets", "--group", "other-group", "--topic", topic+":1", "--to-earliest", "--execute"), 0,
			"\nGROUP                          TOPIC                          PARTITION  NEW-OFFSET     \n"+
				"other-group                    test-consumer-topic            1          0              \n", "")
	})

	t.Run("list", func(t *testing.T) {
		expect(t, groups("--list"), 0, "other-group\ntest-consumer-group\n", "")
		expect(t, groups("--list", "--state"), 0,
			"GROUP               STATE\nother-group         Empty\ntest-consumer-group Empty\n", "")
		expect(t, groups("--list", "--state", "stable"), 0, "GROUP           STATE\n", "")
		expect(t, groups("--list", "--state", "Empty,Stable"), 0,
			"GROUP               STATE\nother-group         Empty\ntest-consumer-group Empty\n", "")
		r := groups("--list", "--state", "bogus")
		first, _, _ := strings.Cut(r.Stderr, "\n")
		if r.Code != 1 || first != "Invalid state list 'bogus'. Valid states are: PreparingRebalance, CompletingRebalance, Stable, Dead, Empty" {
			t.Errorf("--state bogus:\n%s", r)
		}
		golden(t, groups("--describe", "--all-groups"), 0, "describe_all_groups.golden",
			"\nConsumer group 'other-group' has no active members.\n\nConsumer group 'test-consumer-group' has no active members.\n")
	})

	t.Run("reset offsets", func(t *testing.T) {
		// The log: partition 0 has offsets 0-5, partition 1 0-2, partition 2
		// 0-2; committed 4, 3, 2.
		table := func(offsets ...int64) string {
			s := "\nGROUP                          TOPIC                          PARTITION  NEW-OFFSET     \n"
			for p, off := range offsets {
				s += fmt.Sprintf("%-30s %-30s %-10d %-15d\n", group, topic, p, off)
			}
			return s
		}
		expect(t, groups("--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--dry-run"), 0, table(0, 0, 0), "")
		committed(t, group, map[int32]int64{0: 4, 1: 3, 2: 2})
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--to-latest"), 0, table(6, 3, 3),
			"WARN: No action will be performed as the --execute option is missing.In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.\n")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--to-current", "--dry-run"), 0, table(4, 3, 2), "")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--by-duration", "PT1H", "--dry-run"), 0, table(0, 0, 0), "")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--to-datetime", "2000-01-01T00:00:00.000", "--dry-run"), 0, table(0, 0, 0), "")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--to-datetime", "2099-01-01T00:00:00.000+01:00", "--dry-run"), 0,
			"\nWarn: Partition 0 from topic test-consumer-topic is empty. Falling back to latest known offset.\n"+
				"\nWarn: Partition 1 from topic test-consumer-topic is empty. Falling back to latest known offset.\n"+
				"\nWarn: Partition 2 from topic test-consumer-topic is empty. Falling back to latest known offset.\n"+
				table(6, 3, 3), "")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--to-earliest", "--dry-run", "--export"), 0,
			"test-consumer-topic,0,0\ntest-consumer-topic,1,0\ntest-consumer-topic,2,0\n\n", "")

		// --shift-by, clamped at the log end with Kafka's warning.
		r := groups("--reset-offsets", "--group", group, "--all-topics", "--shift-by", "1", "--execute")
		compareLines(t, "stdout", r.Stdout, table(5, 3, 3))
		wantWarn := "[<time>] WARN New offset (4) is higher than latest offset for topic partition test-consumer-topic-1. Value will be set to 3 (kafka.admin.ConsumerGroupCommand$)\n"
		if r.Code != 0 || !strings.Contains(r.Stderr, wantWarn) {
			t.Errorf("--shift-by 1: want exit 0 and %q on stderr\n%s", wantWarn, r)
		}
		committed(t, group, map[int32]int64{0: 5, 1: 3, 2: 3})
		r = groups("--reset-offsets", "--group", group, "--topic", topic+":1", "--to-offset", "-5", "--dry-run")
		compareLines(t, "stdout", r.Stdout, "\nGROUP                          TOPIC                          PARTITION  NEW-OFFSET     \n"+
			fmt.Sprintf("%-30s %-30s %-10d %-15d\n", group, topic, 1, 0))
		if !strings.Contains(r.Stderr, "WARN New offset (-5) is lower than earliest offset for topic partition test-consumer-topic-1. Value will be set to 0") {
			t.Errorf("--to-offset -5: no lower-than-earliest warning\n%s", r)
		}

		// --to-offset on one partition, then a consumer resumes there.
		expect(t, groups("--reset-offsets", "--group", group, "--topic", topic+":0", "--to-offset", "1", "--execute"), 0,
			"\nGROUP                          TOPIC                          PARTITION  NEW-OFFSET     \n"+
				fmt.Sprintf("%-30s %-30s %-10d %-15d\n", group, topic, 0, 1), "")
		committed(t, group, map[int32]int64{0: 1, 1: 3, 2: 3})
		sink := newGroupSink()
		m := member(t, "m2", sink)
		c.WaitFor(t, 60*time.Second, func() error {
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if len(sink.consumed) < 5 {
				return fmt.Errorf("consumed %d of 5", len(sink.consumed))
			}
			return nil
		})
		committed(t, group, map[int32]int64{0: 6, 1: 3, 2: 3})
		m.Close()
		sink.mu.Lock()
		var got []string
		for v, ds := range sink.consumed {
			for _, d := range ds {
				got = append(got, fmt.Sprintf("%s@%d/%d", v, d.partition, d.offset))
			}
		}
		sink.mu.Unlock()
		want := map[string]bool{"first-p0-1@0/1": true, "first-p0-2@0/2": true, "first-p0-3@0/3": true, "second-p0-0@0/4": true, "second-p0-1@0/5": true}
		if len(got) != len(want) {
			t.Errorf("after the reset the consumer read %v, want partition 0 offsets 1-5 only", got)
		}
		for _, g := range got {
			if !want[g] {
				t.Errorf("after the reset the consumer read %s, want partition 0 offsets 1-5 only (all: %v)", g, got)
			}
		}
		waitState(t, group, "Empty")
	})

	t.Run("reset offsets errors", func(t *testing.T) {
		r := groups("--reset-offsets", "--group", group, "--to-earliest", "--dry-run")
		if first, _, _ := strings.Cut(r.Stderr, "\n"); r.Code != 1 || first != "One of the reset scopes should be defined: --all-topics, --topic." {
			t.Errorf("no scope:\n%s", r)
		}
		r = groups("--reset-offsets", "--group", group, "--all-topics", "--dry-run")
		if first, _, _ := strings.Cut(r.Stderr, "\n"); r.Code != 1 || !strings.HasPrefix(first, "Option '[reset-offsets]' requires one of the following scenarios: ") {
			t.Errorf("no scenario:\n%s", r)
		}
		expect(t, groups("--reset-offsets", "--group", group, "--topic", "nope", "--to-earliest", "--dry-run"), 1,
			"\nError: Executing consumer group command failed due to org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n",
			"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--to-datetime", "yesterday", "--dry-run"), 1,
			"\nError: Executing consumer group command failed due to Error parsing timestamp. It does not contain a 'T' according to ISO8601 format\n",
			"java.text.ParseException: Error parsing timestamp. It does not contain a 'T' according to ISO8601 format\n")
		expect(t, groups("--reset-offsets", "--group", group, "--all-topics", "--by-duration", "1h", "--dry-run"), 1,
			"\nError: Executing consumer group command failed due to Text cannot be parsed to a Duration\n",
			"java.time.format.DateTimeParseException: Text cannot be parsed to a Duration\n")
		r = groups("--reset-offsets", "--group", "other-group", "--topic", topic+":0", "--shift-by", "1", "--dry-run")
		if first, _, _ := strings.Cut(r.Stderr, "\n"); r.Code != 1 || first != "Cannot shift offset for partition test-consumer-topic-0 since there is no current committed offset" {
			t.Errorf("shift without a committed offset:\n%s", r)
		}
	})

	t.Run("delete offsets", func(t *testing.T) {
		golden(t, groups("--delete-offsets", "--group", group, "--topic", topic+":0"), 0, "delete_offsets.golden", "")
		golden(t, groups("--describe", "--group", group), 0, "describe_after_delete_offsets.golden",
			"\nConsumer group 'test-consumer-group' has no active members.\n")
		expect(t, groups("--delete-offsets", "--group", group, "--topic", "nope"), 1,
			"Request succeed for deleting offsets with topic nope group test-consumer-group\n\n"+
				"TOPIC                          PARTITION       STATUS         \n"+
				"nope                           Not Provided    Error: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host this topic-partition.\n", "")
		expect(t, groups("--delete-offsets", "--group", "nope-group", "--topic", topic+":0"), 1,
			"\nError: 'nope-group' does not exist.\n\n"+
				"TOPIC                          PARTITION       STATUS         \n"+
				"test-consumer-topic            0               Error: org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n", "")
	})

	t.Run("delete", func(t *testing.T) {
		expect(t, groups("--delete", "--group", "other-group"), 0, "Deletion of requested consumer groups ('other-group') was successful.\n", "")
		expect(t, groups("--delete", "--group", "other-group"), 1,
			"\nError: Deletion of some consumer groups failed:\n"+
				"* Group 'other-group' could not be deleted due to: java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist.\n", "")
		expect(t, groups("--describe", "--group", "other-group"), 1, "\nError: Consumer group 'other-group' does not exist.\n", "")
		expect(t, groups("--list"), 0, "test-consumer-group\n", "")
	})

	t.Run("usage errors", func(t *testing.T) {
		r := runTool(t, "", "kafka-consumer-groups", "--list")
		if first, _, _ := strings.Cut(r.Stderr, "\n"); r.Code != 1 || first != `Missing required argument "[bootstrap-server]"` || !strings.Contains(r.Stderr, "--bootstrap-server <String: server to") {
			t.Errorf("no bootstrap server:\n%s", r)
		}
		r = groups("--describe")
		if first, _, _ := strings.Cut(r.Stderr, "\n"); r.Code != 1 || first != "Option [describe] takes one of these options: [group], [all-groups]" {
			t.Errorf("--describe without a group:\n%s", r)
		}
		r = runTool(t, "", "kafka-consumer-groups", "--help")
		if r.Code != 0 || !strings.HasPrefix(r.Stderr, "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.\nOption") ||
			!strings.Contains(r.Stderr, "--state [String]") || !strings.Contains(r.Stderr, "--reset-offsets") {
			t.Errorf("--help:\n%s", r)
		}
	})

	t.Run("unreachable cluster", func(t *testing.T) {
		r := runTool(t, "", "kafka-consumer-groups", "--bootstrap-server", "127.0.0.1:1", "--list")
		expect(t, r, 1,
			"\nError: Executing consumer group command failed due to org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment. Call: listConsumerGroups\n",
			"java.util.concurrent.ExecutionException: org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment. Call: listConsumerGroups\n")
	})
}

// TestToolConsumerGroupsCoordinator checks the COORDINATOR (ID) column of
// --state on three brokers against the coordinator a sarama client finds,
// and that --list gathers the groups of every coordinator.
func TestToolConsumerGroupsCoordinator(t *testing.T) {
	buildTools(t)
	c := newCluster(t, opts{Brokers: 3})
	bs := bootstrapFlag(c)
	createTopic(t, c, c.Admin(t, nil), "cg-topic", 3, 3)
	client := c.Client(t, nil)
	ids := []string{"g-a", "g-b", "g-c", "g-d", "g-e", "g-f"}
	coordinators := map[int32]bool{}
	for _, g := range ids {
		r := runTool(t, "", "kafka-consumer-groups", "--bootstrap-server", bs, "--reset-offsets", "--group", g, "--topic", "cg-topic", "--to-earliest", "--execute")
		if r.Code != 0 {
			t.Fatalf("reset %s: %s", g, r)
		}
		var coord *sarama.Broker
		c.WaitFor(t, 30*time.Second, func() error {
			if err := client.RefreshCoordinator(g); err != nil {
				return err
			}
			var err error
			coord, err = client.Coordinator(g)
			return err
		})
		coordinators[coord.ID()] = true
		r = runTool(t, "", "kafka-consumer-groups", "--bootstrap-server", bs, "--describe", "--group", g, "--state")
		f := "%-25s %-25s %-20s %-15s %s\n"
		want := "\n" + fmt.Sprintf(f, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS") +
			fmt.Sprintf(f, g, fmt.Sprintf("%s (%d)", coord.Addr(), coord.ID()), "", "Empty", "0")
		if r.Code != 0 {
			t.Errorf("--state %s: %s", g, r)
		}
		compareLines(t, "--state "+g, r.Stdout, want)
		compareLines(t, "--state stderr "+g, r.Stderr, fmt.Sprintf("\nConsumer group '%s' has no active members.\n", g))
	}
	t.Logf("groups coordinated by brokers %v", coordinators)
	r := runTool(t, "", "kafka-consumer-groups", "--bootstrap-server", bs, "--list")
	compareLines(t, "--list", r.Stdout, strings.Join(ids, "\n")+"\n")
}
