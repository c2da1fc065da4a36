package coordinator

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

func TestReassignTo(t *testing.T) {
	tests := []struct {
		name                       string
		cur                        replicaAssignment
		target                     []int32
		replicas, adding, removing []int32
	}{
		// Kafka's doc example: ORS {1,2,3}, TRS {4,5,6}.
		{"disjoint", replicaAssignment{replicas: []int32{1, 2, 3}}, []int32{4, 5, 6}, []int32{4, 5, 6, 1, 2, 3}, []int32{4, 5, 6}, []int32{1, 2, 3}},
		{"overlap", replicaAssignment{replicas: []int32{0, 1}}, []int32{1, 2}, []int32{1, 2, 0}, []int32{2}, []int32{0}},
		// updateCurrentReassignment's comment: [1,2,3] → [3,4,2] is [3,4,2,1].
		{"reorder", replicaAssignment{replicas: []int32{1, 2, 3}}, []int32{3, 4, 2}, []int32{3, 4, 2, 1}, []int32{4}, []int32{1}},
		{"same set", replicaAssignment{replicas: []int32{0, 1}}, []int32{1, 0}, []int32{1, 0}, []int32{}, []int32{}},
		// A new target replaces an in-flight one; ORS stays the origin.
		{"replace", replicaAssignment{replicas: []int32{1, 2, 0}, adding: []int32{2}, removing: []int32{0}}, []int32{0, 3},
			[]int32{0, 3, 1}, []int32{3}, []int32{1}},
		// Cancelling is reassigning to ORS.
		{"cancel", replicaAssignment{replicas: []int32{1, 2, 0}, adding: []int32{2}, removing: []int32{0}}, []int32{0, 1},
			[]int32{0, 1}, []int32{}, []int32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cur.reassignTo(tc.target)
			if !reflect.DeepEqual(got.replicas, tc.replicas) || !reflect.DeepEqual(got.adding, tc.adding) || !reflect.DeepEqual(got.removing, tc.removing) {
				t.Fatalf("got %+v, want RS %v AR %v RR %v", got, tc.replicas, tc.adding, tc.removing)
			}
			if !reflect.DeepEqual(got.target(), tc.target) && got.reassigning() {
				t.Errorf("target %v, want %v", got.target(), tc.target)
			}
		})
	}
}

func TestReassignLeader(t *testing.T) {
	tests := []struct {
		name                  string
		target, removing, isr []int32
		live                  []int32
		leader                int32
		wantLeader            int32
		wantISR               []int32
		wantOK                bool
	}{
		{"leader stays", []int32{1, 2}, []int32{0}, []int32{0, 1, 2}, []int32{0, 1, 2}, 1, 1, []int32{1, 2}, true},
		{"leader removed", []int32{1, 2}, []int32{0}, []int32{0, 1, 2}, []int32{0, 1, 2}, 0, 1, []int32{1, 2}, true},
		{"first target dead", []int32{1, 2}, []int32{0}, []int32{0, 1, 2}, []int32{0, 2}, 0, 2, []int32{1, 2}, true},
		{"leader in target but dead", []int32{1, 2}, []int32{0}, []int32{0, 1, 2}, []int32{0, 2}, 1, 2, []int32{1, 2}, true},
		{"no leader", []int32{1, 2}, []int32{0}, []int32{0, 1, 2}, []int32{0}, 0, -1, nil, false},
		{"offline leader", []int32{2, 1}, []int32{0}, []int32{1, 2}, []int32{1, 2}, -1, 2, []int32{1, 2}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, isr, ok := reassignLeader(tc.target, tc.removing, tc.isr, tc.live, tc.leader)
			if l != tc.wantLeader || ok != tc.wantOK || (ok && !reflect.DeepEqual(isr, tc.wantISR)) {
				t.Fatalf("got %d %v %v, want %d %v %v", l, isr, ok, tc.wantLeader, tc.wantISR, tc.wantOK)
			}
		})
	}
}

