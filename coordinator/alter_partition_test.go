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

	"github.com/gregor-broker/gregor/zkpaths"
)

// alterReq builds an AlterPartition request for one partition; version 2+
// names the topic by id.
type alterReq struct {
	version        int16
	broker         *testBroker
	brokerID       int32 // when broker is nil
	brokerEpoch    int64 // when broker is nil
	topic          string
	topicID        zkpaths.UUID
	partition      int32
	leaderEpoch    int32
	partitionEpoch int32
	isr            []int32
}

func (a alterReq) build() *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = a.version
	req.BrokerID, req.BrokerEpoch = a.brokerID, a.brokerEpoch
	if a.broker != nil {
		req.BrokerID, req.BrokerEpoch = a.broker.id, a.broker.epoch
	}
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = a.topic, a.topicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = a.partition, a.leaderEpoch, a.partitionEpoch, a.isr
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// roundTrip encodes the request and decodes the answer with kmsg, as the
// wire would, so the fields a version cannot carry are dropped.
func alterPartition(t *testing.T, ctl *Controller, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	t.Helper()
	wire := kmsg.NewPtrAlterPartitionRequest()
	wire.Version = req.Version
	if err := wire.ReadFrom(req.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := ctl.AlterPartition(ctx, wire)
	out := kmsg.NewPtrAlterPartitionResponse()
	out.Version = req.Version
	if resp.Version != req.Version {
		t.Fatalf("response version %d, request %d", resp.Version, req.Version)
	}
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAlterPartition walks one partition through AlterPartition: every
// rejection Kafka's controller makes, accepted shrinks and expansions with
// the znode checked byte for byte and its version as the partition epoch,
// idempotent retries, and UpdateMetadata after each change. Steps depend
// on the ones before.
func TestAlterPartition(t *testing.T) {
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
	id := createTopic(t, ctl.zk, "isr", map[int32][]int32{0: {1, 2, 3}}, nil)
	waitState(t, ctl.zk, "isr", 0, `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2,3]}`)

	type step struct {
		name     string
		req      alterReq
		before   func(t *testing.T)
		top      int16
		code     int16
		isr      []int32 // answered ISR when code is 0
		epoch    int32   // answered partition epoch when code is 0
		znode    string  // the state znode afterwards ("" = not checked)
		zversion int32
	}
	v := func(r alterReq) alterReq {
		if r.version == 0 {
			r.version = 1
		}
		if r.topic == "" && r.version < 2 {
			r.topic = "isr"
		}
		return r
	}
	steps := []step{
		{name: "unknown broker", req: v(alterReq{brokerID: 7, brokerEpoch: 1, isr: []int32{1, 2}}), top: kerr.StaleBrokerEpoch.Code},
		{name: "stale broker epoch", req: v(alterReq{brokerID: 1, brokerEpoch: b1.epoch - 1, isr: []int32{1, 2}}), top: kerr.StaleBrokerEpoch.Code},
		{name: "unknown partition", req: v(alterReq{broker: b1, partition: 5, isr: []int32{1}}), code: kerr.UnknownTopicOrPartition.Code},
		{name: "unknown topic", req: v(alterReq{broker: b1, topic: "nope", isr: []int32{1}}), code: kerr.UnknownTopicOrPartition.Code},
		{name: "unknown topic id", req: alterReq{version: 2, broker: b1, topicID: zkpaths.NewUUID(), isr: []int32{1}}, code: kerr.UnknownTopicID.Code},
		{name: "fenced leader epoch", req: v(alterReq{broker: b1, leaderEpoch: -1, isr: []int32{1, 2}}), code: kerr.FencedLeaderEpoch.Code},
		{name: "newer leader epoch", req: v(alterReq{broker: b1, leaderEpoch: 3, isr: []int32{1, 2}}), code: kerr.NotController.Code},
		{name: "newer partition epoch", req: v(alterReq{broker: b1, partitionEpoch: 4, isr: []int32{1, 2}}), code: kerr.NotController.Code},
		{name: "not the leader", req: v(alterReq{broker: b2, isr: []int32{1, 2}}), code: kerr.NotLeaderForPartition.Code},
		{name: "shrink v0", req: alterReq{version: 0, topic: "isr", broker: b1, isr: []int32{1, 2}}, isr: []int32{1, 2}, epoch: 1,
			znode: `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`, zversion: 1},
		{name: "retry of the shrink", req: alterReq{version: 0, topic: "isr", broker: b1, isr: []int32{1, 2}}, isr: []int32{1, 2}, epoch: 1, zversion: 1},
		{name: "stale partition epoch", req: v(alterReq{broker: b1, isr: []int32{1}}), code: kerr.InvalidUpdateVersion.Code, zversion: 1},
		{name: "shrink v2 by topic id", req: alterReq{version: 2, broker: b1, topicID: id, partitionEpoch: 1, isr: []int32{1}}, isr: []int32{1}, epoch: 2,
			znode: `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`, zversion: 2},
		{name: "ineligible v1", req: v(alterReq{broker: b1, partitionEpoch: 2, isr: []int32{1, 3}}), code: kerr.OperationNotAttempted.Code, zversion: 2,
			before: func(t *testing.T) {
				// Broker 3 dies; it is not in the ISR, so only metadata changes.
				b3.zk.Close()
				waitFor(t, 15*time.Second, func() error {
					if _, p := lastUpdateMetadata(b1.fake, "isr", 0); p == nil || !reflect.DeepEqual(p.OfflineReplicas, []int32{3}) {
						return fmt.Errorf("offline replicas %+v", p)
					}
					return nil
				})
			}},
		{name: "ineligible v2", req: alterReq{version: 2, broker: b1, topicID: id, partitionEpoch: 2, isr: []int32{1, 3}}, code: kerr.IneligibleReplica.Code, zversion: 2},
		{name: "expand", req: v(alterReq{broker: b1, partitionEpoch: 2, isr: []int32{1, 2}}), isr: []int32{1, 2}, epoch: 3,
			znode: `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]}`, zversion: 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before(t)
			}
			resp := alterPartition(t, ctl.controller, s.req.build())
			if resp.ErrorCode != s.top {
				t.Fatalf("top-level error %d, want %d", resp.ErrorCode, s.top)
			}
			if s.top != 0 {
				if len(resp.Topics) != 0 {
					t.Fatalf("topics in an error response: %+v", resp.Topics)
				}
				return
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("response %+v", resp)
			}
			rt := resp.Topics[0]
			if s.req.version >= 2 && rt.TopidID != s.req.topicID || s.req.version < 2 && rt.Topic != s.req.topic {
				t.Errorf("response topic %q %x", rt.Topic, rt.TopidID)
			}
			rp := rt.Partitions[0]
			if rp.ErrorCode != s.code {
				t.Fatalf("partition error %d (%v), want %d", rp.ErrorCode, kerr.ErrorForCode(rp.ErrorCode), s.code)
			}
			if s.code == 0 {
				if rp.LeaderID != 1 || rp.LeaderEpoch != 0 || !reflect.DeepEqual(rp.ISR, s.isr) || rp.PartitionEpoch != s.epoch {
					t.Fatalf("answer %+v, want isr %v partition epoch %d", rp, s.isr, s.epoch)
				}
				// The live brokers learn the ISR and the partition epoch.
				waitFor(t, 10*time.Second, func() error {
					if _, p := lastUpdateMetadata(b2.fake, "isr", 0); p == nil || !reflect.DeepEqual(p.ISR, s.isr) || p.ZKVersion != s.epoch {
						return fmt.Errorf("UpdateMetadata %+v", p)
					}
					return nil
				})
			}
			data, stat, err := ctl.zk.Get(zkpaths.PartitionStatePath("isr", 0))
			if err != nil {
				t.Fatal(err)
			}
			if s.znode != "" && string(data) != s.znode {
				t.Errorf("znode %s, want %s", data, s.znode)
			}
			if stat.Version != s.zversion {
				t.Errorf("znode version %d, want %d", stat.Version, s.zversion)
			}
		})
	}

	// No LeaderAndIsr for ISR changes: the leader decided them.
	if _, p := lastLeaderAndISR(b2.fake, "isr", 0); p == nil || p.ZKVersion != 0 {
		t.Errorf("LeaderAndIsr after AlterPartition: %+v", p)
	}

	// A controller fenced by a newer epoch writes nothing and resigns.
	other := connect(t, chroot)
	if _, err := other.Set(zkpaths.ControllerEpochPath, zkpaths.EncodeControllerEpoch(5), zkpaths.AnyVersion); err != nil {
		t.Fatal(err)
	}
	resp := alterPartition(t, ctl.controller, alterReq{version: 1, broker: b1, topic: "isr", partitionEpoch: 3, isr: []int32{1}}.build())
	if resp.ErrorCode != kerr.NotController.Code {
		t.Fatalf("fenced controller answered %+v", resp)
	}
	if _, stat, _ := other.Get(zkpaths.PartitionStatePath("isr", 0)); stat.Version != 3 {
		t.Fatalf("fenced controller wrote the state (version %d)", stat.Version)
	}
	waitFor(t, 10*time.Second, func() error {
		if ctl.controller.IsActive() {
			return errors.New("still active")
		}
		return nil
	})
	if resp := alterPartition(t, ctl.controller, alterReq{version: 1, broker: b1, topic: "isr", partitionEpoch: 3, isr: []int32{1}}.build()); resp.ErrorCode != kerr.NotController.Code {
		t.Fatalf("inactive controller answered %+v", resp)
	}
}

// lastUpdateMetadataAny is the last UpdateMetadata a fake broker received.
func lastUpdateMetadataAny(f *fakeBroker) (*kmsg.UpdateMetadataRequest, bool) {
	reqs := f.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if u, ok := reqs[i].req.(*kmsg.UpdateMetadataRequest); ok {
			return u, true
		}
	}
	return nil, false
}
