package replica_test

// Replication between real replica managers over real TCP: each node is a
// storage.Manager in a temp dir, a replica.Manager, the real handlers and a
// real server on 127.0.0.1. The test plays the controller's LeaderAndIsr
// role by calling BecomeLeaderOrFollower, and a tiny fake controller (a
// server.Dispatcher that decodes AlterPartition with kmsg) answers the
// leaders' ISR changes as Kafka's controller would.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
	"github.com/gregor-broker/gregor/broker/storage"
)

const (
	internal     = "INTERNAL"
	controllerID = int32(100)
	topic        = "t"
)

type logWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// node is one broker: logs, replica manager, handlers and server.
type node struct {
	id    int32
	dir   string
	cfg   replica.Config
	logs  *storage.Manager
	m     *replica.Manager
	srv   *server.Server
	addr  string
	alive bool
}

type cluster struct {
	t     *testing.T
	log   *logrus.Entry
	cache *metadata.Cache
	ctrl  *fakeController
	nodes map[int32]*node
}

func newCluster(t *testing.T, cfg replica.Config, ids ...int32) *cluster {
	t.Helper()
	w := &logWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	l := logrus.New()
	l.SetOutput(w)
	c := &cluster{t: t, log: logrus.NewEntry(l), cache: metadata.New(), nodes: map[int32]*node{}}
	c.ctrl = startFakeController(t, c.log)
	for _, id := range ids {
		n := &node{id: id, dir: t.TempDir(), cfg: cfg}
		n.cfg.BrokerID = id
		c.nodes[id] = n
		c.start(n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.stop(n)
		}
	})
	return c
}

// start opens the node's logs (recovering them) and serves its listener.
func (c *cluster) start(n *node) {
	c.t.Helper()
	log := c.log.WithField("broker_id", n.id)
	logs, err := storage.OpenManager(storage.ManagerConfig{Dirs: []string{n.dir}, DefaultLog: storage.DefaultLogConfig()}, log)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := n.cfg
	cfg.DefaultLogConfig = storage.DefaultLogConfig()
	cfg.InterBrokerListener = internal
	cfg.LocalHost = "127.0.0.1"
	cfg.Metadata = c.cache
	m := replica.NewManager(cfg, logs, log.WithField("component", "replica"))
	m.Start()
	h := handlers.New(handlers.Deps{BrokerID: n.id, ClusterID: "c", Metadata: c.cache, Replicas: m,
		Config: handlers.Config{InterBrokerListener: internal}, Log: log.WithField("component", "handlers")})
	srv := server.New(server.Config{Listeners: []server.ListenerConfig{{Name: internal, Addr: "127.0.0.1:0"}, {Name: "PLAINTEXT", Addr: "127.0.0.1:0"}}}, h, log.WithField("component", "server"))
	if err := srv.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.logs, n.m, n.srv, n.addr, n.alive = logs, m, srv, srv.Addr(internal).String(), true
	c.publishMetadata()
}

// stop shuts the node down cleanly (server, replica manager, logs).
func (c *cluster) stop(n *node) {
	if !n.alive {
		return
	}
	n.alive = false
	_ = n.srv.Close()
	n.m.Close()
	if err := n.logs.Close(); err != nil {
		c.t.Errorf("close logs of %d: %v", n.id, err)
	}
	c.publishMetadata()
}

// publishMetadata plays UpdateMetadata: the live brokers' INTERNAL endpoints
// and the fake controller.
func (c *cluster) publishMetadata() {
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.Version = 7
	req.ControllerID = controllerID
	add := func(id int32, addr string) {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		b := kmsg.NewUpdateMetadataRequestLiveBroker()
		b.ID = id
		e := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
		e.Host, e.Port, e.ListenerName = host, int32(p), internal
		b.Endpoints = append(b.Endpoints, e)
		req.LiveBrokers = append(req.LiveBrokers, b)
	}
	add(controllerID, c.ctrl.addr)
	for _, n := range c.nodes {
		if n.alive {
			add(n.id, n.addr)
		}
	}
	c.cache.Update(req)
}