func TestValidateReassignmentReplicas(t *testing.T) {
	cur := replicaAssignment{replicas: []int32{0, 1}}
	live := []int32{0, 1, 2}
	tests := []struct {
		name      string
		replicas  []int32
		checkLive bool
		code      int16
	}{
		{"ok", []int32{1, 2}, true, 0},
		{"empty", []int32{}, true, kerr.InvalidReplicaAssignment.Code},
		{"duplicate", []int32{1, 1}, true, kerr.InvalidReplicaAssignment.Code},
		{"negative", []int32{1, -1}, true, kerr.InvalidReplicaAssignment.Code},
		{"unknown broker", []int32{1, 7}, true, kerr.InvalidReplicaAssignment.Code},
		{"unknown broker, zk path", []int32{1, 7}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, msg := validateReassignmentReplicas(cur, tc.replicas, live, tc.checkLive); code != tc.code {
				t.Fatalf("code %d (%s), want %d", code, msg, tc.code)
			}
		})
	}
}

// reassignFixture is a controller (broker 9) with fake brokers 0, 1, 2
// and topic "r" = {0: [0, 1]} led by 0.
type reassignFixture struct {
	ctl     *testBroker
	brokers []*testBroker
	topicID zkpaths.UUID
	chroot  string
}

func newReassignFixture(t *testing.T) *reassignFixture {
	chroot := testChroot(t)
	f := &reassignFixture{chroot: chroot}
	f.ctl = startBroker(t, chroot, 9, true)
	waitActive(t, f.ctl)
	for id := int32(0); id < 3; id++ {
		f.brokers = append(f.brokers, startBroker(t, chroot, id, false))
	}
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(f.brokers[2].fake); u == nil || len(u.LiveBrokers) != 4 {
			return errors.New("controller has not seen every broker")
		}
		return nil
	})
	f.topicID = createTopic(t, f.ctl.zk, "r", map[int32][]int32{0: {0, 1}}, nil)
	waitState(t, f.ctl.zk, "r", 0, `{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,"isr":[0,1]}`)
	return f
}

func alterReassignments(t *testing.T, ctl *Controller, topic string, p int32, replicas []int32) *kmsg.AlterPartitionAssignmentsResponse {
	t.Helper()
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Partition, rp.Replicas = p, replicas
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ctl.AlterPartitionReassignments(ctx, req)
}

func partitionCode(resp *kmsg.AlterPartitionAssignmentsResponse) int16 {
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

func listReassignments(t *testing.T, ctl *Controller) *kmsg.ListPartitionReassignmentsResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ctl.ListPartitionReassignments(ctx, kmsg.NewPtrListPartitionReassignmentsRequest())
}

