package coordinator

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// setISR makes the leader propose isr through AlterPartition and fails the
// test unless it is accepted.
func setISR(t *testing.T, ctl *Controller, leader *testBroker, topic string, p, leaderEpoch, partitionEpoch int32, isr []int32) {
	t.Helper()
	resp := alterPartition(t, ctl, alterReq{version: 1, broker: leader, topic: topic, partition: p,
		leaderEpoch: leaderEpoch, partitionEpoch: partitionEpoch, isr: isr}.build())
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AlterPartition %v for %s-%d: %+v", isr, topic, p, resp)
	}
}

// waitLeaderAndISR waits until f received a LeaderAndIsr for topic-p with
// the given leader and leader epoch, and returns its partition state.
func waitLeaderAndISR(t *testing.T, f *fakeBroker, topic string, p, leader, leaderEpoch int32) *kmsg.LeaderAndISRRequestTopicPartition {
	t.Helper()
	var got *kmsg.LeaderAndISRRequestTopicPartition
	waitFor(t, 15*time.Second, func() error {
		_, ps := lastLeaderAndISR(f, topic, p)
		if ps == nil || ps.Leader != leader || ps.LeaderEpoch != leaderEpoch {
			return fmt.Errorf("%s-%d: last LeaderAndIsr %+v, want leader %d epoch %d", topic, p, ps, leader, leaderEpoch)
		}
		got = ps
		return nil
	})
	return got
}

