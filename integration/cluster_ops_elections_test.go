package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-zookeeper/zk"
)

// Preferred and unclean leader elections on demand (issue 7, reference
// §2.11): the ElectLeaders API through sarama's ClusterAdmin, its
// per-partition errors, and the /admin/preferred_replica_election znode
// Kafka's older tooling writes.

// assignment reads /brokers/topics/<topic>: partition → replicas, the
// first being the preferred leader.
func assignment(t testing.TB, c *Cluster, topic string) map[int32][]int {
	t.Helper()
	data, _, err := c.MustZK(t).Get("/brokers/topics/" + topic)
	if err != nil {
		t.Fatalf("read assignment of %s: %v", topic, err)
	}
	var raw struct {
		Partitions map[string][]int `json:"partitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("assignment of %s %q: %v", topic, data, err)
	}
	out := map[int32][]int{}
	for k, v := range raw.Partitions {
		p, _ := strconv.Atoi(k)
		out[int32(p)] = v
	}
	return out
}

// misledPartitions lists the partitions of topic whose ZooKeeper leader is
// not the preferred replica.
func misledPartitions(t testing.TB, c *Cluster, topic string) ([]int32, error) {
	var out []int32
	for p, replicas := range assignment(t, c, topic) {
		st, err := c.PartitionState(topic, p)
		if err != nil {
			return nil, err
		}
		if st.Leader != replicas[0] {
			out = append(out, p)
		}
	}
	return out, nil
}

// waitPreferredLeaders waits until every partition of topic is led by its
// preferred replica.
func waitPreferredLeaders(t testing.TB, c *Cluster, topic string, timeout time.Duration) {
	t.Helper()
	c.WaitFor(t, timeout, func() error {
		misled, err := misledPartitions(t, c, topic)
		if err != nil {
			return err
		}
		if len(misled) > 0 {
			return fmt.Errorf("%s: partitions %v not led by their preferred replica", topic, misled)
		}
		return nil
	})
}

// bounce stops broker i with SIGTERM, starts it again and waits for the
// full ISR of topics: the preferred leaderships on i move away.
func bounce(t testing.TB, c *Cluster, i int, topics map[string]int32) {
	t.Helper()
	c.StopBroker(i)
	c.StartBroker(i)
	c.WaitFullISR(t, 60*time.Second, c.Brokers(), topics)
}

// electionErrors runs ElectLeaders through the admin client and returns the
// error per partition of topic.
func electionErrors(t testing.TB, admin sarama.ClusterAdmin, typ sarama.ElectionType, topic string, parts ...int32) map[int32]sarama.KError {
	t.Helper()
	res, err := admin.ElectLeaders(typ, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatalf("ElectLeaders(%v, %s %v): %v", typ, topic, parts, err)
	}
	out := map[int32]sarama.KError{}
	for p, r := range res[topic] {
		out[p] = r.ErrorCode
	}
	if len(out) != len(parts) {
		t.Fatalf("ElectLeaders(%s %v) answered %v", topic, parts, res)
	}
	return out
}

func electionsCluster(t *testing.T) *Cluster {
	if testing.Short() {
		t.Skip("cluster operations take minutes; skipped with -short")
	}
	return newCluster(t, opts{
		Brokers: 3,
		Overrides: map[string]string{
			"min.insync.replicas":        "2",
			"default.replication.factor": "3",
			// Leaders moved by a bounce stay moved until the test elects.
			"auto.leader.rebalance.enable":         "false",
			"controlled.shutdown.retry.backoff.ms": "500",
		},
	})
}

// TestElectLeadersPreferred: after a bounce moved leaderships, a
// PREFERRED election through sarama's ClusterAdmin gives them back, and
// every case Kafka answers with an error gets Kafka's code.
func TestElectLeadersPreferred(t *testing.T) {
	c := electionsCluster(t)
	const topic, parts = "elect", int32(6)
	createRF3Topic(t, c, topic, parts, nil)
	topics := map[string]int32{topic: parts}
	waitPreferredLeaders(t, c, topic, 30*time.Second)

	const bounced = 1
	bounce(t, c, bounced, topics)
	misled, err := misledPartitions(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(misled) == 0 {
		t.Fatalf("after bouncing broker %d every partition is still led by its preferred replica", bounced)
	}
	t.Logf("partitions led elsewhere after the bounce: %v", misled)

	admin := c.Admin(t, nil)
	all := make([]int32, parts)
	for p := range all {
		all[p] = int32(p)
	}
	got := electionErrors(t, admin, sarama.PreferredElection, topic, all...)
	for p, code := range got {
		want := sarama.ErrElectionNotNeeded
		if containsInt32(misled, p) {
			want = sarama.ErrNoError
		}
		if code != want {
			t.Errorf("partition %d: %v, want %v", p, code, want)
		}
	}
	// The answer comes once the election is done: ZooKeeper has it already.
	if now, err := misledPartitions(t, c, topic); err != nil || len(now) > 0 {
		t.Errorf("right after ElectLeaders, partitions %v (%v) are not led by their preferred replica", now, err)
	}
	waitPreferredLeaders(t, c, topic, 10*time.Second)

	t.Run("again: election not needed", func(t *testing.T) {
		for p, code := range electionErrors(t, admin, sarama.PreferredElection, topic, all...) {
			if code != sarama.ErrElectionNotNeeded {
				t.Errorf("partition %d: %v, want ELECTION_NOT_NEEDED", p, code)
			}
		}
	})
	t.Run("unknown partition", func(t *testing.T) {
		if got := electionErrors(t, admin, sarama.PreferredElection, topic, 99); got[99] != sarama.ErrUnknownTopicOrPartition {
			t.Errorf("partition 99: %v, want UNKNOWN_TOPIC_OR_PARTITION", got[99])
		}
		if got := electionErrors(t, admin, sarama.PreferredElection, "no-such-topic", 0); got[0] != sarama.ErrUnknownTopicOrPartition {
			t.Errorf("unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", got[0])
		}
	})
	t.Run("unclean with a live leader: not needed", func(t *testing.T) {
		if got := electionErrors(t, admin, sarama.UncleanElection, topic, 0); got[0] != sarama.ErrElectionNotNeeded {
			t.Errorf("partition 0: %v, want ELECTION_NOT_NEEDED", got[0])
		}
	})
	t.Run("not the controller", func(t *testing.T) {
		ctrl, err := c.Controller()
		if err != nil {
			t.Fatal(err)
		}
		other := (ctrl + 1) % c.Brokers()
		b := sarama.NewBroker(c.Addr(other))
		if err := b.Open(c.SaramaConfig()); err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		resp, err := b.ElectLeaders(&sarama.ElectLeadersRequest{Version: 2, Type: sarama.PreferredElection,
			TopicPartitions: map[string][]int32{topic: {0}}, TimeoutMs: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.ReplicaElectionResults[topic][0]; got == nil || got.ErrorCode != sarama.ErrNotController {
			t.Errorf("ElectLeaders on broker %d (controller %d): %+v, want NOT_CONTROLLER", other, ctrl, got)
		}
	})

	// The preferred replica down: PREFERRED_LEADER_NOT_AVAILABLE; a
	// single-replica partition on it: no eligible leader even unclean.
	const down = 2
	single := "elect-single"
	if err := admin.CreateTopic(single, &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1,
		ReplicaAssignment: map[int32][]int32{0: {down}}}, false); err != nil {
		t.Fatal(err)
	}
	c.WaitFullISR(t, 30*time.Second, 1, map[string]int32{single: 1})
	c.StopBroker(down)
	var preferredDown []int32
	for p, replicas := range assignment(t, c, topic) {
		if replicas[0] == down {
			preferredDown = append(preferredDown, p)
		}
	}
	if len(preferredDown) == 0 {
		t.Fatalf("no partition prefers broker %d", down)
	}
	c.WaitFor(t, 30*time.Second, func() error {
		st, err := c.PartitionState(single, 0)
		if err != nil || st.Leader != -1 {
			return fmt.Errorf("%s-0 leader %d (%v), want none", single, st.Leader, err)
		}
		return nil
	})
	admin2 := c.Admin(t, nil) // bootstrapped from the live brokers
	t.Run("preferred replica down", func(t *testing.T) {
		p := preferredDown[0]
		if got := electionErrors(t, admin2, sarama.PreferredElection, topic, p); got[p] != sarama.ErrPreferredLeaderNotAvailable {
			t.Errorf("partition %d (prefers %d, stopped): %v, want PREFERRED_LEADER_NOT_AVAILABLE", p, down, got[p])
		}
	})
	t.Run("unclean with no live replica", func(t *testing.T) {
		if got := electionErrors(t, admin2, sarama.UncleanElection, single, 0); got[0] != sarama.ErrEligibleLeadersNotAvailable {
			t.Errorf("%s-0: %v, want ELIGIBLE_LEADERS_NOT_AVAILABLE", single, got[0])
		}
	})
	c.StartBroker(down)
	c.WaitFullISR(t, 60*time.Second, 3, topics)
}

// TestPreferredReplicaElectionZnode: writing Kafka's
// /admin/preferred_replica_election JSON makes the controller elect the
// preferred leaders of the listed partitions and delete the znode.
func TestPreferredReplicaElectionZnode(t *testing.T) {
	c := electionsCluster(t)
	const topic, parts = "elect-znode", int32(6)
	createRF3Topic(t, c, topic, parts, nil)
	topics := map[string]int32{topic: parts}
	waitPreferredLeaders(t, c, topic, 30*time.Second)
	bounce(t, c, 0, topics)
	misled, err := misledPartitions(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(misled) == 0 {
		t.Fatal("the bounce moved no leadership")
	}
	var entries []string
	for _, p := range misled {
		entries = append(entries, fmt.Sprintf(`{"topic":%q,"partition":%d}`, topic, p))
	}
	body := `{"version":1,"partitions":[` + joinComma(entries) + `]}`
	zc := c.MustZK(t)
	if _, err := zc.Create("/admin/preferred_replica_election", []byte(body), 0); err != nil {
		t.Fatalf("create /admin/preferred_replica_election: %v", err)
	}
	waitPreferredLeaders(t, c, topic, 20*time.Second)
	c.WaitFor(t, 10*time.Second, func() error {
		ok, _, err := zc.Exists("/admin/preferred_replica_election")
		if err != nil {
			return err
		}
		if ok {
			return errors.New("/admin/preferred_replica_election still exists")
		}
		return nil
	})
	// Another request works the same way (the watch is still there).
	bounce(t, c, 0, topics)
	if _, err := zc.Create("/admin/preferred_replica_election", []byte(`{"version":1,"partitions":[{"topic":"`+topic+`","partition":0},{"topic":"`+topic+`","partition":1},{"topic":"`+topic+`","partition":2},{"topic":"`+topic+`","partition":3},{"topic":"`+topic+`","partition":4},{"topic":"`+topic+`","partition":5}]}`), 0); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
	waitPreferredLeaders(t, c, topic, 20*time.Second)
}

func containsInt32(xs []int32, x int32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
