package zkpaths

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

// One ZooKeeper serves the whole package; every test works in its own
// chroot.
var testZK *zktest.Cluster

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkpaths-test")
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

// testLog routes logrus to t.Log until the test ends.
func testLog(t *testing.T) *logrus.Entry {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(logrus.DebugLevel)
	return l.WithField("test", t.Name())
}

var chrootSeq atomic.Int64

// testChroot is a fresh chroot for one test.
func testChroot(t *testing.T) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("/t/%s-%d-%d", name, time.Now().UnixNano()%1e6, chrootSeq.Add(1))
}

// connect opens a Client on addr+chroot, closed at the end of the test.
func connect(t *testing.T, addr, chroot string, sessionTimeout time.Duration) *Client {
	t.Helper()
	c, err := Connect(addr+chroot, sessionTimeout, testLog(t), WithConnectionTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitFor polls cond until it returns nil or the deadline passes.
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

func TestConnectCreatesChroot(t *testing.T) {
	chroot := testChroot(t) + "/kafka"
	c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	if _, err := c.Create("/probe", []byte("x"), Persistent); err != nil {
		t.Fatal(err)
	}
	raw := connect(t, testZK.ConnectString(), "", 8*time.Second)
	data, _, err := raw.Get(chroot + "/probe")
	if err != nil || string(data) != "x" {
		t.Fatalf("probe outside chroot view: %q %v", data, err)
	}
	if c.SessionID() == 0 {
		t.Error("no session id")
	}
}

func TestConnectTimeout(t *testing.T) {
	start := time.Now()
	_, err := Connect("127.0.0.1:1", 2*time.Second, testLog(t), WithConnectionTimeout(500*time.Millisecond))
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestCreateTopLevelPaths(t *testing.T) {
	c := connect(t, testZK.ConnectString(), testChroot(t), 8*time.Second)
	for i := 0; i < 2; i++ { // idempotent
		if err := c.CreateTopLevelPaths(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range append(PersistentPaths(), "/brokers", "/config", "/admin") {
		data, _, err := c.Get(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if data != nil {
			t.Errorf("%s: data %q, want null", p, data)
		}
	}
}

func TestGetOrCreateClusterID(t *testing.T) {
	chroot := testChroot(t)
	a := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	b := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	var wg sync.WaitGroup
	ids := make([]string, 2)
	errs := make([]error, 2)
	for i, c := range []*Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = c.GetOrCreateClusterID(UUIDString(NewUUID()))
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || ids[0] != ids[1] || len(ids[0]) != 22 {
		t.Fatalf("ids %v errs %v", ids, errs)
	}
	again, err := a.GetOrCreateClusterID("other")
	if err != nil || again != ids[0] {
		t.Fatalf("second call: %q %v", again, err)
	}
	data, _, err := a.Get(ClusterIDPath)
	if err != nil || string(data) != `{"version":"1","id":"`+ids[0]+`"}` {
		t.Fatalf("znode: %s %v", data, err)
	}
}

func testBroker(id int32) BrokerInfo {
	return BrokerInfo{ID: id, JmxPort: -1, Endpoints: []Endpoint{{"PLAINTEXT", "localhost", 9092 + int(id), "PLAINTEXT"}}}
}

func TestRegisterBroker(t *testing.T) {
	chroot := testChroot(t)
	a := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	if err := a.CreateTopLevelPaths(); err != nil {
		t.Fatal(err)
	}
	epoch, err := a.RegisterBroker(testBroker(1))
	if err != nil {
		t.Fatal(err)
	}
	data, stat, err := a.Get(BrokerIDPath(1))
	if err != nil {
		t.Fatal(err)
	}
	if stat.Czxid != epoch || stat.Version != 1 || stat.EphemeralOwner != a.SessionID() {
		t.Errorf("epoch %d, stat czxid %d version %d owner %x (session %x)", epoch, stat.Czxid, stat.Version, stat.EphemeralOwner, a.SessionID())
	}
	if !strings.HasPrefix(string(data), `{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://localhost:9093"],"jmx_port":-1,"port":9093,"host":"localhost","version":5,"timestamp":"`) {
		t.Errorf("data %s", data)
	}

	// The same session registering again is accepted with the same epoch.
	again, err := a.RegisterBroker(testBroker(1))
	if err != nil || again != epoch {
		t.Errorf("re-register same session: %d %v", again, err)
	}

	// Another live session with the same id is refused.
	b := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	_, err = b.RegisterBroker(testBroker(1))
	if !errors.Is(err, ErrBrokerIDInUse) || !strings.Contains(err.Error(), "broker.id 1") {
		t.Fatalf("duplicate id: %v", err)
	}

	// Once the first broker's session ends, the id is free; new epoch.
	a.Close()
	epoch2, err := b.RegisterBroker(testBroker(1))
	if err != nil || epoch2 <= epoch {
		t.Fatalf("after close: epoch %d (old %d) %v", epoch2, epoch, err)
	}
	brokers, err := b.GetAllBrokers()
	if err != nil || len(brokers) != 1 || brokers[0].Epoch != epoch2 || brokers[0].Info.Endpoints[0].Port != 9093 {
		t.Fatalf("GetAllBrokers: %+v %v", brokers, err)
	}
}

// TestRegisterAfterSessionExpiry cuts the client off (a proxy, while the
// server runs) for longer than the session timeout: the server expires the
// session, the client gets SessionExpired then SessionNew, and a new
// registration gets a new broker epoch.
func TestRegisterAfterSessionExpiry(t *testing.T) {
	proxy := zktest.NewProxy(t, testZK.Servers[0].Addr())
	chroot := testChroot(t)
	c := connect(t, proxy.Addr(), chroot, 4*time.Second)
	if err := c.CreateTopLevelPaths(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []SessionEvent
	c.OnSession(func(ev SessionEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	watchEvents := make(chan WatchEvent, 10)
	if _, err := c.WatchChildren(BrokerIDsPath, WatchChan(watchEvents)); err != nil {
		t.Fatal(err)
	}
	epoch1, err := c.RegisterBroker(testBroker(7))
	if err != nil {
		t.Fatal(err)
	}
	<-watchEvents // our own registration
	oldSession := c.SessionID()
	mu.Lock()
	events = nil // only what follows the cut counts (a loaded machine may have caused earlier ones)
	mu.Unlock()
	for len(watchEvents) > 0 {
		<-watchEvents
	}

	proxy.Cut()
	time.Sleep(6 * time.Second) // > session timeout: the server expires it
	proxy.Restore()

	waitFor(t, 15*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		var exp, nw int
		for i, ev := range events {
			if ev == SessionExpired {
				exp = i + 1
			}
			if ev == SessionNew {
				nw = i + 1
			}
		}
		if exp == 0 || nw == 0 || nw < exp {
			return fmt.Errorf("events %v", events)
		}
		return nil
	})
	if c.SessionID() == oldSession {
		t.Fatal("same session after expiry")
	}
	// The watch was restored on the new session.
	select {
	case ev := <-watchEvents:
		if !ev.Restored {
			t.Errorf("watch event %+v, want Restored", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch not restored")
	}
	epoch2, err := c.RegisterBroker(testBroker(7))
	if err != nil {
		t.Fatal(err)
	}
	if epoch2 <= epoch1 {
		t.Errorf("epoch %d not above %d", epoch2, epoch1)
	}
	select {
	case ev := <-watchEvents:
		// Restored: on an overloaded machine the new session can expire too.
		if !ev.Restored && (ev.Type != zk.EventNodeChildrenChanged || ev.Path != BrokerIDsPath) {
			t.Errorf("watch event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no children event after re-registration")
	}
}

// TestEpochFenced: a write fenced with an old /controller_epoch version
// fails with ErrControllerMoved and changes nothing (KAFKA-6082).
func TestEpochFenced(t *testing.T) {
	c := connect(t, testZK.ConnectString(), testChroot(t), 8*time.Second)
	if _, err := c.Create(ControllerEpochPath, EncodeControllerEpoch(1), Persistent); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EpochFenced(0, CreateOp("/a", []byte("1"), Persistent)); err != nil {
		t.Fatalf("fenced write at the current version: %v", err)
	}
	// A newer controller bumps the epoch.
	if _, err := c.Set(ControllerEpochPath, EncodeControllerEpoch(2), 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.EpochFenced(0, SetDataOp("/a", []byte("zombie"), AnyVersion), CreateOp("/b", nil, Persistent))
	if !errors.Is(err, ErrControllerMoved) {
		t.Fatalf("zombie write: %v", err)
	}
	if data, _, _ := c.Get("/a"); string(data) != "1" {
		t.Errorf("/a = %q after zombie write", data)
	}
	if ok, _, _ := c.Exists("/b"); ok {
		t.Error("/b created by zombie write")
	}
	// An inner failure is reported as such, not as a controller move.
	res, err := c.EpochFenced(1, SetDataOp("/a", []byte("x"), 5))
	if !errors.Is(err, zk.ErrBadVersion) || errors.Is(err, ErrControllerMoved) || len(res) != 1 || !errors.Is(res[0].Error, zk.ErrBadVersion) {
		t.Fatalf("inner bad version: %v %+v", err, res)
	}
	res, err = c.EpochFenced(1, SetDataOp("/a", []byte("2"), 0))
	if err != nil || res[0].Stat.Version != 1 {
		t.Fatalf("fenced set: %v %+v", err, res)
	}
}

func TestCreateAndDeleteRecursive(t *testing.T) {
	c := connect(t, testZK.ConnectString(), testChroot(t), 8*time.Second)
	if err := c.CreateRecursive("/x/y/z", []byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRecursive("/x/y/z", nil); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("second create: %v", err)
	}
	if data, _, _ := c.Get("/x/y"); data != nil {
		t.Errorf("parent data %q", data)
	}
	if _, err := c.Create(ControllerEpochPath, EncodeControllerEpoch(1), Persistent); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRecursive("/x", 0); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := c.Exists("/x"); ok {
		t.Error("/x still exists")
	}
	if err := c.DeleteRecursive("/x", AnyVersion); err != nil {
		t.Errorf("delete missing: %v", err)
	}
}

func TestWatches(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	other := connect(t, testZK.ConnectString(), chroot, 8*time.Second)
	children := make(chan WatchEvent, 10)
	data := make(chan WatchEvent, 10)
	// Both on a missing node.
	cw, err := c.WatchChildren("/w", WatchChan(children))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WatchData("/w", WatchChan(data)); err != nil {
		t.Fatal(err)
	}
	expect := func(ch chan WatchEvent, typ zk.EventType, path string) {
		t.Helper()
		select {
		case ev := <-ch:
			if ev.Type != typ || ev.Path != path {
				t.Fatalf("event %+v, want %v on %s", ev, typ, path)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v on %s", typ, path)
		}
	}
	if _, err := other.Create("/w", nil, Persistent); err != nil {
		t.Fatal(err)
	}
	expect(children, zk.EventNodeCreated, "/w")
	expect(data, zk.EventNodeCreated, "/w")
	for i := 0; i < 3; i++ { // re-armed every time
		if _, err := other.Create(fmt.Sprintf("/w/%d", i), nil, Persistent); err != nil {
			t.Fatal(err)
		}
		expect(children, zk.EventNodeChildrenChanged, "/w")
	}
	if _, err := other.Set("/w", []byte("v"), AnyVersion); err != nil {
		t.Fatal(err)
	}
	expect(data, zk.EventNodeDataChanged, "/w")
	cw.Stop()
	if _, err := other.Create("/w/after-stop", nil, Persistent); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-children:
		t.Fatalf("event after Stop: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}