// leaderAndIsr sends the partition state to the given nodes, as the
// controller's LeaderAndIsr would (with LiveLeaders' address).
func (c *cluster) leaderAndIsr(leader, leaderEpoch, partitionEpoch int32, replicas, isr []int32, to ...int32) {
	c.t.Helper()
	c.ctrl.setState(leaderEpoch, partitionEpoch, isr)
	for _, id := range to {
		n := c.nodes[id]
		st := replica.LeaderAndIsrPartition{Topic: topic, TopicID: [16]byte{1}, Partition: 0, Leader: leader, LeaderEpoch: leaderEpoch,
			PartitionEpoch: partitionEpoch, Replicas: replicas, ISR: isr}
		if ln := c.nodes[leader]; ln != nil && ln.alive {
			st.LeaderAddr = ln.addr
		}
		errs, err := n.m.BecomeLeaderOrFollower(1, []replica.LeaderAndIsrPartition{st})
		if err != nil || errs[0] != nil {
			c.t.Fatalf("LeaderAndIsr to %d: %v %v", id, err, errs)
		}
	}
}

// produce appends one batch with acks and waits for the acknowledgement.
func (c *cluster) produce(leader int32, acks int16, timeout time.Duration, values ...string) replica.AppendResult {
	c.t.Helper()
	m := c.nodes[leader].m
	res := m.AppendRecords(topic, 0, batch(values...), acks, time.Now())
	if res.Err == nil && acks == -1 {
		rs := []replica.AppendResult{res}
		m.WaitForAcks(context.Background(), timeout, rs)
		res = rs[0]
	}
	return res
}

// logBytes reads a node's log from start to end as stored.
func (c *cluster) logBytes(id int32) []byte {
	c.t.Helper()
	l := c.nodes[id].logs.Get(topic, 0)
	var out []byte
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		info, err := l.Read(off, 1<<20, l.LogEndOffset(), true)
		if err != nil {
			c.t.Fatal(err)
		}
		b := info.Records
		if b == nil && info.File != nil {
			b = make([]byte, info.Size)
			if _, err := info.File.ReadAt(b, info.Position); err != nil {
				c.t.Fatal(err)
			}
		}
		if len(b) == 0 {
			break
		}
		out = append(out, b...)
		last, err := lastOffset(b)
		if err != nil {
			c.t.Fatal(err)
		}
		off = last + 1
	}
	return out
}

func lastOffset(b []byte) (int64, error) {
	var last int64 = -1
	for len(b) >= 61 {
		n := int(binary.BigEndian.Uint32(b[8:])) + 12
		if n > len(b) {
			return 0, errors.New("partial batch")
		}
		last = int64(binary.BigEndian.Uint64(b)) + int64(binary.BigEndian.Uint32(b[23:]))
		b = b[n:]
	}
	return last, nil
}

func state(c *cluster, id int32) replica.State {
	p := c.nodes[id].m.Partition(topic, 0)
	if p == nil {
		return replica.State{}
	}
	return p.State()
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func batch(values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), Records: recs}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// fakeController answers AlterPartition like Kafka's controller for the
// test's single partition: it checks the leader and partition epochs
// against the state the test last "wrote" and commits the new ISR with the
// next partition epoch. reject, when set, is the error code to answer.
type fakeController struct {
	addr string
	srv  *server.Server

	mu             sync.Mutex
	leaderEpoch    int32
	partitionEpoch int32
	isr            []int32
	reject         int16
	requests       []kmsg.AlterPartitionRequest
}

func startFakeController(t *testing.T, log *logrus.Entry) *fakeController {
	fc := &fakeController{}
	fc.srv = server.New(server.Config{Listeners: []server.ListenerConfig{{Name: internal, Addr: "127.0.0.1:0"}}}, fc, log.WithField("component", "fake-controller"))
	if err := fc.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fc.srv.Close() })
	fc.addr = fc.srv.Addr(internal).String()
	return fc
}

