package integration

// Consumer-group faults: a member process killed with SIGKILL (issue 6's
// proof), a rolling restart of every broker under a running group (fault
// matrix R23) and consumer bounces with static membership (R24).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// groupMemberPackage is the member process of the SIGKILL test.
const groupMemberPackage = "github.com/gregor-broker/gregor/integration/testdata/groupmember"

var (
	groupMemberOnce sync.Once
	groupMemberBin  string
	groupMemberErr  error
)

// buildGroupMember builds integration/testdata/groupmember once, next to
// the broker binary.
func buildGroupMember(t testing.TB) string {
	t.Helper()
	groupMemberOnce.Do(func() {
		base := os.TempDir()
		if brokerBin != "" {
			base = filepath.Dir(brokerBin)
		}
		groupMemberBin = filepath.Join(base, "groupmember")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(getenv("GOROOT", "/usr/local/go"), "bin", "go")
		}
		args := []string{"build", "-o", groupMemberBin}
		if brokerRace() {
			args = append(args, "-race")
		}
		args = append(args, groupMemberPackage)
		var buf bytes.Buffer
		cmd := exec.Command(goBin, args...)
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			groupMemberErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, buf.String())
		}
	})
	if groupMemberErr != nil {
		t.Fatal(groupMemberErr)
	}
	return groupMemberBin
}

// procSink is what the member processes printed: every value consumed and
// each process's last assignment.
type procSink struct {
	mu       sync.Mutex
	seen     map[string]int
	memberID map[string]string // process name → member id of its last ASSIGN
}

func newProcSink() *procSink {
	return &procSink{seen: map[string]int{}, memberID: map[string]string{}}
}

func (s *procSink) missing(values []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range values {
		if s.seen[v] == 0 {
			out = append(out, v)
		}
	}
	return out
}

// redeliveries is how many deliveries beyond the first there were.
func (s *procSink) redeliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.seen {
		n += c - 1
	}
	return n
}

// memberProc is one groupmember process.
type memberProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// startMemberProc runs a groupmember process in groupID on topic; its
// stdout feeds sink, its stderr is logged if the test fails.
func startMemberProc(t *testing.T, c *Cluster, groupID, topic, name string, session time.Duration, sink *procSink) *memberProc {
	t.Helper()
	bin := buildGroupMember(t)
	cmd := exec.Command(bin, "--bootstrap-server", strings.Join(c.LiveBootstrap(), ","),
		"--group", groupID, "--topic", topic, "--session-timeout", session.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	var stderrMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &memberProc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 4)
			sink.mu.Lock()
			switch {
			case f[0] == "MSG" && len(f) == 4:
				sink.seen[f[3]]++
			case f[0] == "ASSIGN" && len(f) >= 3:
				sink.memberID[name] = f[2]
			}
			sink.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-m.done
		}
		if t.Failed() {
			stderrMu.Lock()
			t.Logf("member process %s stderr:\n%s", name, tailString(stderr.String(), 40))
			stderrMu.Unlock()
		}
	})
	return m
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kill sends SIGKILL and waits until the process is gone.
func (m *memberProc) kill(t testing.TB) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("member %s alive 30s after SIGKILL", m.name)
	}
}

// groupAssignment is what DescribeGroups says about a group: its state,
// generation-independent member → partitions of topic.
type groupAssignment struct {
	state   string
	members map[string][]int32
}

// describeAssignment asks the coordinator for the group's members and their
// assignments of topic.
func describeAssignment(admin sarama.ClusterAdmin, groupID, topic string) (groupAssignment, error) {
	ds, err := admin.DescribeConsumerGroups([]string{groupID})
	if err != nil {
		return groupAssignment{}, err
	}
	if len(ds) != 1 || ds[0].Err != sarama.ErrNoError {
		return groupAssignment{}, fmt.Errorf("describe %s: %+v", groupID, ds)
	}
	ga := groupAssignment{state: ds[0].State, members: map[string][]int32{}}
	for id, m := range ds[0].Members {
		a, err := m.GetMemberAssignment()
		if err != nil {
			return ga, fmt.Errorf("assignment of %s: %w", id, err)
		}
		var ps []int32
		if a != nil {
			ps = append(ps, a.Topics[topic]...)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		ga.members[id] = ps
	}
	return ga, nil
}

// coversOnce checks that the members own partitions 0..n-1 exactly once.
func (ga groupAssignment) coversOnce(n int) error {
	owner := map[int32]string{}
	for id, ps := range ga.members {
		for _, p := range ps {
			if o, ok := owner[p]; ok {
				return fmt.Errorf("partition %d assigned to %s and %s", p, o, id)
			}
			owner[p] = id
		}
	}
	if len(owner) != n {
		return fmt.Errorf("%d of %d partitions assigned: %v", len(owner), n, ga.members)
	}
	return nil
}

// offsetWatch polls the group's committed offsets (OffsetFetch) every
// 100 ms and records every decrease. Failed fetches (the coordinator moving)
// are skipped.
type offsetWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	last      map[int32]int64
	polls     int
	backwards []string
}