// TestBrokerFailureElection: when a broker dies, partitions it led get the
// first live replica in assignment order that is in the ISR (not the
// first in ISR order), the ISR shrinks to live members in its own order,
// partitions it followed lose it from the ISR, every leader epoch moves by
// one, and the survivors get LeaderAndIsr and UpdateMetadata with the dead
// broker as an offline replica.
func TestBrokerFailureElection(t *testing.T) {
	chroot := testChroot(t)
	ctl := startBroker(t, chroot, 9, true)
	waitActive(t, ctl)
	b1 := startBroker(t, chroot, 1, false)
	b2 := startBroker(t, chroot, 2, false)
	b3 := startBroker(t, chroot, 3, false)
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(b3.fake); u == nil || len(u.LiveBrokers) != 4 {
			return errors.New("controller has not seen every broker")
		}
		return nil
	})
	createTopic(t, ctl.zk, "fo", map[int32][]int32{0: {2, 3, 1}, 1: {3, 1, 2}, 2: {1, 3, 2}}, nil)
	waitState(t, ctl.zk, "fo", 0, `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,3,1]}`)
	// The ISR's order differs from the assignment's: [2,1,3].
	setISR(t, ctl.controller, b2, "fo", 0, 0, 0, []int32{2, 1})
	setISR(t, ctl.controller, b2, "fo", 0, 0, 1, []int32{2, 1, 3})

	b2.zk.Close()
	tests := []struct {
		p     int32
		state string
	}{
		{0, `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":1,"isr":[1,3]}`}, // 3 precedes 1 in the assignment
		{1, `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":1,"isr":[3,1]}`}, // follower removed
		{2, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":1,"isr":[1,3]}`}, // follower removed
	}
	for _, tc := range tests {
		waitState(t, ctl.zk, "fo", tc.p, tc.state)
	}
	for _, b := range []*testBroker{b1, b3} {
		ps := waitLeaderAndISR(t, b.fake, "fo", 0, 3, 1)
		if !reflect.DeepEqual(ps.ISR, []int32{1, 3}) || ps.ZKVersion != 3 || ps.IsNew {
			t.Errorf("broker %d: LeaderAndIsr %+v", b.id, ps)
		}
		waitLeaderAndISR(t, b.fake, "fo", 1, 3, 1)
		waitFor(t, 10*time.Second, func() error {
			for _, p := range []int32{0, 1} {
				if _, ps := lastUpdateMetadata(b.fake, "fo", p); ps == nil || !reflect.DeepEqual(ps.OfflineReplicas, []int32{2}) || ps.LeaderEpoch != 1 {
					return fmt.Errorf("broker %d p%d: UpdateMetadata %+v", b.id, p, ps)
				}
			}
			return nil
		})
	}
	if _, ps := lastLeaderAndISR(b2.fake, "fo", 0); ps != nil && ps.LeaderEpoch > 0 {
		t.Errorf("dead broker got LeaderAndIsr %+v", ps)
	}

	// Then 3 dies: 1 is the only ISR member left of both.
	b3.zk.Close()
	waitState(t, ctl.zk, "fo", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":2,"isr":[1]}`)
	waitState(t, ctl.zk, "fo", 1, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":2,"isr":[1]}`)
	waitState(t, ctl.zk, "fo", 2, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":2,"isr":[1]}`)
	waitFor(t, 10*time.Second, func() error {
		if _, ps := lastUpdateMetadata(b1.fake, "fo", 1); ps == nil || !reflect.DeepEqual(ps.OfflineReplicas, []int32{3, 2}) {
			return fmt.Errorf("UpdateMetadata %+v", ps)
		}
		return nil
	})
}

// TestOfflinePartition: the only ISR member dies. With
// unclean.leader.election.enable false (the default) the partition goes
// offline, leader -1 with the ISR keeping its last member, until that
// member returns and leads again; with the topic override true the live
// out-of-sync replica leads at once and the returning broker stays out of
// the ISR (it rejoins only through the leader's AlterPartition).
func TestOfflinePartition(t *testing.T) {
	tests := []struct {
		name        string
		configs     map[string]string
		afterDeath  string
		deathLeader int32
		afterReturn string
	}{
		{
			name:        "unclean false",
			afterDeath:  `{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":1,"isr":[1]}`,
			deathLeader: -1,
			afterReturn: `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":2,"isr":[1]}`,
		},
		{
			name:        "unclean true by topic override",
			configs:     map[string]string{"unclean.leader.election.enable": "true"},
			afterDeath:  `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`,
			deathLeader: 2,
			afterReturn: `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chroot := testChroot(t)
			ctl := startBroker(t, chroot, 9, true)
			waitActive(t, ctl)
			b1 := startBroker(t, chroot, 1, false)
			b2 := startBroker(t, chroot, 2, false)
			waitFor(t, 10*time.Second, func() error {
				if u, _ := lastUpdateMetadataAny(b2.fake); u == nil || len(u.LiveBrokers) != 3 {
					return errors.New("controller has not seen every broker")
				}
				return nil
			})
			createTopic(t, ctl.zk, "off", map[int32][]int32{0: {1, 2}}, tc.configs)
			waitState(t, ctl.zk, "off", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`)
			setISR(t, ctl.controller, b1, "off", 0, 0, 0, []int32{1})

			b1.zk.Close()
			waitState(t, ctl.zk, "off", 0, tc.afterDeath)
			ps := waitLeaderAndISR(t, b2.fake, "off", 0, tc.deathLeader, 1)
			if tc.deathLeader == -1 && !reflect.DeepEqual(ps.ISR, []int32{1}) {
				t.Errorf("offline LeaderAndIsr %+v", ps)
			}
			waitFor(t, 10*time.Second, func() error {
				if _, ps := lastUpdateMetadata(b2.fake, "off", 0); ps == nil || ps.Leader != tc.deathLeader || !reflect.DeepEqual(ps.OfflineReplicas, []int32{1}) {
					return fmt.Errorf("UpdateMetadata %+v", ps)
				}
				return nil
			})

			// Broker 1 comes back (a new session, a new broker epoch).
			back := startBroker(t, chroot, 1, false)
			waitState(t, ctl.zk, "off", 0, tc.afterReturn)
			var st zkpaths.PartitionState
			waitFor(t, 10*time.Second, func() error {
				var err error
				st, _, err = ctl.zk.GetPartitionState("off", 0)
				return err
			})
			ps = waitLeaderAndISR(t, back.fake, "off", 0, st.Leader, st.LeaderEpoch)
			l, _ := lastLeaderAndISR(back.fake, "off", 0)
			if l.BrokerEpoch != back.epoch || !reflect.DeepEqual(ps.Replicas, []int32{1, 2}) {
				t.Errorf("LeaderAndIsr to the returning broker: epoch %d (want %d) %+v", l.BrokerEpoch, back.epoch, ps)
			}
			waitFor(t, 10*time.Second, func() error {
				if _, ps := lastUpdateMetadata(b2.fake, "off", 0); ps == nil || ps.Leader != st.Leader || len(ps.OfflineReplicas) != 0 {
					return fmt.Errorf("UpdateMetadata %+v", ps)
				}
				return nil
			})
		})
	}
}

// TestBouncedBroker: a broker that re-registers between two reads of
// /brokers/ids (a new czxid, the same id) is handled as Kafka does: failure
// (leadership moves to another ISR member, it leaves the ISR) then
// start-up (LeaderAndIsr as a follower, with its new broker epoch).
func TestBouncedBroker(t *testing.T) {
	chroot := testChroot(t)
	ctl := startBroker(t, chroot, 9, true)
	waitActive(t, ctl)
	b1 := startBroker(t, chroot, 1, false)
	b2 := startBroker(t, chroot, 2, false)
	waitFor(t, 10*time.Second, func() error {
		if u, _ := lastUpdateMetadataAny(b2.fake); u == nil || len(u.LiveBrokers) != 3 {
			return errors.New("controller has not seen every broker")
		}
		return nil
	})
	createTopic(t, ctl.zk, "bounce", map[int32][]int32{0: {1, 2}}, nil)
	waitState(t, ctl.zk, "bounce", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`)

	// Delete and re-create the registration in one multi-op, so that the
	// controller can only see a new czxid under the same id.
	path := zkpaths.BrokerIDPath(1)
	data, _, err := b1.zk.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b1.zk.Multi(zkpaths.DeleteOp(path, zkpaths.AnyVersion), zkpaths.CreateOp(path, data, zkpaths.Ephemeral))
	if err != nil {
		t.Fatal(err)
	}
	_, stat, err := b1.zk.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = res
	newEpoch := stat.Czxid
	if newEpoch <= b1.epoch {
		t.Fatalf("czxid %d not above %d", newEpoch, b1.epoch)
	}
	waitState(t, ctl.zk, "bounce", 0, `{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":1,"isr":[2]}`)
	ps := waitLeaderAndISR(t, b1.fake, "bounce", 0, 2, 1)
	l, _ := lastLeaderAndISR(b1.fake, "bounce", 0)
	if l.BrokerEpoch != newEpoch || !reflect.DeepEqual(ps.ISR, []int32{2}) {
		t.Errorf("LeaderAndIsr to the bounced broker: broker epoch %d (want %d) %+v", l.BrokerEpoch, newEpoch, ps)
	}
	waitLeaderAndISR(t, b2.fake, "bounce", 0, 2, 1)
	// Its AlterPartition with the old broker epoch is stale; with the new one
	// it may rejoin.
	b1.epoch = newEpoch
	setISR(t, ctl.controller, b2, "bounce", 0, 1, 1, []int32{2, 1})
}
