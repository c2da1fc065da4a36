package coordinator

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/broker/kconn"

	"github.com/gregor-broker/gregor/zkpaths"
	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

var testZK *zktest.Cluster

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coordinator-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testZK, err = zktest.StartCluster(dir, 1, zktest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "zktest:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	testZK.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLog(t *testing.T) *logrus.Entry {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(logrus.InfoLevel)
	return logrus.NewEntry(l)
}

var chrootSeq atomic.Int64

func testChroot(t *testing.T) string {
	return fmt.Sprintf("/c/%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano()%1e6, chrootSeq.Add(1))
}

func connect(t *testing.T, chroot string) *zkpaths.Client {
	t.Helper()
	c, err := zkpaths.Connect(testZK.ConnectString()+chroot, 8*time.Second, testLog(t).WithField("component", "zk"), zkpaths.WithConnectionTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	timeout *= 2 // the test machine is shared and often overloaded
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met after %s: %v", timeout, err)
}

// fakeBroker is a stand-in broker's inter-broker listener: a real TCP
// server decoding real kmsg requests and answering empty responses
// (StopReplica: success for every partition).
type fakeBroker struct {
	ln net.Listener
	mu sync.Mutex
	rs []receivedRequest
	wg sync.WaitGroup
}

type receivedRequest struct {
	clientID string
	req      kmsg.Request
}

func newFakeBroker(t *testing.T) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{ln: ln}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeBroker) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeBroker) accept() {
	defer f.wg.Done()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		conns = append(conns, c)
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.serve(c) }()
	}
}

func (f *fakeBroker) serve(c net.Conn) {
	defer c.Close()
	for {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		key, version := int16(binary.BigEndian.Uint16(buf)), int16(binary.BigEndian.Uint16(buf[2:]))
		corr := binary.BigEndian.Uint32(buf[4:])
		n := int16(binary.BigEndian.Uint16(buf[8:]))
		clientID := ""
		body := buf[10:]
		if n > 0 {
			clientID, body = string(body[:n]), body[n:]
		}
		req := kmsg.RequestForKey(key)
		req.SetVersion(version)
		var err error
		if req.IsFlexible() {
			if body, err = kconn.SkipTags(body); err != nil {
				return
			}
		}
		if err := req.ReadFrom(body); err != nil {
			return
		}
		f.mu.Lock()
		f.rs = append(f.rs, receivedRequest{clientID, req})
		f.mu.Unlock()
		resp := req.ResponseKind()
		resp.SetVersion(version)
		if sr, ok := req.(*kmsg.StopReplicaRequest); ok {
			r := resp.(*kmsg.StopReplicaResponse)
			for _, t := range sr.Topics {
				for _, p := range t.PartitionStates {
					rp := kmsg.NewStopReplicaResponsePartition()
					rp.Topic, rp.Partition = t.Topic, p.Partition
					r.Partitions = append(r.Partitions, rp)
				}
			}
		}
		out := binary.BigEndian.AppendUint32(nil, 0)
		out = binary.BigEndian.AppendUint32(out, corr)
		if req.IsFlexible() {
			out = append(out, 0)
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func (f *fakeBroker) requests() []receivedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]receivedRequest(nil), f.rs...)
}

// testBroker is one stand-in broker: its own ZooKeeper session,
// registration, fake inter-broker listener and (optionally) controller.
type testBroker struct {
	id         int32
	zk         *zkpaths.Client
	epoch      int64
	fake       *fakeBroker
	controller *Controller
	cancel     context.CancelFunc
	done       chan struct{}
}

func testConfig(id int32) Config {
	return Config{BrokerID: id, InterBrokerListener: "REPLICATION", DefaultNumPartitions: 1, DefaultReplicationFactor: 1,
		DeleteTopicEnable: true, SocketTimeout: 2 * time.Second}
}

func startBroker(t *testing.T, chroot string, id int32, withController bool) *testBroker {
	t.Helper()
	return startBrokerOn(t, connect(t, chroot), id, withController)
}