func watchCommitted(t testing.TB, c *Cluster, groupID, topic string, n int) *offsetWatch {
	t.Helper()
	cfg := c.SaramaConfig()
	cfg.Admin.Retry.Max = 0
	cfg.Metadata.Retry.Max = 1
	admin := c.Admin(t, cfg)
	var parts []int32
	for p := 0; p < n; p++ {
		parts = append(parts, int32(p))
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &offsetWatch{cancel: cancel, done: make(chan struct{}), last: map[int32]int64{}}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			resp, err := admin.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: parts})
			if err == nil && resp.Err == sarama.ErrNoError {
				w.mu.Lock()
				w.polls++
				for _, p := range parts {
					b := resp.GetBlock(topic, p)
					if b == nil || b.Err != sarama.ErrNoError {
						continue
					}
					if prev, ok := w.last[p]; ok && b.Offset < prev {
						w.backwards = append(w.backwards, fmt.Sprintf("partition %d: %d -> %d at %s", p, prev, b.Offset, time.Now().Format("15:04:05.000")))
					}
					if b.Offset >= 0 || w.last[p] > 0 {
						w.last[p] = b.Offset
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *offsetWatch) stop() {
	w.cancel()
	<-w.done
}

// check fails t if a committed offset went backwards, and returns how many
// polls succeeded.
func (w *offsetWatch) check(t testing.TB) int {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.backwards) > 0 {
		t.Fatalf("committed offsets went backwards: %v", w.backwards)
	}
	return w.polls
}

// ackedValues returns the values the WP workload got acknowledged so far
// and its errors by class.
func ackedValues(w *producerWorkload) ([]string, map[string]int) {
	var out []string
	for _, a := range w.Acks() {
		out = append(out, a.Value)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	errs := map[string]int{}
	for k, v := range w.errs {
		errs[k] = v
	}
	return out, errs
}

// waitCommittedAtEnd waits until the group's committed offset of every
// partition equals its high watermark (position == total consumed).
func waitCommittedAtEnd(t testing.TB, c *Cluster, groupID, topic string, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, func() error {
		hw := highWatermarks(t, c, topic, n)
		got := committedOffsets(t, c, groupID, topic, n)
		for p := int32(0); p < int32(n); p++ {
			if got[p] != hw[p] {
				return fmt.Errorf("partition %d committed %d, high watermark %d", p, got[p], hw[p])
			}
		}
		return nil
	})
}

// TestGroupMemberProcessKill: three member processes share a 6-partition
// RF3 topic on three brokers while a producer runs. One process is killed
// with SIGKILL, so it sends no LeaveGroup: its partitions move to the two
// survivors only when its session times out, within session timeout plus a
// rebalance's slack (DescribeGroups shows the new assignment); every
// produced value is consumed (at-least-once) and no committed offset, as
// OffsetFetch shows it throughout, ever goes backwards.
func TestGroupMemberProcessKill(t *testing.T) {
	const (
		topic, groupID = "kill-member-topic", "kill-member-group"
		session        = 10 * time.Second
		slack          = 10 * time.Second
	)
	c := newCluster(t, opts{Brokers: 3, Overrides: map[string]string{"offsets.topic.num.partitions": "10", "min.insync.replicas": "2"}})
	createTopic(t, c, c.Admin(t, nil), topic, 6, 3)
	buildGroupMember(t)
	sink := newProcSink()
	var procs []*memberProc
	for i := 0; i < 3; i++ {
		procs = append(procs, startMemberProc(t, c, groupID, topic, fmt.Sprintf("p%d", i), session, sink))
	}
	admin := c.Admin(t, nil)
	waitFor(t, 90*time.Second, func() error {
		ga, err := describeAssignment(admin, groupID, topic)
		if err != nil {
			return err
		}
		if ga.state != "Stable" || len(ga.members) != 3 {
			return fmt.Errorf("group %s with %d members", ga.state, len(ga.members))
		}
		for id, ps := range ga.members {
			if len(ps) != 2 {
				return fmt.Errorf("member %s holds %v, want 2 partitions", id, ps)
			}
		}
		return ga.coversOnce(6)
	})
	watch := watchCommitted(t, c, groupID, topic, 6)
	prod := startProducer(t, c, topic, "kill", sarama.WaitForAll, 200)
	waitFor(t, 60*time.Second, func() error {
		vals, _ := ackedValues(prod)
		if len(vals) < 300 {
			return fmt.Errorf("%d acked", len(vals))
		}
		if miss := sink.missing(vals); len(miss) > 0 {
			return fmt.Errorf("%d not consumed", len(miss))
		}
		return nil
	})

	victim := procs[1]
	sink.mu.Lock()
	victimID := sink.memberID[victim.name]
	sink.mu.Unlock()
	killed := time.Now()
	victim.kill(t)
	t.Logf("killed %s (member %s)", victim.name, victimID)

	var moved time.Duration
	waitFor(t, session+slack+30*time.Second, func() error {
		ga, err := describeAssignment(admin, groupID, topic)
		if err != nil {
			return err
		}
		if _, ok := ga.members[victimID]; ok || ga.state != "Stable" || len(ga.members) != 2 {
			return fmt.Errorf("group %s with members %v", ga.state, ga.members)
		}
		for id, ps := range ga.members {
			if len(ps) != 3 {
				return fmt.Errorf("member %s holds %v, want 3 partitions", id, ps)
			}
		}
		if err := ga.coversOnce(6); err != nil {
			return err
		}
		moved = time.Since(killed)
		return nil
	})
	t.Logf("partitions of the killed member moved to the survivors %s after SIGKILL (session timeout %s)", moved.Round(time.Millisecond), session)
	// Without a LeaveGroup the coordinator can only notice the session
	// timeout; the last heartbeat was at most one heartbeat interval (500 ms)
	// before the kill.
	if moved < session-time.Second {
		t.Errorf("partitions moved %s after the kill, before the %s session timeout", moved, session)
	}
	if moved > session+slack {
		t.Errorf("partitions moved %s after the kill, want within session timeout %s + %s", moved, session, slack)
	}

	time.Sleep(2 * time.Second) // keep producing to the new owners
	prod.Stop()
	vals, failed := ackedValues(prod)
	waitFor(t, 90*time.Second, func() error {
		if miss := sink.missing(vals); len(miss) > 0 {
			return fmt.Errorf("%d of %d acknowledged values not consumed, e.g. %v", len(miss), len(vals), miss[:min(3, len(miss))])
		}
		return nil
	})
	waitCommittedAtEnd(t, c, groupID, topic, 6)
	watch.stop()
	polls := watch.check(t)
	t.Logf("%d values acknowledged (failed sends: %v), all consumed; %d redeliveries (at-least-once after the kill); %d OffsetFetch polls, no offset went backwards",
		len(vals), failed, sink.redeliveries(), polls)
}

// TestGroupRollingBrokerRestart is fault matrix R23: every broker is
// restarted cleanly (SIGTERM), one at a time, waiting for full ISRs in
// between, under a running sarama group on an RF3 topic with an RF3
// __consumer_offsets. The coordinator moves at least once, and the new one
// loads the group Stable with its members, so the members keep their
// generation: 0 rebalances (no member runs Setup again), every acknowledged
// message is consumed, committed offsets never go backwards and end at the
// high watermarks.
func TestGroupRollingBrokerRestart(t *testing.T) {
	const topic, groupID = "rolling-topic", "rolling-group"
	c := newCluster(t, opts{Brokers: 3, Overrides: map[string]string{"offsets.topic.num.partitions": "10", "min.insync.replicas": "2"}})
	createTopic(t, c, c.Admin(t, nil), topic, 6, 3)
	sink := newGroupSink()
	cfg := func() *sarama.Config {
		cfg := groupConfig(c, sarama.OffsetOldest)
		// sarama's heartbeat loop retries a network error at once,
		// without a backoff and against the cached coordinator,
		// Metadata.Retry.Max times, and then ends the session (a rejoin,
		// and a rebalance when the leader rejoins); a stopped broker
		// refuses connections within microseconds. The Java consumer
		// waits reconnect.backoff.ms (50 ms) before dialling a node again
		// and looks the coordinator up anew. The dialler gives sarama
		// that backoff, and the retries last about a session timeout.
		cfg.Net.Proxy.Enable = true
		cfg.Net.Proxy.Dialer = reconnectBackoffDialer{backoff: 100 * time.Millisecond}
		cfg.Metadata.Retry.Max = 100
		cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
		return cfg
	}
	var members []*saramaMember
	for i := 0; i < 3; i++ {
		members = append(members, startSaramaMember(t, c, cfg(), groupID, topic, fmt.Sprintf("m%d", i), sink))
	}
	gen := waitAssignment(t, members, 6, 2, 2)
	setups := map[string]int{}
	for _, m := range members {
		_, _, n := m.state()
		setups[m.name] = n
	}
	c.WaitFullISR(t, 60*time.Second, 3, map[string]int32{topic: 6, "__consumer_offsets": 10})
	watch := watchCommitted(t, c, groupID, topic, 6)
	prod := startProducer(t, c, topic, "rolling", sarama.WaitForAll, 200)

	client := c.Client(t, nil)
	var coordinators []int32
	// noteCoordinator waits until FindCoordinator names a running broker.
	noteCoordinator := func() {
		waitFor(t, 60*time.Second, func() error {
			if err := client.RefreshCoordinator(groupID); err != nil {
				return err
			}
			b, err := client.Coordinator(groupID)
			if err != nil {
				return err
			}
			if !c.Running(int(b.ID())) {
				return fmt.Errorf("coordinator %d is stopped", b.ID())
			}
			if n := len(coordinators); n == 0 || coordinators[n-1] != b.ID() {
				coordinators = append(coordinators, b.ID())
			}
			return nil
		})
	}
	noteCoordinator()
	for i := 0; i < c.Brokers(); i++ {
		time.Sleep(2 * time.Second)
		t.Logf("restarting broker %d", i)
		c.StopBroker(i)
		noteCoordinator()
		c.StartBroker(i)
		c.WaitFullISR(t, 90*time.Second, 3, map[string]int32{topic: 6, "__consumer_offsets": 10})
		noteCoordinator()
	}
	time.Sleep(2 * time.Second)
	prod.Stop()
	vals, failed := ackedValues(prod)
	waitConsumed(t, sink, vals)
	waitCommittedAtEnd(t, c, groupID, topic, 6)
	watch.stop()
	watch.check(t)

	for _, m := range members {
		claims, g, n := m.state()
		if g != gen || n != setups[m.name] {
			m.mu.Lock()
			errs := fmt.Sprint(m.errs)
			m.mu.Unlock()
			t.Errorf("member %s: generation %d (want %d), %d Setup calls (want %d), claims %v: a rebalance happened; errors: %s", m.name, g, gen, n, setups[m.name], claims, errs)
		}
	}
	if d := sink.duplicates(); len(d) > 0 {
		t.Errorf("partitions owned twice in one generation: %v", d)
	}
	if state, n := describeGroup(t, c, groupID); state != "Stable" || n != 3 {
		t.Errorf("group %s with %d members after the rolling restart, want Stable with 3", state, n)
	}
	redelivered := 0
	for _, v := range vals {
		if n := sink.count(v); n > 1 {
			redelivered += n - 1
		}
	}
	t.Logf("rolling restart: coordinator moved %v, generation %d kept, %d values acknowledged (failed sends: %v), all consumed, %d redeliveries",
		coordinators, gen, len(vals), failed, redelivered)
	if len(coordinators) < 2 {
		t.Errorf("the coordinator never moved (%v): the test did not exercise a coordinator failover", coordinators)
	}
}

// reconnectBackoffDialer dials like sarama's default dialler and waits
// backoff after a failed dial (the Java client's reconnect.backoff.ms).
type reconnectBackoffDialer struct{ backoff time.Duration }

func (d reconnectBackoffDialer) Dial(network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).Dial(network, addr)
	if err != nil {
		time.Sleep(d.backoff)
	}
	return conn, err
}

