package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestGroupSaramaRebalance runs sarama ConsumerGroup members against one
// broker: three members share a 6-partition topic two partitions each, a
// fourth joining rebalances, a member leaving hands its partitions over,
// every message is consumed, committed offsets never go backwards, and the
// whole group stopped and restarted resumes from its committed offsets.
// __consumer_offsets is created on first FindCoordinator with the default
// 50 partitions.
func TestGroupSaramaRebalance(t *testing.T) {
	c := newCluster(t, opts{})
	top := t // members outlive the subtests that start them
	const topic, groupID = "group-topic", "sarama-group"
	createTopic(t, c, c.Admin(t, nil), topic, 6, 1)
	sink := newGroupSink()
	cfg := func() *sarama.Config { return groupConfig(c, sarama.OffsetOldest) }

	members := []*saramaMember{}
	for i := 0; i < 3; i++ {
		members = append(members, startSaramaMember(t, c, cfg(), groupID, topic, fmt.Sprintf("m%d", i), sink))
	}
	gen := waitAssignment(t, members, 6, 2, 2)
	t.Logf("3 members, generation %d", gen)
	if md, err := fetchMetadata(c, "__consumer_offsets"); err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 50 {
		t.Fatalf("__consumer_offsets: %v %+v", err, md)
	}
	vals := produceValues(t, c, topic, "first", 300)
	waitConsumed(t, sink, vals)

	var lastCommitted map[int32]int64
	checkCommitted := func(t *testing.T) {
		t.Helper()
		now := committedOffsets(t, c, groupID, topic, 6)
		for p, o := range lastCommitted {
			if now[p] < o {
				t.Fatalf("partition %d: committed offset went back from %d to %d", p, o, now[p])
			}
		}
		lastCommitted = now
	}
	t.Run("a fourth member joins", func(t *testing.T) {
		members = append(members, startSaramaMember(top, c, cfg(), groupID, topic, "m3", sink))
		g := waitAssignment(t, members, 6, 1, 2)
		if g <= gen {
			t.Fatalf("generation %d after the join, want > %d", g, gen)
		}
		gen = g
		vals := produceValues(t, c, topic, "fourth", 200)
		waitConsumed(t, sink, vals)
		checkCommitted(t)
	})
	t.Run("a member leaves", func(t *testing.T) {
		members[1].Close()
		members = append(members[:1], members[2:]...)
		g := waitAssignment(t, members, 6, 2, 2)
		if g <= gen {
			t.Fatalf("generation %d after the leave, want > %d", g, gen)
		}
		gen = g
		vals := produceValues(t, c, topic, "left", 200)
		waitConsumed(t, sink, vals)
		checkCommitted(t)
	})
	if d := sink.duplicates(); len(d) > 0 {
		t.Fatalf("partitions owned twice in one generation: %v", d)
	}

	t.Run("stop all and restart: resume from committed offsets", func(t *testing.T) {
		// Wait for the last commits, then stop everyone.
		waitFor(t, 30*time.Second, func() error {
			hw := highWatermarks(t, c, topic, 6)
			got := committedOffsets(t, c, groupID, topic, 6)
			for p := int32(0); p < 6; p++ {
				if got[p] != hw[p] {
					return fmt.Errorf("partition %d committed %d, high watermark %d", p, got[p], hw[p])
				}
			}
			return nil
		})
		for _, m := range members {
			m.Close()
		}
		waitFor(t, 30*time.Second, func() error {
			if state, n := describeGroup(t, c, groupID); state != "Empty" || n != 0 {
				return fmt.Errorf("group %s with %d members, want Empty", state, n)
			}
			return nil
		})
		before := committedOffsets(t, c, groupID, topic, 6)
		checkCommitted(t)
		fresh := produceValues(t, c, topic, "after-restart", 120)
		restarted := newGroupSink()
		members = nil
		for i := 0; i < 3; i++ {
			members = append(members, startSaramaMember(t, c, cfg(), groupID, topic, fmt.Sprintf("r%d", i), restarted))
		}
		waitAssignment(t, members, 6, 2, 2)
		waitConsumed(t, restarted, fresh)
		restarted.mu.Lock()
		defer restarted.mu.Unlock()
		for v, ds := range restarted.consumed {
			for _, d := range ds {
				if d.offset < before[d.partition] {
					t.Fatalf("re-consumed %q at offset %d of partition %d, below the committed %d", v, d.offset, d.partition, before[d.partition])
				}
			}
		}
	})
}

