package replica

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/storage"
)

// TestTruncationOffset is AbstractFetcherThread.getOffsetTruncationState,
// case by case (reference §5.5).
func TestTruncationOffset(t *testing.T) {
	// The follower's epochs: 1 from 0, 3 from 10, 5 from 20; LEO 30.
	local := func(e int32) (int32, int64) {
		switch {
		case e >= 5:
			if e == 5 {
				return 5, 30
			}
			return -1, -1
		case e >= 3:
			return 3, 20
		case e >= 1:
			return 1, 10
		default:
			return e, 0
		}
	}
	for _, tc := range []struct {
		name        string
		leaderEpoch int32
		leaderEnd   int64
		want        int64
	}{
		{"unknown offset: truncate to the high watermark", 2, -1, 12},
		{"old protocol (no epoch): min(end, LEO)", -1, 25, 25},
		{"same epoch, leader ends earlier", 5, 27, 27},
		{"same epoch, leader ends later", 5, 40, 30},
		{"follower lacks the leader's epoch: end of its own, ask again", 4, 25, 20},
		{"leader's epoch is the follower's middle one", 3, 15, 15},
		{"follower has nothing at or below", 7, 25, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncationOffset(tc.leaderEpoch, tc.leaderEnd, 30, 12, local); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestFetcherID(t *testing.T) {
	for _, tc := range []struct {
		tp   TopicPartition
		n    int
		want int
	}{
		// Java: abs(31 * "t".hashCode() + p) % n, "t".hashCode() = 116.
		{TopicPartition{"t", 0}, 1, 0},
		{TopicPartition{"t", 0}, 7, (31 * 116) % 7},
		{TopicPartition{"t", 5}, 7, (31*116 + 5) % 7},
		// "ab".hashCode() = 97*31+98 = 3105.
		{TopicPartition{"ab", 1}, 10, (31*3105 + 1) % 10},
	} {
		if got := fetcherID(tc.tp, tc.n); got != tc.want {
			t.Errorf("fetcherID(%v, %d) = %d, want %d", tc.tp, tc.n, got, tc.want)
		}
	}
}

func TestApplyTopicOverrides(t *testing.T) {
	base := storage.DefaultLogConfig()
	log := logrus.NewEntry(logrus.New())
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		check     func(c topicConfig) bool
	}{
		{"none", nil, func(c topicConfig) bool { return c.log == base && c.minInsync == 2 }},
		{"compact", map[string]string{"cleanup.policy": "compact"}, func(c topicConfig) bool { return c.log.CleanupPolicy == "compact" }},
		{"compact,delete", map[string]string{"cleanup.policy": "compact,delete"}, func(c topicConfig) bool { return c.log.CleanupPolicy == "compact,delete" }},
		{"bad policy ignored", map[string]string{"cleanup.policy": "shred"}, func(c topicConfig) bool { return c.log.CleanupPolicy == "delete" }},
		{"retention and segments", map[string]string{"retention.ms": "1000", "retention.bytes": "2048", "segment.bytes": "4096", "segment.ms": "60000", "max.message.bytes": "512"},
			func(c topicConfig) bool {
				return c.log.RetentionMs == 1000 && c.log.RetentionBytes == 2048 && c.log.SegmentBytes == 4096 && c.log.SegmentMs == 60000 && c.log.MaxMessageBytes == 512
			}},
		{"min.insync.replicas", map[string]string{"min.insync.replicas": "3"}, func(c topicConfig) bool { return c.minInsync == 3 }},
		{"bad number ignored", map[string]string{"retention.ms": "soon", "min.insync.replicas": "0"}, func(c topicConfig) bool { return c.log.RetentionMs == base.RetentionMs && c.minInsync == 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := applyTopicOverrides(base, 2, tc.overrides, log); !tc.check(c) {
				t.Fatalf("%+v", c)
			}
		})
	}
}

// TestTopicConfigOverridesApplied: a topic's overrides reach the log when it
// is opened by LeaderAndIsr (and LoadTopicConfigs applies them to logs found
// at start-up), min.insync.replicas included; a compacted log keeps its
// segments whatever retention says.
func TestTopicConfigOverridesApplied(t *testing.T) {
	m, logs := newManager(t)
	m.cfg.TopicConfig = func(topic string) (map[string]string, error) {
		return map[string]string{"cleanup.policy": "compact", "retention.ms": "1", "segment.bytes": "100", "min.insync.replicas": "2"}, nil
	}
	if _, err := logs.GetOrCreate("t", 0, storage.DefaultLogConfig()); err != nil {
		t.Fatal(err)
	}
	m.LoadTopicConfigs()
	if c := logs.Get("t", 0).Config(); c.CleanupPolicy != "compact" || c.RetentionMs != 1 {
		t.Fatalf("LoadTopicConfigs: %+v", c)
	}
	if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if res := m.AppendRecords("t", 0, batch("a"), -1, time.Now()); !errors.Is(res.Err, kerr.NotEnoughReplicas) {
		t.Fatalf("topic min.insync.replicas=2 with ISR [1]: %v", res.Err)
	}
	for i := 0; i < 5; i++ {
		if res := m.AppendRecords("t", 0, batch("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 1, time.Now().Add(-time.Hour)); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	l := logs.Get("t", 0)
	if l.NumSegments() < 3 {
		t.Fatalf("segment.bytes=100 not applied: %d segments", l.NumSegments())
	}
	before := l.NumSegments()
	if n, err := l.ApplyRetention(time.Now()); err != nil || n != 0 || l.NumSegments() != before || l.LogStartOffset() != 0 {
		t.Fatalf("retention deleted %d segments of a compacted log (%v)", n, err)
	}
}

// TestLeaderDivergingEpoch: the leader answers a follower's fetch with
// DivergingEpoch when its LastFetchedEpoch ends earlier on the leader, and
// does not record that fetch as the follower's LEO.
func TestLeaderDivergingEpoch(t *testing.T) {
	m, _ := newManager(t)
	if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if res := m.AppendRecords("t", 0, batch("a"), 1, time.Now()); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	// Epoch 3 starts at 3.
	if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 3, 1)}); err != nil {
		t.Fatal(err)
	}
	if res := m.AppendRecords("t", 0, batch("b"), 1, time.Now()); res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, tc := range []struct {
		name             string
		fetchOffset      int64
		lastFetchedEpoch int32
		diverging        bool
		epoch            int32
		end              int64
	}{
		{"epoch 1 past its end", 5, 1, true, 1, 3},
		{"epoch 1 at its end", 3, 1, false, 0, 0},
		{"epoch 2 unknown: end of epoch 1", 3, 2, true, 1, 3},
		{"latest epoch", 4, 3, false, 0, 0},
		{"no epoch", 2, -1, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := m.Fetch(context.Background(), FetchParams{ReplicaID: 2, MaxBytes: 1 << 20},
				[]FetchPartition{{Topic: "t", FetchOffset: tc.fetchOffset, CurrentLeaderEpoch: 3, MaxBytes: 1 << 20, HasLastFetchedEpoch: true, LastFetchedEpoch: tc.lastFetchedEpoch}})
			r := out[0]
			if r.Err != nil || r.Diverging != tc.diverging || (tc.diverging && (r.DivergingEpoch != tc.epoch || r.DivergingEndOffset != tc.end || len(r.Records) != 0)) {
				t.Fatalf("%+v", r)
			}
			epoch, end, err := m.LastOffsetForLeaderEpoch("t", 0, 3, tc.lastFetchedEpoch)
			if err != nil || (tc.diverging && (epoch != tc.epoch || end != tc.end)) {
				t.Fatalf("OffsetForLeaderEpoch(%d): %d %d %v", tc.lastFetchedEpoch, epoch, end, err)
			}
		})
	}
	// The zero value of FetchPartition carries no epoch (epoch 0 is real).
	if out := m.Fetch(context.Background(), FetchParams{ReplicaID: -1, MaxBytes: 1 << 20},
		[]FetchPartition{{Topic: "t", FetchOffset: 4, CurrentLeaderEpoch: -1, MaxBytes: 1 << 20}}); out[0].Err != nil || out[0].Diverging {
		t.Fatalf("fetch without LastFetchedEpoch: %+v", out[0])
	}
	p := m.Partition("t", 0)
	p.hwMu.Lock()
	leo := p.followers[2].logEndOffset
	p.hwMu.Unlock()
	if leo != 2 { // the last non-diverging fetch
		t.Fatalf("follower LEO %d, want 2", leo)
	}
	if _, _, err := m.LastOffsetForLeaderEpoch("t", 0, 2, 1); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("older current leader epoch: %v", err)
	}
	if _, _, err := m.LastOffsetForLeaderEpoch("t", 0, 4, 1); !errors.Is(err, kerr.UnknownLeaderEpoch) {
		t.Fatalf("newer current leader epoch: %v", err)
	}
}

