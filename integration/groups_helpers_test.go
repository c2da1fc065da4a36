package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// groupSink collects what the members of consumer groups consumed and the
// partitions each member held in each generation.
type groupSink struct {
	mu       sync.Mutex
	consumed map[string][]consumedMsg   // value → every delivery
	owners   map[int32]map[int32]string // generation → partition → member (a double claim is recorded in dup)
	dup      []string
}

type consumedMsg struct {
	member     string
	partition  int32
	offset     int64
	generation int32
}

func newGroupSink() *groupSink {
	return &groupSink{consumed: map[string][]consumedMsg{}, owners: map[int32]map[int32]string{}}
}

func (s *groupSink) claim(member string, generation int32, partitions []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.owners[generation]
	if !ok {
		m = map[int32]string{}
		s.owners[generation] = m
	}
	for _, p := range partitions {
		if prev, ok := m[p]; ok && prev != member {
			s.dup = append(s.dup, fmt.Sprintf("generation %d: partition %d claimed by %s and %s", generation, p, prev, member))
		}
		m[p] = member
	}
}

func (s *groupSink) add(member string, generation int32, msg *sarama.ConsumerMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumed[string(msg.Value)] = append(s.consumed[string(msg.Value)], consumedMsg{member, msg.Partition, msg.Offset, generation})
}

// missing returns the values of msgs not consumed yet.
func (s *groupSink) missing(values []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range values {
		if len(s.consumed[v]) == 0 {
			out = append(out, v)
		}
	}
	return out
}

func (s *groupSink) count(value string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.consumed[value])
}

func (s *groupSink) duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.dup...)
}

// saramaMember is one sarama ConsumerGroup member consuming a topic in its
// own goroutine until Close.
type saramaMember struct {
	name   string
	cg     sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	sink   *groupSink

	mu         sync.Mutex
	claims     []int32
	generation int32
	memberID   string
	setups     int
	errs       []error
}

// groupConfig is the harness's sarama config for group members: start from
// initial when nothing is committed, short heartbeats, frequent commits.
func groupConfig(c *Cluster, initial int64) *sarama.Config {
	cfg := c.SaramaConfig()
	cfg.Consumer.Offsets.Initial = initial
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 10 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 20 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Retry.Max = 20
	cfg.Consumer.Return.Errors = true
	return cfg
}

func startSaramaMember(t testing.TB, c *Cluster, cfg *sarama.Config, groupID, topic, name string, sink *groupSink) *saramaMember {
	t.Helper()
	cg, err := sarama.NewConsumerGroup(c.LiveBootstrap(), groupID, cfg)
	if err != nil {
		t.Fatalf("member %s: NewConsumerGroup: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{name: name, cg: cg, cancel: cancel, done: make(chan struct{}), sink: sink}
	go func() {
		for err := range cg.Errors() {
			m.mu.Lock()
			m.errs = append(m.errs, err)
			m.mu.Unlock()
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, m); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				m.mu.Lock()
				m.errs = append(m.errs, err)
				m.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()
	t.Cleanup(m.Close)
	return m
}

// Close leaves the group (a dynamic member sends LeaveGroup) and waits.
func (m *saramaMember) Close() {
	m.cancel()
	_ = m.cg.Close()
	<-m.done
}

func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	var ps []int32
	for _, parts := range s.Claims() {
		ps = append(ps, parts...)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	m.mu.Lock()
	m.claims, m.generation, m.memberID = ps, s.GenerationID(), s.MemberID()
	m.setups++
	m.mu.Unlock()
	if m.sink != nil {
		m.sink.claim(m.name, s.GenerationID(), ps)
	}
	return nil
}

func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	m.claims = nil
	m.mu.Unlock()
	return nil
}

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		if m.sink != nil {
			m.sink.add(m.name, s.GenerationID(), msg)
		}
		s.MarkMessage(msg, "")
	}
	return nil
}

// state returns the member's current claims and generation.
func (m *saramaMember) state() ([]int32, int32, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.claims...), m.generation, m.setups
}

// waitAssignment waits until the members, all in one generation, together
// own every partition 0..n-1 exactly once, each holding between lo and hi
// partitions. It returns that generation.
func waitAssignment(t testing.TB, members []*saramaMember, n, lo, hi int) int32 {
	t.Helper()
	var gen int32
	waitFor(t, 90*time.Second, func() error {
		owned := map[int32]string{}
		gen = -1
		for _, m := range members {
			claims, g, _ := m.state()
			if gen == -1 {
				gen = g
			} else if g != gen {
				return fmt.Errorf("members in generations %d and %d", gen, g)
			}
			if len(claims) < lo || len(claims) > hi {
				return fmt.Errorf("member %s holds %v (want %d..%d partitions)", m.name, claims, lo, hi)
			}
			for _, p := range claims {
				if o, ok := owned[p]; ok {
					return fmt.Errorf("partition %d held by %s and %s", p, o, m.name)
				}
				owned[p] = m.name
			}
		}
		if len(owned) != n {
			return fmt.Errorf("%d of %d partitions owned: %v", len(owned), n, owned)
		}
		return nil
	})
	return gen
}

// produceValues produces values round-robin over the topic's partitions and
// returns them.
func produceValues(t testing.TB, c *Cluster, topic, prefix string, n int) []string {
	t.Helper()
	msgs := makeMessages(prefix, n, false)
	produce(t, c, c.SaramaConfig(), topic, msgs)
	var out []string
	for _, m := range msgs {
		out = append(out, m.Value)
	}
	return out
}

// waitConsumed waits until every value was consumed at least once.
func waitConsumed(t testing.TB, sink *groupSink, values []string) {
	t.Helper()
	waitFor(t, 90*time.Second, func() error {
		if miss := sink.missing(values); len(miss) > 0 {
			return fmt.Errorf("%d of %d not consumed, e.g. %s", len(miss), len(values), strings.Join(miss[:min(3, len(miss))], ","))
		}
		return nil
	})
}

// committedOffsets returns the group's committed offsets of topic's n
// partitions (-1: none).
func committedOffsets(t testing.TB, c *Cluster, groupID, topic string, n int) map[int32]int64 {
	t.Helper()
	admin := c.Admin(t, nil)
	var parts []int32
	for p := 0; p < n; p++ {
		parts = append(parts, int32(p))
	}
	out := map[int32]int64{}
	waitFor(t, 30*time.Second, func() error {
		resp, err := admin.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: parts})
		if err != nil {
			return err
		}
		if resp.Err != sarama.ErrNoError {
			return resp.Err
		}
		for _, p := range parts {
			b := resp.GetBlock(topic, p)
			if b == nil {
				return fmt.Errorf("no block for partition %d", p)
			}
			if b.Err != sarama.ErrNoError {
				return b.Err
			}
			out[p] = b.Offset
		}
		return nil
	})
	return out
}

// describeGroup returns the group's state and member count.
func describeGroup(t testing.TB, c *Cluster, groupID string) (string, int) {
	t.Helper()
	admin := c.Admin(t, nil)
	var state string
	var members int
	waitFor(t, 30*time.Second, func() error {
		ds, err := admin.DescribeConsumerGroups([]string{groupID})
		if err != nil {
			return err
		}
		if len(ds) != 1 || ds[0].Err != sarama.ErrNoError {
			return fmt.Errorf("describe: %+v", ds)
		}
		state, members = ds[0].State, len(ds[0].Members)
		return nil
	})
	return state, members
}