func (fc *fakeController) Versions(key int16) (int16, int16, bool) {
	if key == 56 {
		return 0, 1, true
	}
	return 0, 0, false
}

func (fc *fakeController) Handle(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.AlterPartitionRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.requests = append(fc.requests, *req)
	for _, rt := range req.Topics {
		t := kmsg.NewAlterPartitionResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewAlterPartitionResponseTopicPartition()
			p.Partition = rp.Partition
			switch {
			case fc.reject != 0:
				p.ErrorCode = fc.reject
			case rp.LeaderEpoch < fc.leaderEpoch:
				p.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.PartitionEpoch < fc.partitionEpoch:
				p.ErrorCode = kerr.InvalidUpdateVersion.Code
			default:
				fc.partitionEpoch++
				fc.isr = slices.Clone(rp.NewISR)
				p.LeaderEpoch, p.PartitionEpoch, p.ISR = fc.leaderEpoch, fc.partitionEpoch, fc.isr
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}

func (fc *fakeController) setState(leaderEpoch, partitionEpoch int32, isr []int32) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.leaderEpoch, fc.partitionEpoch, fc.isr = leaderEpoch, partitionEpoch, slices.Clone(isr)
}

func (fc *fakeController) setReject(code int16) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.reject = code
}

// proposals returns the NewISR of every AlterPartition received.
func (fc *fakeController) proposals() [][]int32 {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var out [][]int32
	for _, r := range fc.requests {
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out = append(out, p.NewISR)
			}
		}
	}
	return out
}

var fast = replica.Config{
	ReplicaLagTimeMax:               time.Second,
	FetchWaitMax:                    100 * time.Millisecond,
	FetchBackoff:                    50 * time.Millisecond,
	SocketTimeout:                   5 * time.Second,
	HighWatermarkCheckpointInterval: 100 * time.Millisecond,
}

// TestFollowersCatchUpAndHighWatermarkAdvances: three replicas, acks=all
// completes only once both followers fetched the batch, the followers learn
// the high watermark, and all logs are byte-identical.
func TestFollowersCatchUpAndHighWatermarkAdvances(t *testing.T) {
	c := newCluster(t, fast, 1, 2, 3)
	all := []int32{1, 2, 3}
	c.leaderAndIsr(1, 1, 1, all, all, 1, 2, 3)
	for i := 0; i < 20; i++ {
		res := c.produce(1, -1, 20*time.Second, fmt.Sprintf("v%d-a", i), fmt.Sprintf("v%d-b", i))
		if res.Err != nil {
			t.Fatalf("produce %d: %v", i, res.Err)
		}
		// acks=all: every ISR member has the batch once it is acknowledged.
		for _, id := range []int32{2, 3} {
			if leo := state(c, id).LogEndOffset; leo <= res.Info.LastOffset {
				t.Fatalf("acks=all acknowledged offset %d before follower %d had it (LEO %d)", res.Info.LastOffset, id, leo)
			}
		}
	}
	if hw := state(c, 1).HighWatermark; hw != 40 {
		t.Fatalf("leader high watermark %d, want 40", hw)
	}
	eventually(t, 10*time.Second, func() error {
		for _, id := range []int32{2, 3} {
			if s := state(c, id); s.HighWatermark != 40 || s.LogEndOffset != 40 {
				return fmt.Errorf("follower %d: HW %d LEO %d", id, s.HighWatermark, s.LogEndOffset)
			}
		}
		return nil
	})
	want := c.logBytes(1)
	for _, id := range []int32{2, 3} {
		if got := c.logBytes(id); !bytes.Equal(got, want) {
			t.Fatalf("follower %d log differs from the leader's (%d vs %d bytes)", id, len(got), len(want))
		}
	}
	// Consumers read only below the high watermark, from the leader.
	out := c.nodes[1].m.Fetch(context.Background(), replica.FetchParams{ReplicaID: -1, MaxBytes: 1 << 20},
		[]replica.FetchPartition{{Topic: topic, FetchOffset: 0, CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}})
	if out[0].Err != nil || out[0].HighWatermark != 40 {
		t.Fatalf("consumer fetch %+v", out[0])
	}
	if len(c.ctrl.proposals()) != 0 {
		t.Fatalf("unexpected ISR changes %v", c.ctrl.proposals())
	}
}

