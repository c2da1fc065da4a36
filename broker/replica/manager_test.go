package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/storage"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newManager(t *testing.T) (*Manager, *storage.Manager) {
	t.Helper()
	l := logrus.New()
	l.SetOutput(testWriter{t})
	log := logrus.NewEntry(l)
	logs, err := storage.OpenManager(storage.ManagerConfig{Dirs: []string{t.TempDir()}, DefaultLog: storage.DefaultLogConfig()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	m := NewManager(Config{BrokerID: 1, DefaultLogConfig: storage.DefaultLogConfig()}, logs, log)
	t.Cleanup(m.Close)
	return m, logs
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

func state(leader, leaderEpoch int32, isr ...int32) LeaderAndIsrPartition {
	return LeaderAndIsrPartition{Topic: "t", TopicID: [16]byte{7}, Partition: 0, Leader: leader, LeaderEpoch: leaderEpoch,
		PartitionEpoch: leaderEpoch, Replicas: []int32{1, 2}, ISR: isr}
}

func TestBecomeLeaderOrFollower(t *testing.T) {
	m, logs := newManager(t)
	for _, tc := range []struct {
		name            string
		controllerEpoch int32
		st              LeaderAndIsrPartition
		wantTop         error
		want            error
		wantLeader      bool
	}{
		{"new leader", 1, state(1, 0, 1), nil, nil, true},
		{"same epoch", 1, state(1, 0, 1), nil, kerr.StaleControllerEpoch, true},
		{"older controller", 0, state(1, 5, 1), kerr.StaleControllerEpoch, nil, true},
		{"follower", 2, state(2, 1, 2), nil, nil, false},
		{"older leader epoch", 2, state(1, 0, 1), nil, kerr.StaleControllerEpoch, false},
		{"leader again", 2, state(1, 2, 1), nil, nil, true},
		{"not a replica", 2, LeaderAndIsrPartition{Topic: "t", Partition: 0, Leader: 2, LeaderEpoch: 3, Replicas: []int32{2, 3}}, nil, kerr.UnknownTopicOrPartition, true},
		{"other topic id", 2, func() LeaderAndIsrPartition { s := state(1, 4, 1); s.TopicID = [16]byte{8}; return s }(), nil, kerr.InconsistentTopicID, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := m.BecomeLeaderOrFollower(tc.controllerEpoch, []LeaderAndIsrPartition{tc.st})
			if !errors.Is(err, tc.wantTop) || (err == nil && !errors.Is(errs[0], tc.want)) || (err == nil && tc.want == nil && errs[0] != nil) {
				t.Fatalf("got %v / %v, want %v / %v", err, errs, tc.wantTop, tc.want)
			}
			if p := m.Partition("t", 0); p == nil || p.State().IsLeader != tc.wantLeader {
				t.Fatalf("leader state")
			}
		})
	}
	if id, ok := logs.Get("t", 0).TopicID(); !ok || id != [16]byte{7} {
		t.Fatalf("partition.metadata topic id %x %v", id, ok)
	}
	if e := logs.Get("t", 0).LatestEpoch(); e != 2 {
		t.Fatalf("leader epoch cache latest %d, want 2", e)
	}
}

// TestHighWatermarkWaitsForISR is the seam for issue 4: with a follower in
// the ISR the high watermark waits for its fetch, and acks=all waits for it.
func TestHighWatermarkWaitsForISR(t *testing.T) {
	m, _ := newManager(t)
	if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 0, 1, 2)}); err != nil {
		t.Fatal(err)
	}
	res := m.AppendRecords("t", 0, batch("a", "b"), -1, time.Now())
	if res.Err != nil || res.Info.LastOffset != 1 {
		t.Fatalf("append %+v", res)
	}
	p := m.Partition("t", 0)
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("hw %d before the follower fetched", hw)
	}
	results := []AppendResult{res}
	m.WaitForAcks(context.Background(), 50*time.Millisecond, results)
	if !errors.Is(results[0].Err, kerr.RequestTimedOut) {
		t.Fatalf("acks=all without the follower: %v", results[0].Err)
	}

	done := make(chan error, 1)
	res2 := m.AppendRecords("t", 0, batch("c"), -1, time.Now())
	go func() {
		rs := []AppendResult{res2}
		m.WaitForAcks(context.Background(), 20*time.Second, rs)
		done <- rs[0].Err
	}()
	// The follower fetches from offset 3: it has everything.
	out := m.Fetch(context.Background(), FetchParams{ReplicaID: 2, MaxBytes: 1 << 20}, []FetchPartition{{Topic: "t", FetchOffset: 3, CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}})
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("acks=all after the follower caught up: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("acks=all not completed by the follower fetch")
	}
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("hw %d, want 3", hw)
	}
}

func TestStopReplicasDeletesUnhostedLog(t *testing.T) {
	m, logs := newManager(t)
	if _, err := logs.GetOrCreate("gone", 0, storage.DefaultLogConfig()); err != nil {
		t.Fatal(err)
	}
	errs, err := m.StopReplicas(1, []StopReplicaPartition{{Topic: "gone", Partition: 0, LeaderEpoch: -2, Delete: true}})
	if err != nil || errs[0] != nil {
		t.Fatalf("%v %v", err, errs)
	}
	if logs.Get("gone", 0) != nil {
		t.Fatal("log not deleted")
	}
	if _, err := m.StopReplicas(0, nil); !errors.Is(err, kerr.StaleControllerEpoch) {
		t.Fatalf("stale controller epoch: %v", err)
	}
}
