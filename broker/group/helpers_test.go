package group

import (
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/storage"
)

// manualClock is a Clock driven by the test: timers fire, in deadline
// order and synchronously, only inside Advance.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	seq     int
	f       func()
	stopped bool
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2024, 5, 8, 10, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves time forward by d, firing every timer due on the way
// (including timers scheduled by the fired ones).
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *manualTimer
		var live []*manualTimer
		for _, t := range c.timers {
			if t.stopped {
				continue
			}
			live = append(live, t)
			if !t.at.After(target) && (next == nil || t.at.Before(next.at) || t.at.Equal(next.at) && t.seq < next.seq) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.stopped = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is a coordinator on a real replica manager and real logs in a temp
// dir, leading the given __consumer_offsets partitions.
type env struct {
	t        *testing.T
	c        *Coordinator
	clock    *manualClock
	replicas *replica.Manager
	epoch    int32
	ctrEpoch int32
}

func testConfig() Config {
	return Config{
		BrokerID:                   1,
		OffsetsTopicNumPartitions:  1,
		GroupInitialRebalanceDelay: 3 * time.Second,
		GroupMinSessionTimeout:     time.Second,
		GroupMaxSessionTimeout:     time.Minute,
	}
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	l := logrus.New()
	l.SetOutput(testWriter{t})
	log := logrus.NewEntry(l)
	logs, err := storage.OpenManager(storage.ManagerConfig{Dirs: []string{t.TempDir()}, DefaultLog: storage.DefaultLogConfig()}, log)
	if err != nil {
		t.Fatal(err)
	}
	replicas := replica.NewManager(replica.Config{BrokerID: 1, DefaultLogConfig: storage.DefaultLogConfig()}, logs, log)
	clock := newManualClock()
	cfg.Clock = clock
	c := New(cfg, replicas, logs, metadata.New(), log.WithField("component", "group"))
	c.Start()
	t.Cleanup(func() {
		c.Close()
		replicas.Close()
		_ = logs.Close()
	})
	e := &env{t: t, c: c, clock: clock, replicas: replicas}
	e.lead(0)
	return e
}

// lead makes broker 1 leader of the partitions (a new leader epoch) and
// waits for their load.
func (e *env) lead(partitions ...int32) {
	e.t.Helper()
	e.become(1, partitions...)
	waitFor(e.t, func() bool {
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		for _, p := range partitions {
			if op, ok := e.c.partitions[p]; !ok || op.loading {
				return false
			}
		}
		return true
	})
}

// become applies a LeaderAndIsr naming leader for the partitions.
func (e *env) become(leader int32, partitions ...int32) {
	e.t.Helper()
	e.epoch++
	e.ctrEpoch++
	var states []replica.LeaderAndIsrPartition
	for _, p := range partitions {
		states = append(states, replica.LeaderAndIsrPartition{
			Topic: OffsetsTopic, Partition: p, Leader: leader, LeaderEpoch: e.epoch, PartitionEpoch: e.epoch,
			Replicas: []int32{1, 2}, ISR: []int32{leader},
		})
	}
	errs, err := e.replicas.BecomeLeaderOrFollower(e.ctrEpoch, states)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv waits for a result the coordinator completes in the background (an
// append to the log) or has completed already.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no result within 20s")
	}
	var zero T
	return zero
}

// pending asserts that no result is ready (the request waits in purgatory).
func pending[T any](t testing.TB, ch <-chan T) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected result %+v", r)
	default:
	}
}

// groupInPartition returns a group id that maps to partition p of n.
func groupInPartition(prefix string, p, n int32) string {
	for i := 0; ; i++ {
		id := prefix + "-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if PartitionFor(id, n) == p {
			return id
		}
	}
}

func subscription(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

func rangeProtocol(topics ...string) []Protocol {
	return []Protocol{{Name: "range", Metadata: subscription(topics...)}}
}

// joinReq is a v5-style dynamic join of groupID.
func joinReq(groupID, memberID string) JoinRequest {
	return JoinRequest{
		GroupID: groupID, MemberID: memberID, ClientID: "client", ClientHost: "/127.0.0.1",
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 20 * time.Second,
		ProtocolType: "consumer", Protocols: rangeProtocol("t"),
	}
}

func codeOf(err *kerr.Error) string {
	if err == nil {
		return "NONE"
	}
	return err.Message
}

func wantErr(t testing.TB, what string, got, want *kerr.Error) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %s, want %s", what, codeOf(got), codeOf(want))
	}
}

func (e *env) state(groupID string) State {
	e.t.Helper()
	e.c.mu.Lock()
	g := e.c.groups[groupID]
	e.c.mu.Unlock()
	if g == nil {
		return Dead
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// stableGroup forms a Stable group of n dynamic members (the first is the
// leader) and returns their member ids and the generation.
func (e *env) stableGroup(groupID string, n int) ([]string, int32) {
	e.t.Helper()
	var chans []<-chan JoinResult
	for i := 0; i < n; i++ {
		chans = append(chans, e.c.JoinGroup(joinReq(groupID, "")))
	}
	// group.initial.rebalance.delay.ms (3s), once more if a second member
	// arrived during the first delay.
	e.clock.Advance(6 * time.Second)
	var ids []string
	var gen int32
	leader := ""
	for _, ch := range chans {
		r := recv(e.t, ch)
		if r.Err != nil {
			e.t.Fatalf("join: %s", codeOf(r.Err))
		}
		ids = append(ids, r.MemberID)
		gen, leader = r.Generation, r.LeaderID
	}
	assign := map[string][]byte{}
	for _, id := range ids {
		assign[id] = []byte("assignment-of-" + id)
	}
	var syncs []<-chan SyncResult
	for _, id := range ids {
		req := SyncRequest{GroupID: groupID, Generation: gen, MemberID: id}
		if id == leader {
			req.Assignments = assign
		}
		syncs = append(syncs, e.c.SyncGroup(req))
	}
	for i, ch := range syncs {
		r := recv(e.t, ch)
		if r.Err != nil || string(r.Assignment) != "assignment-of-"+ids[i] {
			e.t.Fatalf("sync of %s: %s, assignment %q", ids[i], codeOf(r.Err), r.Assignment)
		}
	}
	if s := e.state(groupID); s != Stable {
		e.t.Fatalf("state %s, want Stable", s)
	}
	// Order: the leader first.
	sort.SliceStable(ids, func(i, j int) bool { return ids[i] == leader })
	return ids, gen
}
