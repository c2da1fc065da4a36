package coordinator

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/zkpaths"
)

func readEpoch(t *testing.T, c *zkpaths.Client) int32 {
	t.Helper()
	e, _, ok, err := c.GetControllerEpoch()
	if err != nil || !ok {
		t.Fatalf("controller epoch: %v %v", ok, err)
	}
	return e
}

// TestElectionAndFailover: three brokers elect exactly one controller with
// epoch 1; closing its session elects another with epoch 2, and so on.
func TestElectionAndFailover(t *testing.T) {
	chroot := testChroot(t)
	var bs []*testBroker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, startBroker(t, chroot, id, true))
	}
	one := func() *testBroker {
		var got *testBroker
		waitFor(t, 15*time.Second, func() error {
			a := activeControllers(bs)
			if len(a) != 1 {
				return fmt.Errorf("%d active controllers", len(a))
			}
			got = a[0]
			return nil
		})
		return got
	}
	first := one()
	if e := readEpoch(t, bs[0].zk); e != 1 || first.controller.Epoch() != 1 {
		t.Fatalf("epoch %d (controller says %d), want 1", e, first.controller.Epoch())
	}
	if id, ok, _ := bs[0].zk.GetControllerID(); !ok || id != first.id {
		t.Fatalf("/controller names %d, want %d", id, first.id)
	}
	// Give it a moment: still exactly one.
	time.Sleep(300 * time.Millisecond)
	if a := activeControllers(bs); len(a) != 1 {
		t.Fatalf("%d active controllers", len(a))
	}

	// Kill the controller's session: another broker takes over.
	first.zk.Close()
	first.stop()
	var second *testBroker
	waitFor(t, 15*time.Second, func() error {
		a := activeControllers(bs)
		if len(a) != 1 || a[0] == first {
			return fmt.Errorf("active %v", a)
		}
		second = a[0]
		return nil
	})
	live := bs[0]
	if live == first {
		live = bs[1]
	}
	waitFor(t, 5*time.Second, func() error {
		if e := readEpoch(t, live.zk); e != 2 || second.controller.Epoch() != 2 {
			return fmt.Errorf("epoch %d / %d, want 2", e, second.controller.Epoch())
		}
		return nil
	})

	// A clean shutdown hands over at once (deletes /controller).
	second.stop()
	waitFor(t, 15*time.Second, func() error {
		a := activeControllers(bs)
		if len(a) != 1 || a[0] == first || a[0] == second {
			return fmt.Errorf("active %v", a)
		}
		if e := a[0].controller.Epoch(); e != 3 {
			return fmt.Errorf("epoch %d, want 3", e)
		}
		return nil
	})
}

// TestZombieControllerFenced: once /controller_epoch moved, the old
// controller's writes fail the CheckOp, nothing lands, and it resigns
// (KAFKA-6082).
func TestZombieControllerFenced(t *testing.T) {
	chroot := testChroot(t)
	b := startBroker(t, chroot, 1, true)
	waitFor(t, 10*time.Second, func() error {
		if !b.controller.IsActive() {
			return errors.New("not active")
		}
		return nil
	})
	other := connect(t, chroot)
	// A newer controller bumps the epoch (its /controller is left alone so
	// the zombie does not hear about it through the watch).
	if _, err := other.Set(zkpaths.ControllerEpochPath, zkpaths.EncodeControllerEpoch(2), zkpaths.AnyVersion); err != nil {
		t.Fatal(err)
	}
	admin := NewAdmin(other, testConfig(1), testLog(t))
	if err := admin.CreateTopic(context.Background(), handlers.NewTopic{Name: "z", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if b.controller.IsActive() {
			return errors.New("zombie still active")
		}
		return nil
	})
	if ok, _, _ := other.Exists(zkpaths.PartitionStatePath("z", 0)); ok {
		t.Fatal("zombie wrote a partition state")
	}
	if ok, _, _ := other.Exists(zkpaths.TopicPartitionsPath("z")); ok {
		t.Fatal("zombie created partitions/")
	}
}

func findLeaderAndISR(reqs []receivedRequest, match func(*kmsg.LeaderAndISRRequest) bool) *kmsg.LeaderAndISRRequest {
	for _, r := range reqs {
		if l, ok := r.req.(*kmsg.LeaderAndISRRequest); ok && match(l) {
			return l
		}
	}
	return nil
}

func findUpdateMetadata(reqs []receivedRequest, match func(*kmsg.UpdateMetadataRequest) bool) *kmsg.UpdateMetadataRequest {
	for _, r := range reqs {
		if u, ok := r.req.(*kmsg.UpdateMetadataRequest); ok && match(u) {
			return u
		}
	}
	return nil
}