// TestMinInsyncReplicas: NOT_ENOUGH_REPLICAS before the append when the ISR
// is too small (nothing written, acks=1 unaffected), and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrinks below
// min.insync.replicas while acks=all waits; REQUEST_TIMED_OUT when nobody
// fetches within the request timeout.
func TestMinInsyncReplicas(t *testing.T) {
	cfg := fast
	cfg.MinInsyncReplicas = 2
	cfg.ReplicaLagTimeMax = 600 * time.Millisecond
	c := newCluster(t, cfg, 1)
	c.leaderAndIsr(1, 1, 1, []int32{1, 2}, []int32{1}, 1)
	c.ctrl.setReject(kerr.OperationNotAttempted.Code) // keep the ISR as the test sets it

	res := c.produce(1, -1, time.Second, "x")
	if !errors.Is(res.Err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all with ISR [1] and min.insync.replicas=2: %v", res.Err)
	}
	if leo := state(c, 1).LogEndOffset; leo != 0 {
		t.Fatalf("NOT_ENOUGH_REPLICAS appended (LEO %d)", leo)
	}
	if res := c.produce(1, 1, 0, "y"); res.Err != nil {
		t.Fatalf("acks=1 ignores min.insync.replicas: %v", res.Err)
	}

	// ISR [1, 2] with broker 2 absent: acks=all times out...
	c.ctrl.setReject(0)
	c.leaderAndIsr(1, 2, 2, []int32{1, 2}, []int32{1, 2}, 1)
	if res := c.produce(1, -1, 200*time.Millisecond, "z"); !errors.Is(res.Err, kerr.RequestTimedOut) {
		t.Fatalf("acks=all without the follower: %v", res.Err)
	}
	// ...and with a longer timeout the ISR shrinks to [1] meanwhile: the
	// high watermark passes, but the ISR is below min.insync.replicas.
	res = c.produce(1, -1, 20*time.Second, "w")
	if !errors.Is(res.Err, kerr.NotEnoughReplicasAfterAppend) {
		t.Fatalf("acks=all when the ISR shrank below min.insync.replicas: %v", res.Err)
	}
	if s := state(c, 1); !slices.Equal(s.ISR, []int32{1}) || s.PartitionEpoch != 3 || s.HighWatermark != 3 {
		t.Fatalf("after shrink: %+v", s)
	}
}