// TestGroupStaticBounces is fault matrix R24 (Kafka's consumer_test.py
// test_static_consumer_bounce and test_fencing_static_consumer) with sarama
// static members (group.instance.id, KIP-345): a rolling bounce and an
// all-at-once bounce within the session timeout keep the generation and give
// every instance its partitions back, and a second consumer started with a
// live member's group.instance.id takes its place while the old one gets
// FENCED_INSTANCE_ID (82).
func TestGroupStaticBounces(t *testing.T) {
	const topic, groupID = "static-bounce-topic", "static-bounce-group"
	c := newCluster(t, opts{Brokers: 3, Overrides: map[string]string{"offsets.topic.num.partitions": "10"}})
	createTopic(t, c, c.Admin(t, nil), topic, 6, 3)
	cfg := func(instance string) *sarama.Config {
		cfg := groupConfig(c, sarama.OffsetOldest)
		cfg.Consumer.Group.InstanceId = instance
		cfg.Consumer.Group.Session.Timeout = 30 * time.Second
		return cfg
	}
	sink := newGroupSink()
	instances := []string{"static-0", "static-1", "static-2"}
	members := map[string]*saramaMember{}
	var all []*saramaMember
	for _, id := range instances {
		members[id] = startSaramaMember(t, c, cfg(id), groupID, topic, id, sink)
		all = append(all, members[id])
	}
	gen := waitAssignment(t, all, 6, 2, 2)
	want := map[string]string{}
	for id, m := range members {
		claims, _, _ := m.state()
		want[id] = fmt.Sprint(claims)
	}
	// waitBack waits until the member of instance id is set up in the
	// original generation with its original partitions.
	waitBack := func(t *testing.T, id string) {
		t.Helper()
		waitFor(t, 60*time.Second, func() error {
			claims, g, n := members[id].state()
			switch {
			case n == 0:
				return fmt.Errorf("%s not set up yet", id)
			case g != gen:
				return fmt.Errorf("%s in generation %d, want %d (no rebalance)", id, g, gen)
			case fmt.Sprint(claims) != want[id]:
				return fmt.Errorf("%s holds %v, want %s", id, claims, want[id])
			}
			return nil
		})
	}
	// A restarted instance keeps its name in the sink: in one generation
	// its partitions belong to the instance, whichever process holds them.
	restart := func(id string) {
		members[id] = startSaramaMember(t, c, cfg(id), groupID, topic, id, sink)
	}
	checkGroup := func(t *testing.T, prefix string) {
		t.Helper()
		vals := produceValues(t, c, topic, prefix, 120)
		waitConsumed(t, sink, vals)
		ga, err := describeAssignment(c.Admin(t, nil), groupID, topic)
		if err != nil {
			t.Fatal(err)
		}
		if ga.state != "Stable" || len(ga.members) != 3 {
			t.Fatalf("group %s with members %v, want Stable with 3", ga.state, ga.members)
		}
		if err := ga.coversOnce(6); err != nil {
			t.Fatal(err)
		}
		if d := sink.duplicates(); len(d) > 0 {
			t.Fatalf("partitions owned twice in one generation: %v", d)
		}
	}

	t.Run("rolling bounce", func(t *testing.T) {
		for _, id := range instances {
			members[id].Close() // a static member sends no LeaveGroup
			restart(id)
			waitBack(t, id)
		}
		checkGroup(t, "rolled")
	})
	t.Run("all at once", func(t *testing.T) {
		for _, id := range instances {
			members[id].Close()
		}
		for _, id := range instances {
			restart(id)
		}
		for _, id := range instances {
			waitBack(t, id)
		}
		checkGroup(t, "all")
	})
	t.Run("duplicate group.instance.id is fenced", func(t *testing.T) {
		const id = "static-0"
		old := members[id]
		dup := startSaramaMember(t, c, cfg(id), groupID, topic, id, sink)
		waitFor(t, 60*time.Second, func() error {
			old.mu.Lock()
			defer old.mu.Unlock()
			for _, err := range old.errs {
				var kerr sarama.KError
				if errors.As(err, &kerr) && kerr == sarama.ErrFencedInstancedId {
					return nil
				}
			}
			return fmt.Errorf("the replaced member has not been fenced yet; errors %v", old.errs)
		})
		members[id] = dup
		waitBack(t, id)
		old.Close()
		checkGroup(t, "dup")
	})
}