// highWatermarks returns the newest offsets of topic's n partitions.
func highWatermarks(t testing.TB, c *Cluster, topic string, n int) map[int32]int64 {
	t.Helper()
	client := c.Client(t, nil)
	out := map[int32]int64{}
	for p := int32(0); p < int32(n); p++ {
		_, newest, err := partitionOffsets(client, topic, p)
		if err != nil {
			t.Fatalf("offsets of %s-%d: %v", topic, p, err)
		}
		out[p] = newest
	}
	return out
}

// TestGroupOffsetReset: a new group starts at the oldest offset with
// auto.offset.reset=earliest and at the end with latest.
func TestGroupOffsetReset(t *testing.T) {
	c := newCluster(t, opts{Overrides: map[string]string{"offsets.topic.num.partitions": "5"}})
	const topic = "reset-topic"
	createTopic(t, c, c.Admin(t, nil), topic, 3, 1)
	old := produceValues(t, c, topic, "old", 60)

	earliest := newGroupSink()
	me := startSaramaMember(t, c, groupConfig(c, sarama.OffsetOldest), "earliest-group", topic, "e", earliest)
	latest := newGroupSink()
	ml := startSaramaMember(t, c, groupConfig(c, sarama.OffsetNewest), "latest-group", topic, "l", latest)
	waitAssignment(t, []*saramaMember{me}, 3, 3, 3)
	waitAssignment(t, []*saramaMember{ml}, 3, 3, 3)
	// Once the latest member consumes a marker its partition consumers
	// have resolved "latest"; until then a message could land before it.
	var markers []string
	waitFor(t, 60*time.Second, func() error {
		for _, v := range markers {
			if latest.count(v) > 0 {
				return nil
			}
		}
		markers = append(markers, produceValues(t, c, topic, fmt.Sprintf("marker%d", len(markers)), 3)...)
		return fmt.Errorf("latest-group consumed none of %d markers yet", len(markers))
	})
	fresh := produceValues(t, c, topic, "new", 30)
	waitConsumed(t, earliest, append(append([]string{}, old...), fresh...))
	waitConsumed(t, latest, fresh)
	for _, v := range old {
		if latest.count(v) > 0 {
			t.Fatalf("latest-group consumed %q, produced before it joined", v)
		}
	}
}

// TestGroupStaticMember: a static member (group.instance.id, KIP-345)
// restarting within its session timeout gets its partitions back without a
// rebalance: the generation stays and the other member never re-runs Setup.
func TestGroupStaticMember(t *testing.T) {
	c := newCluster(t, opts{Overrides: map[string]string{"offsets.topic.num.partitions": "5"}})
	const topic, groupID = "static-topic", "static-group"
	createTopic(t, c, c.Admin(t, nil), topic, 4, 1)
	cfg := func(instance string) *sarama.Config {
		cfg := groupConfig(c, sarama.OffsetOldest)
		cfg.Consumer.Group.InstanceId = instance
		cfg.Consumer.Group.Session.Timeout = 30 * time.Second
		return cfg
	}
	sink := newGroupSink()
	a := startSaramaMember(t, c, cfg("static-a"), groupID, topic, "a", sink)
	b := startSaramaMember(t, c, cfg("static-b"), groupID, topic, "b", sink)
	gen := waitAssignment(t, []*saramaMember{a, b}, 4, 2, 2)
	claimsB, _, _ := b.state()
	_, _, setupsA := a.state()

	b.Close() // a static member does not send LeaveGroup
	b2 := startSaramaMember(t, c, cfg("static-b"), groupID, topic, "b2", sink)
	waitFor(t, 60*time.Second, func() error {
		claims, g, setups := b2.state()
		if setups == 0 {
			return fmt.Errorf("restarted member not set up yet")
		}
		if g != gen {
			return fmt.Errorf("restarted static member in generation %d, want %d (no rebalance)", g, gen)
		}
		if fmt.Sprint(claims) != fmt.Sprint(claimsB) {
			return fmt.Errorf("restarted member holds %v, want %v", claims, claimsB)
		}
		return nil
	})
	vals := produceValues(t, c, topic, "static", 80)
	waitConsumed(t, sink, vals)
	if _, g, setups := a.state(); g != gen || setups != setupsA {
		t.Fatalf("member a: generation %d (want %d), %d setups (want %d): a rebalance happened", g, gen, setups, setupsA)
	}
	if state, n := describeGroup(t, c, groupID); state != "Stable" || n != 2 {
		t.Fatalf("group %s with %d members, want Stable with 2", state, n)
	}
}
