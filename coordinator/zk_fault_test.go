package coordinator

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

// TestControllerRidesOutZooKeeperOutage: ZooKeeper goes away and comes
// back with the sessions intact: the only server killed and restarted (it
// restores the sessions), or two of three servers killed for longer than
// the session timeout (quorum lost; the new quorum leader gives every
// session a fresh timeout). The controller never resigns, keeps its epoch,
// and an AlterPartition that arrives during the outage is written once
// ZooKeeper is back.
func TestControllerRidesOutZooKeeperOutage(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		stop   []int
		outage time.Duration
	}{
		{name: "standalone restart", size: 1, stop: []int{0}, outage: 2 * time.Second},
		{name: "quorum lost past the session timeout", size: 3, stop: []int{1, 2}, outage: 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rideOutOutage(t, tc.size, tc.stop, tc.outage)
		})
	}
}

func rideOutOutage(t *testing.T, size int, stop []int, outage time.Duration) {
	zkc := zktest.Start(t, size)
	chroot := testChroot(t)
	conn := func() *zkpaths.Client { return connectTo(t, zkc.ConnectString(), chroot, 8*time.Second) }
	ctl := startBrokerOn(t, conn(), 9, true)
	waitActive(t, ctl)
	b1 := startBrokerOn(t, conn(), 1, false)
	b2 := startBrokerOn(t, conn(), 2, false)
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(b2.fake); u == nil || len(u.LiveBrokers) != 3 {
			return errors.New("controller has not seen every broker")
		}
		return nil
	})
	createTopic(t, ctl.zk, "zr", map[int32][]int32{0: {1, 2}}, nil)
	waitState(t, ctl.zk, "zr", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`)

	// Watch for any moment the controller is not active.
	var resigned atomic.Bool
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if !ctl.controller.IsActive() {
				resigned.Store(true)
			}
		}
	}()
	defer func() { close(quit); wg.Wait() }()

	for _, i := range stop {
		zkc.StopServer(i)
	}
	time.Sleep(time.Second) // the clients notice the disconnect
	type result struct {
		resp *kmsg.AlterPartitionResponse
	}
	done := make(chan result, 1)
	go func() {
		done <- result{alterPartition(t, ctl.controller, alterReq{version: 1, broker: b1, topic: "zr", isr: []int32{1}}.build())}
	}()
	time.Sleep(outage)
	for _, i := range stop {
		if err := zkc.StartServer(i); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range stop {
		if err := zkc.WaitServing(i, 120*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r.resp.ErrorCode == kerr.RequestTimedOut.Code {
		// ZooKeeper took longer to start than the request may wait; the
		// leader retries and gets the write answered idempotently.
		r.resp = alterPartition(t, ctl.controller, alterReq{version: 1, broker: b1, topic: "zr", isr: []int32{1}}.build())
	}
	if r.resp.ErrorCode != 0 || r.resp.Topics[0].Partitions[0].ErrorCode != 0 || r.resp.Topics[0].Partitions[0].PartitionEpoch != 1 {
		t.Fatalf("AlterPartition across the outage: %+v", r.resp)
	}
	waitState(t, ctl.zk, "zr", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`)
	if resigned.Load() || !ctl.controller.IsActive() || ctl.controller.Epoch() != 1 {
		t.Fatalf("controller resigned during the outage (active %v, epoch %d)", ctl.controller.IsActive(), ctl.controller.Epoch())
	}
	if e := readEpoch(t, ctl.zk); e != 1 {
		t.Fatalf("controller epoch %d after the outage", e)
	}
	// Still running the cluster: a broker death is handled.
	b2.zk.Close()
	waitState(t, ctl.zk, "zr", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`)
	waitFor(t, 15*time.Second, func() error {
		if _, ps := lastUpdateMetadata(b1.fake, "zr", 0); ps == nil || len(ps.OfflineReplicas) != 1 {
			return fmt.Errorf("UpdateMetadata %+v", ps)
		}
		return nil
	})
}

// TestPausedControllerFenced: the controller's broker loses ZooKeeper
// (a proxy cut, as a SIGSTOP would) past its session timeout, another
// broker becomes controller with a higher epoch, then the old one comes
// back. Its pending write fails, it resigns, and it sends nothing with its
// stale epoch.
func TestPausedControllerFenced(t *testing.T) {
	chroot := testChroot(t)
	proxy := zktest.NewProxy(t, testZK.Servers[0].Addr())
	a := startBrokerOn(t, connectTo(t, proxy.Addr(), chroot, 4*time.Second), 1, true)
	waitActive(t, a)
	b := startBroker(t, chroot, 2, true)
	c := startBroker(t, chroot, 3, false)
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(c.fake); u == nil || len(u.LiveBrokers) != 3 {
			return errors.New("controller has not seen every broker")
		}
		return nil
	})
	createTopic(t, b.zk, "pz", map[int32][]int32{0: {3, 2}}, nil)
	waitState(t, b.zk, "pz", 0, `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":0,"isr":[3,2]}`)
	waitLeaderAndISR(t, c.fake, "pz", 0, 3, 0)
	waitFor(t, 10*time.Second, func() error {
		for _, f := range []*fakeBroker{b.fake, c.fake} {
			if _, ps := lastUpdateMetadata(f, "pz", 0); ps == nil {
				return errors.New("no UpdateMetadata yet")
			}
		}
		return nil
	})

	staleSent := func() int {
		n := 0
		for _, f := range []*fakeBroker{b.fake, c.fake} {
			for _, r := range f.requests() {
				switch q := r.req.(type) {
				case *kmsg.LeaderAndISRRequest:
					if q.ControllerEpoch == 1 {
						n++
					}
				case *kmsg.UpdateMetadataRequest:
					if q.ControllerEpoch == 1 {
						n++
					}
				case *kmsg.StopReplicaRequest:
					if q.ControllerEpoch == 1 {
						n++
					}
				}
			}
		}
		return n
	}

	proxy.Cut()
	before := staleSent()
	// The leader asks the old controller to shrink the ISR; the write
	// cannot reach ZooKeeper.
	done := make(chan *kmsg.AlterPartitionResponse, 1)
	go func() {
		done <- alterPartition(t, a.controller, alterReq{version: 1, broker: c, topic: "pz", isr: []int32{3}}.build())
	}()
	// The session expires; broker 2 takes over with epoch 2.
	waitFor(t, 30*time.Second, func() error {
		if !b.controller.IsActive() || b.controller.Epoch() != 2 {
			return fmt.Errorf("broker 2 active %v epoch %d", b.controller.IsActive(), b.controller.Epoch())
		}
		return nil
	})
	proxy.Restore()
	resp := <-done
	if resp.ErrorCode != kerr.NotController.Code {
		t.Fatalf("old controller answered %+v", resp)
	}
	waitFor(t, 30*time.Second, func() error {
		if a.controller.IsActive() {
			return errors.New("old controller still active")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // anything it would send is sent by now
	if n := staleSent(); n != before {
		t.Fatalf("%d requests with the stale controller epoch after the pause", n-before)
	}
	data, stat, err := b.zk.Get(zkpaths.PartitionStatePath("pz", 0))
	if err != nil {
		t.Fatal(err)
	}
	if stat.Version != 0 || string(data) != `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":0,"isr":[3,2]}` {
		t.Fatalf("the old controller's write landed: %s (version %d)", data, stat.Version)
	}
	if id, ok, _ := b.zk.GetControllerID(); !ok || id != 2 {
		t.Fatalf("/controller names %d", id)
	}
	// The new controller serves the same request.
	if resp := alterPartition(t, b.controller, alterReq{version: 1, broker: c, topic: "pz", isr: []int32{3}}.build()); resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("new controller answered %+v", resp)
	}
}

// TestSessionExpiryResignsBeforeReregistering: when the controller's
// session expires, the controller has resigned by the time the broker's
// SessionNew handler re-registers it (the order broker.Broker relies on),
// and then it competes again and wins with the next epoch.
func TestSessionExpiryResignsBeforeReregistering(t *testing.T) {
	chroot := testChroot(t)
	proxy := zktest.NewProxy(t, testZK.Servers[0].Addr())
	zkc := connectTo(t, proxy.Addr(), chroot, 4*time.Second)
	var activeAtNew atomic.Int32 // 0 unset, 1 inactive, 2 active
	newEpoch := make(chan int64, 1)
	var a *testBroker
	// Registered before the controller's own handler, as broker.Run does.
	zkc.OnSession(func(ev zkpaths.SessionEvent) {
		if ev != zkpaths.SessionNew {
			return
		}
		if a.controller.IsActive() {
			activeAtNew.Store(2)
		} else {
			activeAtNew.Store(1)
		}
		info := zkpaths.BrokerInfo{ID: 1, JmxPort: -1, Endpoints: []zkpaths.Endpoint{
			{Listener: "REPLICATION", Host: "127.0.0.1", Port: a.fake.port(), SecurityProtocol: "PLAINTEXT"}}}
		e, err := zkc.RegisterBroker(info)
		if err != nil {
			t.Errorf("re-register: %v", err)
		}
		newEpoch <- e
	})
	a = startBrokerOn(t, zkc, 1, true)
	waitActive(t, a)

	proxy.Cut()
	time.Sleep(6 * time.Second) // past the session timeout: the server expires it
	proxy.Restore()
	var e int64
	select {
	case e = <-newEpoch:
	case <-time.After(60 * time.Second):
		t.Fatal("no new session")
	}
	if activeAtNew.Load() != 1 {
		t.Fatalf("controller still active when the broker re-registered (%d)", activeAtNew.Load())
	}
	if e <= a.epoch {
		t.Fatalf("broker epoch %d not above %d", e, a.epoch)
	}
	waitFor(t, 15*time.Second, func() error {
		if !a.controller.IsActive() || a.controller.Epoch() != 2 {
			return fmt.Errorf("active %v epoch %d", a.controller.IsActive(), a.controller.Epoch())
		}
		return nil
	})
	// The re-elected controller knows the broker by its new epoch.
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(a.fake); u == nil || u.ControllerEpoch != 2 || u.BrokerEpoch != e {
			return fmt.Errorf("UpdateMetadata %+v", u)
		}
		return nil
	})
}