// TestAlterPartitionResults: how the leader treats the controller's answer
// to its proposed ISR change (Kafka's handleAlterPartitionUpdate/Error).
func TestAlterPartitionResults(t *testing.T) {
	for _, tc := range []struct {
		name        string
		code        int16
		respEpoch   int32
		wantISR     []int32
		wantPending bool
		wantAwait   bool
		wantOutcome alterPartitionOutcome
	}{
		{"committed", 0, 1, []int32{1}, false, false, outcomeDone},
		{"other leader epoch ignored", 0, 0, []int32{1, 2}, true, false, outcomeDone},
		{"operation not attempted reverts", kerr.OperationNotAttempted.Code, 0, []int32{1, 2}, false, false, outcomeDone},
		{"fenced waits for LeaderAndIsr", kerr.FencedLeaderEpoch.Code, 0, []int32{1, 2}, true, true, outcomeDone},
		{"invalid update version waits for LeaderAndIsr", kerr.InvalidUpdateVersion.Code, 0, []int32{1, 2}, true, true, outcomeDone},
		{"other error resent", kerr.NotController.Code, 0, []int32{1, 2}, true, false, outcomeResend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newManager(t)
			if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 1, 1, 2)}); err != nil {
				t.Fatal(err)
			}
			p := m.Partition("t", 0)
			if !p.maybeShrinkISR(time.Now().Add(time.Hour)) {
				t.Fatal("no shrink proposed for a follower that never fetched")
			}
			change, leaderEpoch, partitionEpoch, ok := p.pendingForRequest()
			if !ok || leaderEpoch != 1 || partitionEpoch != 1 || !slices.Equal(change.newISR, []int32{1}) {
				t.Fatalf("pending %+v %d %d %v", change, leaderEpoch, partitionEpoch, ok)
			}
			if p.maybeShrinkISR(time.Now().Add(time.Hour)) {
				t.Fatal("a second change proposed while one is pending")
			}
			got := p.applyAlterPartitionResult(change, tc.code, tc.respEpoch, 2, []int32{1})
			s := p.State()
			p.hwMu.Lock()
			pending, await := p.pendingISR != nil, p.pendingISR != nil && p.pendingISR.awaitingLeaderAndIsr
			p.hwMu.Unlock()
			if got != tc.wantOutcome || !slices.Equal(s.ISR, tc.wantISR) || pending != tc.wantPending || await != tc.wantAwait {
				t.Fatalf("outcome %v ISR %v pending %v await %v", got, s.ISR, pending, await)
			}
			if _, _, _, ok := p.pendingForRequest(); ok != (tc.wantPending && !tc.wantAwait) {
				t.Fatalf("pendingForRequest %v", ok)
			}
			// A LeaderAndIsr replaces whatever is pending.
			if _, err := m.BecomeLeaderOrFollower(1, []LeaderAndIsrPartition{state(1, 2, 1, 2)}); err != nil {
				t.Fatal(err)
			}
			if _, _, _, ok := p.pendingForRequest(); ok {
				t.Fatal("pending change survived LeaderAndIsr")
			}
		})
	}
}