// TestISRShrinkAndExpand: a follower that stops fetching leaves the ISR
// after replica.lag.time.max.ms (AlterPartition to the controller), and
// rejoins when it has caught up to the high watermark.
func TestISRShrinkAndExpand(t *testing.T) {
	c := newCluster(t, fast, 1, 2)
	both := []int32{1, 2}
	c.leaderAndIsr(1, 1, 1, both, both, 1, 2)
	if res := c.produce(1, -1, 20*time.Second, "a"); res.Err != nil {
		t.Fatal(res.Err)
	}

	// A follower that stops fetching while it has everything stays in sync
	// (Kafka's isCaughtUp: its LEO equals the leader's; the controller
	// removes dead brokers); once the leader appends, it falls behind.
	c.stop(c.nodes[2])
	time.Sleep(2 * fast.ReplicaLagTimeMax)
	if s := state(c, 1); !slices.Equal(s.ISR, both) {
		t.Fatalf("an idle caught-up follower left the ISR: %v", s.ISR)
	}
	if res := c.produce(1, 1, 0, "b"); res.Err != nil {
		t.Fatal(res.Err)
	}
	eventually(t, 20*time.Second, func() error {
		if s := state(c, 1); !slices.Equal(s.ISR, []int32{1}) {
			return fmt.Errorf("ISR %v", s.ISR)
		}
		return nil
	})
	if s := state(c, 1); s.PartitionEpoch != 2 || s.LeaderEpoch != 1 {
		t.Fatalf("after shrink: %+v", s)
	}
	// The ISR is only the leader now: acks=all completes alone.
	for i := 0; i < 4; i++ {
		if res := c.produce(1, -1, 5*time.Second, "b"); res.Err != nil {
			t.Fatal(res.Err)
		}
	}

	c.start(c.nodes[2])
	c.leaderAndIsr(1, 1, 2, both, []int32{1}, 2)
	eventually(t, 20*time.Second, func() error {
		if s := state(c, 1); !slices.Equal(s.ISR, both) {
			return fmt.Errorf("ISR %v", s.ISR)
		}
		return nil
	})
	if got := c.ctrl.proposals(); len(got) != 2 || !slices.Equal(got[0], []int32{1}) || !slices.Equal(got[1], both) {
		t.Fatalf("AlterPartition proposals %v", got)
	}
	if s := state(c, 2); s.LogEndOffset != 6 {
		t.Fatalf("follower LEO %d, want 6", s.LogEndOffset)
	}
	if !bytes.Equal(c.logBytes(1), c.logBytes(2)) {
		t.Fatal("logs differ after catch-up")
	}
}

