package replica

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/storage"
)

// TestDynamicTopicConfig changes a topic's overrides and the broker
// defaults under a live leader: the log and min.insync.replicas follow
// without a new LeaderAndIsr.
func TestDynamicTopicConfig(t *testing.T) {
	var mu sync.Mutex
	overrides := map[string]map[string]string{}
	l := logrus.New()
	l.SetOutput(testWriter{t})
	log := logrus.NewEntry(l)
	logs, err := storage.OpenManager(storage.ManagerConfig{Dirs: []string{t.TempDir()}, DefaultLog: storage.DefaultLogConfig()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logs.Close() })
	m := NewManager(Config{BrokerID: 1, DefaultLogConfig: storage.DefaultLogConfig(), TopicConfig: func(topic string) (map[string]string, error) {
		mu.Lock()
		defer mu.Unlock()
		return overrides[topic], nil
	}}, logs, log)
	t.Cleanup(m.Close)
	st := state(1, 0, 1)
	st.Replicas = []int32{1}
	if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{st}); err != nil {
		t.Fatal(err)
	}
	produce := func() error {
		return m.AppendRecords("t", 0, batch("v"), -1, time.Now()).Err
	}
	if err := produce(); err != nil {
		t.Fatalf("acks=all with min.insync.replicas 1: %v", err)
	}

	mu.Lock()
	overrides["t"] = map[string]string{"min.insync.replicas": "2", "retention.ms": "1234", "segment.bytes": "5000"}
	mu.Unlock()
	m.ReloadTopicConfig("other")
	if err := produce(); err != nil {
		t.Fatalf("another topic's change applied here: %v", err)
	}
	m.ReloadTopicConfig("t")
	if err := produce(); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all with min.insync.replicas 2 and ISR [1]: got %v, want NOT_ENOUGH_REPLICAS", err)
	}
	if c := logs.Get("t", 0).Config(); c.RetentionMs != 1234 || c.SegmentBytes != 5000 {
		t.Fatalf("log config retention %d segment %d, want 1234 5000", c.RetentionMs, c.SegmentBytes)
	}

	// New broker defaults reach the keys without an override only.
	mu.Lock()
	overrides["t"] = map[string]string{"retention.ms": "1234"}
	mu.Unlock()
	d := storage.DefaultLogConfig()
	d.RetentionMs, d.SegmentBytes = 99, 7777
	m.SetBrokerDefaults(d, 1)
	if c := logs.Get("t", 0).Config(); c.RetentionMs != 1234 || c.SegmentBytes != 7777 {
		t.Fatalf("log config retention %d segment %d, want the override 1234 and the new default 7777", c.RetentionMs, c.SegmentBytes)
	}
	if err := produce(); err != nil {
		t.Fatalf("acks=all back at min.insync.replicas 1: %v", err)
	}
}

func TestDeleteRecordsOnLeader(t *testing.T) {
	m, logs := newManager(t)
	if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 0, 1, 2)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := m.AppendRecords("t", 0, batch("a", "b"), 1, time.Now()).Err; err != nil {
			t.Fatal(err)
		}
	}
	// Follower 2 has everything, so the high watermark is 8.
	p := m.Partition("t", 0)
	p.updateFollowerFetchState(2, 8, 0, 8, time.Now())
	if hw := p.HighWatermark(); hw != 8 {
		t.Fatalf("high watermark %d", hw)
	}
	if _, err := m.DeleteRecordsOnLeader("t", 0, 9); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("beyond the high watermark: %v", err)
	}
	off, err := m.DeleteRecordsOnLeader("t", 0, 6)
	if err != nil || off != 6 || logs.Get("t", 0).LogStartOffset() != 6 {
		t.Fatalf("delete before 6: %d %v", off, err)
	}
	// The follower still starts at 0: the low watermark waits for it.
	if low, err := m.LowWatermark("t", 0); err != nil || low != 0 {
		t.Fatalf("low watermark %d %v, want 0", low, err)
	}
	p.updateFollowerFetchState(2, 8, 6, 8, time.Now())
	if low, err := m.LowWatermark("t", 0); err != nil || low != 6 {
		t.Fatalf("low watermark %d %v, want 6", low, err)
	}
	if off, err := m.DeleteRecordsOnLeader("t", 0, DeleteRecordsHighWatermark); err != nil || off != 8 {
		t.Fatalf("delete to the high watermark: %d %v", off, err)
	}
}