func topicJSON(t *testing.T, c *zkpaths.Client, topic string) string {
	t.Helper()
	data, _, err := c.Get(zkpaths.TopicPath(topic))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// expandISR has the partition's current leader report isr through
// AlterPartition, as a real leader does once the new replicas caught up.
func (f *reassignFixture) expandISR(t *testing.T, ctl *Controller, isr []int32) *kmsg.AlterPartitionResponse {
	t.Helper()
	st, stat, err := f.ctl.zk.GetPartitionState("r", 0)
	if err != nil {
		t.Fatal(err)
	}
	var leader *testBroker
	for _, b := range f.brokers {
		if b.id == st.Leader {
			leader = b
		}
	}
	return alterPartition(t, ctl, alterReq{version: 2, broker: leader, topicID: f.topicID, leaderEpoch: st.LeaderEpoch,
		partitionEpoch: stat.Version, isr: isr}.build())
}

func hasStopReplica(fb *fakeBroker, topic string, p int32, deletePartition bool) bool {
	for _, r := range fb.requests() {
		if sr, ok := r.req.(*kmsg.StopReplicaRequest); ok {
			for _, rt := range sr.Topics {
				for _, ps := range rt.PartitionStates {
					if rt.Topic == topic && ps.Partition == p && ps.Delete == deletePartition {
						return true
					}
				}
			}
		}
	}
	return false
}

// TestReassignmentPhases moves r-0 from [0,1] to [1,2]: phase U writes
// RS/AR/RR to the topic znode, phase A sends LeaderAndIsr (isNew) to the
// new replica, the reassignment is listed until the ISR holds every target
// replica, then phase B moves the leader off the removed replica, shrinks
// the ISR and the assignment, and deletes the removed replica.
func TestReassignmentPhases(t *testing.T) {
	f := newReassignFixture(t)
	ctl := f.ctl.controller
	id := zkpaths.UUIDString(f.topicID)

	if c := partitionCode(alterReassignments(t, ctl, "r", 0, []int32{1, 2})); c != 0 {
		t.Fatalf("alter: %v", kerr.ErrorForCode(c))
	}
	want := `{"partitions":{"0":[1,2,0]},"topic_id":"` + id + `","adding_replicas":{"0":[2]},"removing_replicas":{"0":[0]},"version":3}`
	if got := topicJSON(t, f.ctl.zk, "r"); got != want {
		t.Fatalf("topic znode %s, want %s", got, want)
	}
	waitState(t, f.ctl.zk, "r", 0, `{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":1,"isr":[0,1]}`)
	waitFor(t, 10*time.Second, func() error {
		_, ps := lastLeaderAndISR(f.brokers[2].fake, "r", 0)
		if ps == nil || !ps.IsNew || !reflect.DeepEqual(ps.Replicas, []int32{1, 2, 0}) || ps.Leader != 0 || ps.LeaderEpoch != 1 ||
			!reflect.DeepEqual(ps.AddingReplicas, []int32{2}) || !reflect.DeepEqual(ps.RemovingReplicas, []int32{0}) {
			return fmt.Errorf("new replica's LeaderAndIsr %+v", ps)
		}
		return nil
	})
	lr := listReassignments(t, ctl)
	if len(lr.Topics) != 1 || len(lr.Topics[0].Partitions) != 1 ||
		!reflect.DeepEqual(lr.Topics[0].Partitions[0].AddingReplicas, []int32{2}) || !reflect.DeepEqual(lr.Topics[0].Partitions[0].RemovingReplicas, []int32{0}) {
		t.Fatalf("list %+v", lr)
	}

	// Not complete while 2 is out of the ISR.
	if r := f.expandISR(t, ctl, []int32{0, 1}); r.ErrorCode != 0 {
		t.Fatalf("alter partition %d", r.ErrorCode)
	}
	if got := topicJSON(t, f.ctl.zk, "r"); got != want {
		t.Fatalf("completed too early: %s", got)
	}
	// 2 joins the ISR: phase B.
	if r := f.expandISR(t, ctl, []int32{0, 1, 2}); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("alter partition %+v", r)
	}
	want = `{"partitions":{"0":[1,2]},"topic_id":"` + id + `","adding_replicas":{},"removing_replicas":{},"version":3}`
	waitFor(t, 10*time.Second, func() error {
		if got := topicJSON(t, f.ctl.zk, "r"); got != want {
			return fmt.Errorf("topic znode %s", got)
		}
		return nil
	})
	waitState(t, f.ctl.zk, "r", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":2,"isr":[1,2]}`)
	waitFor(t, 10*time.Second, func() error {
		if !hasStopReplica(f.brokers[0].fake, "r", 0, true) {
			return errors.New("no StopReplica(delete) to the removed replica")
		}
		_, ps := lastLeaderAndISR(f.brokers[1].fake, "r", 0)
		if ps == nil || ps.Leader != 1 || !reflect.DeepEqual(ps.Replicas, []int32{1, 2}) || len(ps.AddingReplicas)+len(ps.RemovingReplicas) != 0 {
			return fmt.Errorf("new leader's LeaderAndIsr %+v", ps)
		}
		return nil
	})
	if lr := listReassignments(t, ctl); len(lr.Topics) != 0 {
		t.Fatalf("still listed: %+v", lr.Topics)
	}
	// Nothing left to cancel.
	if c := partitionCode(alterReassignments(t, ctl, "r", 0, nil)); c != kerr.NoReassignmentInProgress.Code {
		t.Fatalf("cancel after completion: %d", c)
	}
}

func TestReassignmentErrors(t *testing.T) {
	f := newReassignFixture(t)
	ctl := f.ctl.controller
	tests := []struct {
		name     string
		topic    string
		p        int32
		replicas []int32
		code     int16
	}{
		{"cancel nothing", "r", 0, nil, kerr.NoReassignmentInProgress.Code},
		{"duplicates", "r", 0, []int32{1, 1}, kerr.InvalidReplicaAssignment.Code},
		{"unknown broker", "r", 0, []int32{1, 7}, kerr.InvalidReplicaAssignment.Code},
		{"empty", "r", 0, []int32{}, kerr.InvalidReplicaAssignment.Code},
		{"unknown partition", "r", 3, []int32{1}, kerr.UnknownTopicOrPartition.Code},
		{"unknown topic", "nope", 0, []int32{1}, kerr.UnknownTopicOrPartition.Code},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c := partitionCode(alterReassignments(t, ctl, tc.topic, tc.p, tc.replicas)); c != tc.code {
				t.Fatalf("code %v, want %v", kerr.ErrorForCode(c), kerr.ErrorForCode(tc.code))
			}
		})
	}
	// A non-controller answers NOT_CONTROLLER.
	other := New(testConfig(5), f.ctl.zk, testLog(t))
	if c := alterReassignments(t, other, "r", 0, []int32{1, 2}).ErrorCode; c != kerr.NotController.Code {
		t.Fatalf("non-controller: %d", c)
	}
}