// TestTruncationToDivergencePoint: the old leader has records the new
// leader never got; after the leader change it becomes follower, the new
// leader answers DivergingEpoch, and it truncates to the divergence point
// and then replicates the new leader's records. The HW checkpoint survives
// the restart of the new leader.
func TestTruncationToDivergencePoint(t *testing.T) {
	c := newCluster(t, fast, 1, 2)
	both := []int32{1, 2}
	c.leaderAndIsr(1, 1, 1, both, both, 1, 2)
	for i := 0; i < 5; i++ {
		if res := c.produce(1, -1, 20*time.Second, "common"); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if hw := state(c, 2).HighWatermark; hw != 5 {
			return fmt.Errorf("follower HW %d", hw)
		}
		return nil
	})
	// Broker 2 goes away; broker 1 takes three more records (acks=1) that
	// are never replicated.
	c.stop(c.nodes[2])
	for i := 0; i < 3; i++ {
		if res := c.produce(1, 1, 0, "lost"); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if leo := state(c, 1).LogEndOffset; leo != 8 {
		t.Fatalf("old leader LEO %d", leo)
	}
	ckpt, err := os.ReadFile(filepath.Join(c.nodes[2].dir, "replication-offset-checkpoint"))
	if err != nil || string(ckpt) != "0\n1\nt 0 5\n" {
		t.Fatalf("replication-offset-checkpoint of the stopped follower: %q %v", ckpt, err)
	}

	// Broker 2 restarts and becomes leader at epoch 2 (unclean for the
	// three records); its high watermark comes from the checkpoint.
	c.start(c.nodes[2])
	c.leaderAndIsr(2, 2, 2, both, []int32{2}, 2)
	if hw := state(c, 2).HighWatermark; hw != 5 {
		t.Fatalf("new leader's high watermark after restart %d, want 5 from the checkpoint", hw)
	}
	for i := 0; i < 2; i++ {
		if res := c.produce(2, 1, 0, "new"); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	// Broker 1 follows at epoch 2: it must drop offsets 5-7 of epoch 1 and
	// take 5-6 of epoch 2.
	c.leaderAndIsr(2, 2, 2, both, []int32{2}, 1)
	eventually(t, 20*time.Second, func() error {
		if s := state(c, 1); s.LogEndOffset != 7 || !bytes.Equal(c.logBytes(1), c.logBytes(2)) {
			return fmt.Errorf("follower LEO %d, logs equal %v", s.LogEndOffset, bytes.Equal(c.logBytes(1), c.logBytes(2)))
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		if s := state(c, 2); !slices.Equal(s.ISR, []int32{2, 1}) {
			return fmt.Errorf("ISR %v", s.ISR)
		}
		return nil
	})
	if e := c.nodes[1].logs.Get(topic, 0).LatestEpoch(); e != 2 {
		t.Fatalf("follower latest epoch %d", e)
	}
}

// TestHighWatermarkCheckpointSurvivesRestart: the follower's high watermark
// is written to replication-offset-checkpoint and read back at start-up.
func TestHighWatermarkCheckpointSurvivesRestart(t *testing.T) {
	c := newCluster(t, fast, 1, 2)
	both := []int32{1, 2}
	c.leaderAndIsr(1, 1, 1, both, both, 1, 2)
	for i := 0; i < 4; i++ {
		if res := c.produce(1, -1, 20*time.Second, "v"); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if hw := state(c, 2).HighWatermark; hw != 4 {
			return fmt.Errorf("follower HW %d", hw)
		}
		return nil
	})
	c.stop(c.nodes[1])
	c.stop(c.nodes[2])
	c.start(c.nodes[2])
	if p := c.nodes[2].m.Partition(topic, 0); p != nil {
		t.Fatal("partition hosted before LeaderAndIsr")
	}
	// The checkpoint keeps unhosted logs' entries.
	if err := c.nodes[2].m.CheckpointHighWatermarks(); err != nil {
		t.Fatal(err)
	}
	if ckpt, err := os.ReadFile(filepath.Join(c.nodes[2].dir, "replication-offset-checkpoint")); err != nil || string(ckpt) != "0\n1\nt 0 4\n" {
		t.Fatalf("replication-offset-checkpoint before LeaderAndIsr: %q %v", ckpt, err)
	}
	c.leaderAndIsr(1, 2, 2, both, both, 2) // leader 1 is down: no fetching
	if hw := state(c, 2).HighWatermark; hw != 4 {
		t.Fatalf("follower high watermark after restart %d, want 4", hw)
	}
}

// TestFollowerAheadOfNewLeaderRetriesQuickly: after a leader change the
// follower may apply its LeaderAndIsr before the new leader does and get
// UNKNOWN_LEADER_EPOCH from it; once the leader applies its own, replication
// resumes within a fraction of replica.fetch.backoff.ms, so an acks=all
// produce on the new leader is not held for the backoff.
func TestFollowerAheadOfNewLeaderRetriesQuickly(t *testing.T) {
	cfg := fast
	cfg.FetchBackoff = 5 * time.Second
	cfg.ReplicaLagTimeMax = 30 * time.Second // no ISR shrink meanwhile
	c := newCluster(t, cfg, 1, 2)
	all := []int32{1, 2}
	c.leaderAndIsr(1, 1, 1, all, all, 1, 2)
	if res := c.produce(1, -1, 10*time.Second, "a"); res.Err != nil {
		t.Fatalf("produce at epoch 1: %v", res.Err)
	}
	// Epoch 2 with broker 2 leading: the follower (1) applies it first and
	// fetches from 2, which still follows at epoch 1.
	c.leaderAndIsr(2, 2, 2, all, all, 1)
	time.Sleep(300 * time.Millisecond)
	c.leaderAndIsr(2, 2, 2, all, all, 2)
	start := time.Now()
	res := c.produce(2, -1, 10*time.Second, "b")
	if res.Err != nil {
		t.Fatalf("produce at epoch 2: %v", res.Err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("acks=all on the new leader took %v (replica.fetch.backoff.ms %v)", d, cfg.FetchBackoff)
	}
	if leo := state(c, 1).LogEndOffset; leo != 2 {
		t.Fatalf("follower LEO %d, want 2", leo)
	}
}
