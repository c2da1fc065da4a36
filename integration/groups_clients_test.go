package integration

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// franzMember is a franz-go group consumer recording its assignments.
type franzMember struct {
	cl *kgo.Client

	mu       sync.Mutex
	owned    map[int32]bool
	revoked  [][]int32
	consumed map[string]int
}

func startFranzMember(t *testing.T, c *Cluster, groupID, topic string) *franzMember {
	t.Helper()
	m := &franzMember{owned: map[int32]bool{}, consumed: map[string]int{}}
	parts := func(ps map[string][]int32) []int32 {
		out := append([]int32(nil), ps[topic]...)
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.LiveBootstrap()...),
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.AutoCommitInterval(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range parts(ps) {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.revoked = append(m.revoked, parts(ps))
			for _, p := range parts(ps) {
				delete(m.owned, p)
			}
		}),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.consumed[string(r.Value)]++
				m.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return m
}

func (m *franzMember) ownedList() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestGroupFranzCooperativeSticky: franz-go members with the
// cooperative-sticky balancer (KIP-429) rebalance incrementally: when a
// second member joins, the first gives up only the partitions that move and
// keeps consuming the others.
func TestGroupFranzCooperativeSticky(t *testing.T) {
	c := newCluster(t, opts{Overrides: map[string]string{"offsets.topic.num.partitions": "5"}})
	const topic, groupID = "coop-topic", "coop-group"
	createTopic(t, c, c.Admin(t, nil), topic, 4, 1)
	a := startFranzMember(t, c, groupID, topic)
	waitFor(t, 60*time.Second, func() error {
		if o := a.ownedList(); len(o) != 4 {
			return fmt.Errorf("first member owns %v", o)
		}
		return nil
	})
	b := startFranzMember(t, c, groupID, topic)
	waitFor(t, 60*time.Second, func() error {
		oa, ob := a.ownedList(), b.ownedList()
		if len(oa) != 2 || len(ob) != 2 {
			return fmt.Errorf("owned %v and %v, want 2 each", oa, ob)
		}
		for _, p := range oa {
			for _, q := range ob {
				if p == q {
					return fmt.Errorf("partition %d owned by both", p)
				}
			}
		}
		return nil
	})
	a.mu.Lock()
	revoked := fmt.Sprint(a.revoked)
	for _, r := range a.revoked {
		if len(r) > 2 {
			a.mu.Unlock()
			t.Fatalf("first member had %v revoked at once (eager, not incremental); all revocations %s", r, revoked)
		}
	}
	a.mu.Unlock()
	vals := produceValues(t, c, topic, "coop", 100)
	waitFor(t, 60*time.Second, func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, v := range vals {
			if a.consumed[v]+b.consumed[v] == 0 {
				return fmt.Errorf("%q not consumed", v)
			}
		}
		return nil
	})
	if state, n := describeGroup(t, c, groupID); state != "Stable" || n != 2 {
		t.Fatalf("group %s with %d members, want Stable with 2", state, n)
	}
}

// TestGroupKcat: a librdkafka consumer (kcat -G, the balanced consumer)
// joins a group, consumes every message and commits, so a second run reads
// nothing old.
func TestGroupKcat(t *testing.T) {
	bin := kcatBin(t)
	c := newCluster(t, opts{Overrides: map[string]string{"offsets.topic.num.partitions": "5"}})
	const topic, groupID = "kcat-group-topic", "kcat-group"
	createTopic(t, c, c.Admin(t, nil), topic, 3, 1)
	vals := produceValues(t, c, topic, "kcat", 30)
	run := func() string {
		t.Helper()
		// -G consumes until -e (exit at end of every partition) and -c
		// bound it; commits are synchronous at exit (enable.auto.commit
		// plus the close).
		args := []string{"-b", strings.Join(c.Bootstrap(), ","), "-G", groupID, "-e",
			"-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=10000", "-f", "%s\n", topic}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run()
	for _, v := range vals {
		if !strings.Contains(out, v) {
			t.Fatalf("kcat -G did not print %q; output:\n%s", v, out)
		}
	}
	committed := committedOffsets(t, c, groupID, topic, 3)
	hw := highWatermarks(t, c, topic, 3)
	for p := int32(0); p < 3; p++ {
		if committed[p] != hw[p] {
			t.Fatalf("partition %d: kcat committed %d, high watermark %d", p, committed[p], hw[p])
		}
	}
	more := produceValues(t, c, topic, "kcat-more", 6)
	out = run()
	for _, v := range vals {
		if strings.Contains(out, v) {
			t.Fatalf("second kcat run re-read %q despite the committed offsets", v)
		}
	}
	for _, v := range more {
		if !strings.Contains(out, v) {
			t.Fatalf("second kcat run missed %q; output:\n%s", v, out)
		}
	}
}