// TestReassignmentCancel starts r-0 → [1,2] and cancels it: the assignment
// goes back to ORS and the added replica is deleted. As in Kafka
// (updateCurrentReassignment's comment), ORS is RS − AR, so the original
// order is lost: [0,1] comes back as [1,0] with leader 0 unchanged.
func TestReassignmentCancel(t *testing.T) {
	f := newReassignFixture(t)
	ctl := f.ctl.controller
	if c := partitionCode(alterReassignments(t, ctl, "r", 0, []int32{1, 2})); c != 0 {
		t.Fatalf("alter: %d", c)
	}
	if c := partitionCode(alterReassignments(t, ctl, "r", 0, nil)); c != 0 {
		t.Fatalf("cancel: %d", c)
	}
	want := `{"partitions":{"0":[1,0]},"topic_id":"` + zkpaths.UUIDString(f.topicID) + `","adding_replicas":{},"removing_replicas":{},"version":3}`
	if got := topicJSON(t, f.ctl.zk, "r"); got != want {
		t.Fatalf("topic znode %s, want %s", got, want)
	}
	waitFor(t, 10*time.Second, func() error {
		if !hasStopReplica(f.brokers[2].fake, "r", 0, true) {
			return errors.New("no StopReplica(delete) to the cancelled replica")
		}
		return nil
	})
	st, _, err := f.ctl.zk.GetPartitionState("r", 0)
	if err != nil || st.Leader != 0 || !reflect.DeepEqual(st.ISR, []int32{0, 1}) {
		t.Fatalf("state %+v %v", st, err)
	}
	if lr := listReassignments(t, ctl); len(lr.Topics) != 0 {
		t.Fatalf("still listed: %+v", lr.Topics)
	}
}

// TestReassignmentZnodeAndFailover submits through /admin/reassign_partitions
// (Kafka's legacy tooling), kills the controller mid-way, and checks that
// the next controller resumes from the topic znode and completes it (R22).
func TestReassignmentZnodeAndFailover(t *testing.T) {
	f := newReassignFixture(t)
	standby := startBroker(t, f.chroot, 8, true)
	if _, err := f.ctl.zk.Create(zkpaths.ReassignPartitionsPath,
		zkpaths.EncodeReassignPartitions([]zkpaths.ReassignmentTarget{{Topic: "r", Partition: 0, Replicas: []int32{1, 2}}}), zkpaths.Persistent); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if got := topicJSON(t, f.ctl.zk, "r"); !strings.Contains(got, `"adding_replicas":{"0":[2]}`) {
			return fmt.Errorf("topic znode %s", got)
		}
		return nil
	})
	// The controller goes away; 8 takes over and resumes.
	f.ctl.stop()
	waitActive(t, standby)
	if lr := listReassignments(t, standby.controller); len(lr.Topics) != 1 {
		t.Fatalf("new controller does not list the reassignment: %+v", lr.Topics)
	}
	if r := f.expandISR(t, standby.controller, []int32{0, 1, 2}); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("alter partition %+v", r)
	}
	waitFor(t, 10*time.Second, func() error {
		if got := topicJSON(t, standby.zk, "r"); !strings.Contains(got, `"partitions":{"0":[1,2]}`) {
			return fmt.Errorf("topic znode %s", got)
		}
		if ok, _, err := standby.zk.Exists(zkpaths.ReassignPartitionsPath); err != nil || ok {
			return fmt.Errorf("/admin/reassign_partitions still there (%v)", err)
		}
		return nil
	})
	if _, err := standby.zk.Create(zkpaths.ReassignPartitionsPath,
		zkpaths.EncodeReassignPartitions([]zkpaths.ReassignmentTarget{{Topic: "nope", Partition: 0, Replicas: []int32{1}}}), zkpaths.Persistent); err != nil {
		t.Fatal(err)
	}
	// An entry that cannot start is dropped (and the empty znode deleted).
	waitFor(t, 10*time.Second, func() error {
		if _, _, err := standby.zk.Get(zkpaths.ReassignPartitionsPath); !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("znode still there: %v", err)
		}
		return nil
	})
}