// connectTo opens a session to servers (a connect string without chroot)
// with the given session timeout.
func connectTo(t *testing.T, servers, chroot string, sessionTimeout time.Duration) *zkpaths.Client {
	t.Helper()
	c, err := zkpaths.Connect(servers+chroot, sessionTimeout, testLog(t).WithField("component", "zk"), zkpaths.WithConnectionTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startBrokerOn is startBroker on an existing session.
func startBrokerOn(t *testing.T, zkc *zkpaths.Client, id int32, withController bool) *testBroker {
	t.Helper()
	b := &testBroker{id: id, zk: zkc, fake: newFakeBroker(t)}
	if err := b.zk.CreateTopLevelPaths(); err != nil {
		t.Fatal(err)
	}
	info := zkpaths.BrokerInfo{ID: id, JmxPort: -1, Rack: fmt.Sprintf("rack%d", id), Endpoints: []zkpaths.Endpoint{
		{Listener: "CLIENT", Host: "127.0.0.1", Port: 1, SecurityProtocol: "PLAINTEXT"},
		{Listener: "REPLICATION", Host: "127.0.0.1", Port: b.fake.port(), SecurityProtocol: "PLAINTEXT"},
	}}
	var err error
	if b.epoch, err = b.zk.RegisterBroker(info); err != nil {
		t.Fatal(err)
	}
	if withController {
		b.controller = New(testConfig(id), b.zk, testLog(t).WithField("broker_id", id))
		ctx, cancel := context.WithCancel(context.Background())
		b.cancel, b.done = cancel, make(chan struct{})
		go func() { defer close(b.done); _ = b.controller.Run(ctx) }()
		t.Cleanup(b.stop)
	}
	return b
}

// stop cancels the controller and waits for Run to return.
func (b *testBroker) stop() {
	if b.cancel != nil {
		b.cancel()
		<-b.done
		b.cancel = nil
	}
}

func activeControllers(bs []*testBroker) []*testBroker {
	var out []*testBroker
	for _, b := range bs {
		if b.controller != nil && b.cancel != nil && b.controller.IsActive() {
			out = append(out, b)
		}
	}
	return out
}

// waitActive waits until b's controller is active.
func waitActive(t *testing.T, b *testBroker) {
	t.Helper()
	waitFor(t, 15*time.Second, func() error {
		if !b.controller.IsActive() {
			return fmt.Errorf("broker %d: controller not active", b.id)
		}
		return nil
	})
}

// waitState waits until a partition state znode holds want (its JSON).
func waitState(t *testing.T, c *zkpaths.Client, topic string, p int32, want string) {
	t.Helper()
	waitFor(t, 20*time.Second, func() error {
		if s := stateJSON(t, c, topic, p); s != want {
			return fmt.Errorf("%s-%d state %s, want %s", topic, p, s, want)
		}
		return nil
	})
}

// lastLeaderAndISR is the partition state of the last LeaderAndIsr for
// topic-p a fake broker received, or nil.
func lastLeaderAndISR(f *fakeBroker, topic string, p int32) (*kmsg.LeaderAndISRRequest, *kmsg.LeaderAndISRRequestTopicPartition) {
	reqs := f.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if l, ok := reqs[i].req.(*kmsg.LeaderAndISRRequest); ok {
			if ps := partitionIn(l, topic, p); ps != nil {
				return l, ps
			}
		}
	}
	return nil, nil
}

// lastUpdateMetadata is the partition state of the last UpdateMetadata for
// topic-p a fake broker received, or nil.
func lastUpdateMetadata(f *fakeBroker, topic string, p int32) (*kmsg.UpdateMetadataRequest, *kmsg.UpdateMetadataRequestTopicPartition) {
	reqs := f.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if u, ok := reqs[i].req.(*kmsg.UpdateMetadataRequest); ok {
			if ps := umPartition(u, topic, p); ps != nil {
				return u, ps
			}
		}
	}
	return nil, nil
}

// createTopic creates a topic with an explicit assignment through Admin.
func createTopic(t *testing.T, c *zkpaths.Client, name string, assignment map[int32][]int32, configs map[string]string) zkpaths.UUID {
	t.Helper()
	admin := NewAdmin(c, testConfig(0), testLog(t))
	err := admin.CreateTopic(context.Background(), handlers.NewTopic{Name: name, NumPartitions: -1, ReplicationFactor: -1,
		Assignment: assignment, Configs: configs})
	if err != nil {
		t.Fatal(err)
	}
	ta, _, err := c.GetTopicAssignment(name)
	if err != nil {
		t.Fatal(err)
	}
	return ta.TopicID
}