func partitionIn(l *kmsg.LeaderAndISRRequest, topic string, p int32) *kmsg.LeaderAndISRRequestTopicPartition {
	for i := range l.TopicStates {
		if l.TopicStates[i].Topic != topic {
			continue
		}
		for j := range l.TopicStates[i].PartitionStates {
			if ps := &l.TopicStates[i].PartitionStates[j]; ps.Partition == p {
				return ps
			}
		}
	}
	return nil
}

func umPartition(u *kmsg.UpdateMetadataRequest, topic string, p int32) *kmsg.UpdateMetadataRequestTopicPartition {
	for i := range u.TopicStates {
		if u.TopicStates[i].Topic != topic {
			continue
		}
		for j := range u.TopicStates[i].PartitionStates {
			if ps := &u.TopicStates[i].PartitionStates[j]; ps.Partition == p {
				return ps
			}
		}
	}
	return nil
}

func stateJSON(t *testing.T, c *zkpaths.Client, topic string, p int32) string {
	t.Helper()
	data, _, err := c.Get(zkpaths.PartitionStatePath(topic, p))
	if err != nil {
		return err.Error()
	}
	return string(data)
}

// TestTopicCreationAndBrokerFailure follows a topic from creation (New →
// Online, LeaderAndIsr isNew, UpdateMetadata) through the failure of one
// broker (clean election, ISR shrink), checking the znodes byte for byte
// and the requests the stand-in brokers decode.
func TestTopicCreationAndBrokerFailure(t *testing.T) {
	chroot := testChroot(t)
	b1 := startBroker(t, chroot, 1, true)
	b2 := startBroker(t, chroot, 2, false)
	waitFor(t, 10*time.Second, func() error {
		if !b1.controller.IsActive() {
			return errors.New("not active")
		}
		return nil
	})
	admin := NewAdmin(b1.zk, testConfig(1), testLog(t))
	err := admin.CreateTopic(context.Background(), handlers.NewTopic{Name: "orders", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2}, 1: {2, 1}}, Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	ta, _, err := b1.zk.GetTopicAssignment("orders")
	if err != nil {
		t.Fatal(err)
	}
	if data, _, _ := b1.zk.Get(zkpaths.ConfigTopicPath("orders")); string(data) != `{"version":1,"config":{"retention.ms":"1000"}}` {
		t.Errorf("config znode %s", data)
	}
	want0 := `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`
	want1 := `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,1]}`
	waitFor(t, 10*time.Second, func() error {
		if s0, s1 := stateJSON(t, b1.zk, "orders", 0), stateJSON(t, b1.zk, "orders", 1); s0 != want0 || s1 != want1 {
			return fmt.Errorf("states %s %s", s0, s1)
		}
		return nil
	})
	// LeaderAndIsr (isNew) to both ISR members, with their broker epochs.
	for _, b := range []*testBroker{b1, b2} {
		b := b
		waitFor(t, 10*time.Second, func() error {
			l := findLeaderAndISR(b.fake.requests(), func(l *kmsg.LeaderAndISRRequest) bool { return partitionIn(l, "orders", 0) != nil })
			if l == nil {
				return fmt.Errorf("broker %d: no LeaderAndIsr", b.id)
			}
			p0, p1 := partitionIn(l, "orders", 0), partitionIn(l, "orders", 1)
			switch {
			case l.Version != 5 || l.ControllerID != 1 || l.ControllerEpoch != 1 || l.BrokerEpoch != b.epoch:
				return fmt.Errorf("broker %d header %+v", b.id, l)
			case l.TopicStates[0].TopicID != ta.TopicID:
				return fmt.Errorf("topic id %x", l.TopicStates[0].TopicID)
			case p0 == nil || p1 == nil || !p0.IsNew || p0.Leader != 1 || !reflect.DeepEqual(p0.ISR, []int32{1, 2}) || p0.ZKVersion != 0 || !reflect.DeepEqual(p0.Replicas, []int32{1, 2}):
				return fmt.Errorf("partition states %+v %+v", p0, p1)
			case p1.Leader != 2 || p1.LeaderEpoch != 0 || p1.ControllerEpoch != 1:
				return fmt.Errorf("p1 %+v", p1)
			case len(l.LiveLeaders) != 2:
				return fmt.Errorf("live leaders %+v", l.LiveLeaders)
			}
			return nil
		})
	}
	reqs := b1.fake.requests()
	if reqs[0].clientID != "controller-1" {
		t.Errorf("client id %q", reqs[0].clientID)
	}
	// UpdateMetadata to broker 1 with both live brokers and every endpoint.
	waitFor(t, 10*time.Second, func() error {
		u := findUpdateMetadata(b1.fake.requests(), func(u *kmsg.UpdateMetadataRequest) bool { return umPartition(u, "orders", 1) != nil })
		if u == nil {
			return errors.New("no UpdateMetadata with the topic")
		}
		p1 := umPartition(u, "orders", 1)
		switch {
		case u.Version != 7 || u.ControllerEpoch != 1 || u.BrokerEpoch != b1.epoch || u.TopicStates[0].TopicID != ta.TopicID:
			return fmt.Errorf("header %+v", u)
		case p1.Leader != 2 || !reflect.DeepEqual(p1.ISR, []int32{2, 1}) || len(p1.OfflineReplicas) != 0:
			return fmt.Errorf("partition %+v", p1)
		case len(u.LiveBrokers) != 2 || len(u.LiveBrokers[1].Endpoints) != 2 || u.LiveBrokers[1].Endpoints[1].ListenerName != "REPLICATION" ||
			u.LiveBrokers[1].Endpoints[1].Port != int32(b2.fake.port()) || u.LiveBrokers[1].Rack == nil || *u.LiveBrokers[1].Rack != "rack2":
			return fmt.Errorf("live brokers %+v", u.LiveBrokers)
		}
		return nil
	})

	// Broker 2 dies: p1 fails over to 1, both ISRs shrink.
	b2.zk.Close()
	want0 = `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":1,"isr":[1]}`
	want1 = `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":1,"isr":[1]}`
	waitFor(t, 15*time.Second, func() error {
		if s0, s1 := stateJSON(t, b1.zk, "orders", 0), stateJSON(t, b1.zk, "orders", 1); s0 != want0 || s1 != want1 {
			return fmt.Errorf("states %s %s", s0, s1)
		}
		return nil
	})
	waitFor(t, 10*time.Second, func() error {
		l := findLeaderAndISR(b1.fake.requests(), func(l *kmsg.LeaderAndISRRequest) bool {
			p := partitionIn(l, "orders", 1)
			return p != nil && p.LeaderEpoch == 1
		})
		if l == nil {
			return errors.New("no LeaderAndIsr for the new leader")
		}
		if p := partitionIn(l, "orders", 1); p.Leader != 1 || !reflect.DeepEqual(p.ISR, []int32{1}) || p.IsNew || p.ZKVersion != 1 {
			return fmt.Errorf("%+v", p)
		}
		u := findUpdateMetadata(b1.fake.requests(), func(u *kmsg.UpdateMetadataRequest) bool {
			p := umPartition(u, "orders", 1)
			return p != nil && p.LeaderEpoch == 1
		})
		if u == nil {
			return errors.New("no UpdateMetadata after failover")
		}
		if p := umPartition(u, "orders", 1); !reflect.DeepEqual(p.OfflineReplicas, []int32{2}) || len(u.LiveBrokers) != 1 {
			return fmt.Errorf("um %+v live %d", p, len(u.LiveBrokers))
		}
		return nil
	})

	// The last ISR member dies too (no controller left to see it here, so
	// use a fresh controller on broker 3): leader -1, ISR keeps [1].
	b3 := startBroker(t, chroot, 3, false)
	_ = b3
	b1.zk.Close()
	b1.stop()
	c3 := startBroker(t, chroot, 4, true)
	waitFor(t, 15*time.Second, func() error {
		s := stateJSON(t, c3.zk, "orders", 0)
		if s != `{"controller_epoch":2,"leader":-1,"version":1,"leader_epoch":2,"isr":[1]}` {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
}

// TestTopicDeletion: UpdateMetadata with leader -2 and StopReplica(delete,
// epoch -2), then every znode of the topic is removed.
func TestTopicDeletion(t *testing.T) {
	chroot := testChroot(t)
	b1 := startBroker(t, chroot, 1, true)
	admin := NewAdmin(b1.zk, testConfig(1), testLog(t))
	if err := admin.CreateTopic(context.Background(), handlers.NewTopic{Name: "gone", NumPartitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if ok, _, _ := b1.zk.Exists(zkpaths.PartitionStatePath("gone", 1)); !ok {
			return errors.New("no state yet")
		}
		return nil
	})
	if err := admin.DeleteTopic(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteTopic(context.Background(), "gone"); err != nil && apierr.Code(err) != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("second delete: %v", err) // already marked is fine; already gone is UNKNOWN_TOPIC_OR_PARTITION
	}
	waitFor(t, 10*time.Second, func() error {
		for _, p := range []string{zkpaths.TopicPath("gone"), zkpaths.ConfigTopicPath("gone"), zkpaths.DeleteTopicPath("gone")} {
			if ok, _, _ := b1.zk.Exists(p); ok {
				return fmt.Errorf("%s still exists", p)
			}
		}
		return nil
	})
	var stop *kmsg.StopReplicaRequest
	for _, r := range b1.fake.requests() {
		if s, ok := r.req.(*kmsg.StopReplicaRequest); ok {
			stop = s
		}
	}
	if stop == nil || stop.Version != 3 || len(stop.Topics) != 1 || len(stop.Topics[0].PartitionStates) != 2 ||
		!stop.Topics[0].PartitionStates[0].Delete || stop.Topics[0].PartitionStates[0].LeaderEpoch != -2 || stop.BrokerEpoch != b1.epoch {
		t.Fatalf("StopReplica %+v", stop)
	}
	u := findUpdateMetadata(b1.fake.requests(), func(u *kmsg.UpdateMetadataRequest) bool {
		p := umPartition(u, "gone", 0)
		return p != nil && p.Leader == -2
	})
	if u == nil {
		t.Fatal("no UpdateMetadata with leader -2")
	}
	if err := admin.DeleteTopic(context.Background(), "gone"); apierr.Code(err) != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("delete unknown: %v", err)
	}
}

func TestAdminValidation(t *testing.T) {
	chroot := testChroot(t)
	b := startBroker(t, chroot, 1, false)
	admin := NewAdmin(b.zk, testConfig(1), testLog(t))
	ctx := context.Background()
	if err := admin.CreateTopic(ctx, handlers.NewTopic{Name: "exists.x", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.zk.CreateRecursive(zkpaths.DeleteTopicPath("marked"), nil); err != nil {
		t.Fatal(err)
	}
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name  string
		topic handlers.NewTopic
		code  *kerr.Error
		msg   string
	}{
		{"empty name", handlers.NewTopic{Name: "", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException, "Topic name is illegal, it can't be empty"},
		{"dot", handlers.NewTopic{Name: "..", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException, `Topic name cannot be "." or ".."`},
		{"slash", handlers.NewTopic{Name: "a/b", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException, `Topic name "a/b" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`},
		{"too long", handlers.NewTopic{Name: string(long), NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException, "Topic name is illegal, it can't be longer than 249 characters, Topic name: " + string(long)},
		{"zero partitions", handlers.NewTopic{Name: "t", NumPartitions: 0, ReplicationFactor: 1}, kerr.InvalidPartitions, "Number of partitions must be larger than 0."},
		{"rf above brokers", handlers.NewTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 2}, kerr.InvalidReplicationFactor, "Replication factor: 2 larger than available brokers: 1."},
		{"exists", handlers.NewTopic{Name: "exists.x", NumPartitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists, "Topic 'exists.x' already exists."},
		{"collision", handlers.NewTopic{Name: "exists_x", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException, "Topic 'exists_x' collides with existing topics: exists.x"},
		{"marked for deletion", handlers.NewTopic{Name: "marked", NumPartitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists, "Topic 'marked' is marked for deletion."},
		{"unknown config", handlers.NewTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"nope": "1"}}, kerr.InvalidConfig, "Unknown topic config name: nope"},
		{"gap in assignment", handlers.NewTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {1}, 2: {1}}}, kerr.InvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence"},
		{"uneven assignment", handlers.NewTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {1}, 1: {1, 2}}}, kerr.InvalidReplicaAssignment, "All partitions should have the same number of replicas"},
		{"duplicate replica", handlers.NewTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {1, 1}}}, kerr.InvalidReplicaAssignment, "Duplicate replica assignment found: map[0:[1 1]]"},
		{"assignment and count", handlers.NewTopic{Name: "t", NumPartitions: 1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {1}}}, kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := admin.CreateTopic(ctx, tt.topic)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tt.code || ae.Message != tt.msg {
				t.Fatalf("got %v, want %s %q", err, tt.code.Message, tt.msg)
			}
		})
	}
	// validate_only writes nothing; defaults apply.
	if err := admin.CreateTopic(ctx, handlers.NewTopic{Name: "dry", NumPartitions: -1, ReplicationFactor: -1, ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := b.zk.Exists(zkpaths.TopicPath("dry")); ok {
		t.Error("validate_only wrote the topic")
	}
	if err := admin.DeleteTopic(ctx, "nope"); apierr.Code(err) != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("delete unknown: %v", err)
	}
	disabled := testConfig(1)
	disabled.DeleteTopicEnable = false
	if err := NewAdmin(b.zk, disabled, testLog(t)).DeleteTopic(ctx, "exists.x"); apierr.Code(err) != kerr.TopicDeletionDisabled.Code {
		t.Errorf("delete disabled: %v", err)
	}
}