// TestReassignmentBlocksTopicDeletion: a topic under reassignment is
// ineligible for deletion (Kafka's "topic reassignment in progress"): its
// replicas are not deleted until the reassignment completes, then the
// deletion goes on.
func TestReassignmentBlocksTopicDeletion(t *testing.T) {
	f := newReassignFixture(t)
	ctl := f.ctl.controller
	if c := partitionCode(alterReassignments(t, ctl, "r", 0, []int32{1, 2})); c != 0 {
		t.Fatalf("alter: %v", kerr.ErrorForCode(c))
	}
	if err := f.ctl.zk.CreateRecursive(zkpaths.DeleteTopicPath("r"), nil); err != nil {
		t.Fatal(err)
	}
	// Once the deletion is queued, the topic takes no new reassignment.
	waitFor(t, 10*time.Second, func() error {
		if c := partitionCode(alterReassignments(t, ctl, "r", 0, []int32{1, 2})); c != kerr.UnknownTopicOrPartition.Code {
			return fmt.Errorf("alter during deletion: %v", kerr.ErrorForCode(c))
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	if hasStopReplica(f.brokers[1].fake, "r", 0, true) {
		t.Fatal("replica deleted while the reassignment is in progress")
	}
	if ok, _, err := f.ctl.zk.Exists(zkpaths.TopicPath("r")); err != nil || !ok {
		t.Fatalf("topic znode gone during the reassignment (%v)", err)
	}
	if r := f.expandISR(t, ctl, []int32{0, 1, 2}); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("alter partition %+v", r)
	}
	waitFor(t, 10*time.Second, func() error {
		if ok, _, _ := f.ctl.zk.Exists(zkpaths.TopicPath("r")); ok {
			return errors.New("topic not deleted after the reassignment completed")
		}
		if !hasStopReplica(f.brokers[1].fake, "r", 0, true) || !hasStopReplica(f.brokers[2].fake, "r", 0, true) {
			return errors.New("target replicas not deleted")
		}
		return nil
	})
}

// TestReassignmentResumesOnBrokerStartup: a target broker that comes back
// resumes the reassignment (maybeResumeReassignments in onBrokerStartup):
// phase A runs again, bumping the leader epoch and sending LeaderAndIsr
// with AR to the new replica.
func TestReassignmentResumesOnBrokerStartup(t *testing.T) {
	f := newReassignFixture(t)
	ctl := f.ctl.controller
	if c := partitionCode(alterReassignments(t, ctl, "r", 0, []int32{1, 2})); c != 0 {
		t.Fatalf("alter: %v", kerr.ErrorForCode(c))
	}
	waitState(t, f.ctl.zk, "r", 0, `{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":1,"isr":[0,1]}`)
	f.brokers[2].zk.Close() // broker 2's registration goes away
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(f.brokers[0].fake); u == nil || len(u.LiveBrokers) != 3 {
			return errors.New("controller has not seen broker 2 leave")
		}
		return nil
	})
	b2 := startBroker(t, f.chroot, 2, false)
	waitState(t, f.ctl.zk, "r", 0, `{"controller_epoch":1,"leader":0,"version":1,"leader_epoch":2,"isr":[0,1]}`)
	waitFor(t, 10*time.Second, func() error {
		_, ps := lastLeaderAndISR(b2.fake, "r", 0)
		if ps == nil || ps.LeaderEpoch != 2 || !ps.IsNew || !reflect.DeepEqual(ps.AddingReplicas, []int32{2}) {
			return fmt.Errorf("restarted replica's LeaderAndIsr %+v", ps)
		}
		return nil
	})
}
