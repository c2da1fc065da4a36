package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// idemBatch is an idempotent producer's batch of n records: producer id
// pid, epoch, first sequence seq, record timestamps from now.
func idemBatch(tb testing.TB, pid int64, epoch int16, seq int32, n int) []byte {
	tb.Helper()
	b := makeBatch(tb, batchSpec{records: n, valueSize: 16, firstTs: time.Now().UnixMilli(), producer: pid})
	binary.BigEndian.PutUint16(b[batchOffProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[batchOffBaseSequence:], uint32(seq))
	setBatchCRC(b)
	return b
}

// send is one produce of a sequence-rule case and what it must give.
type send struct {
	pid     int64
	epoch   int16
	seq     int32
	n       int
	wantErr error // nil: accepted
	dupOf   int   // >0: a duplicate of the dupOf-th send (1-based); nothing written
}

func TestProducerSequenceRules(t *testing.T) {
	tests := []struct {
		name  string
		sends []send
	}{
		{"in order", []send{{1, 0, 0, 1, nil, 0}, {1, 0, 1, 3, nil, 0}, {1, 0, 4, 2, nil, 0}}},
		{"resend of the last batch", []send{{1, 0, 0, 2, nil, 0}, {1, 0, 2, 2, nil, 0}, {1, 0, 2, 2, nil, 2}}},
		{"resend of the fifth latest batch", []send{
			{1, 0, 0, 1, nil, 0}, {1, 0, 1, 1, nil, 0}, {1, 0, 2, 1, nil, 0}, {1, 0, 3, 1, nil, 0}, {1, 0, 4, 1, nil, 0},
			{1, 0, 0, 1, nil, 1}}},
		{"resend of the sixth latest batch is out of order", []send{
			{1, 0, 0, 1, nil, 0}, {1, 0, 1, 1, nil, 0}, {1, 0, 2, 1, nil, 0}, {1, 0, 3, 1, nil, 0}, {1, 0, 4, 1, nil, 0}, {1, 0, 5, 1, nil, 0},
			{1, 0, 0, 1, ErrOutOfOrderSequence, 0}}},
		{"same first sequence, other length is not a duplicate", []send{{1, 0, 0, 2, nil, 0}, {1, 0, 0, 3, ErrOutOfOrderSequence, 0}}},
		{"gap", []send{{1, 0, 0, 1, nil, 0}, {1, 0, 2, 1, ErrOutOfOrderSequence, 0}}},
		{"lower epoch", []send{{1, 3, 0, 1, nil, 0}, {1, 2, 1, 1, ErrInvalidProducerEpoch, 0}}},
		{"epoch bump starts at 0", []send{{1, 0, 0, 5, nil, 0}, {1, 1, 0, 1, nil, 0}, {1, 1, 1, 1, nil, 0}}},
		{"epoch bump not at 0", []send{{1, 0, 0, 5, nil, 0}, {1, 1, 5, 1, ErrOutOfOrderSequence, 0}}},
		{"old epoch's batch is no duplicate after a bump", []send{{1, 0, 0, 1, nil, 0}, {1, 1, 0, 1, nil, 0}, {1, 0, 0, 1, ErrInvalidProducerEpoch, 0}}},
		{"unknown producer at any sequence (KIP-360)", []send{{1, 0, 42, 1, nil, 0}, {1, 0, 43, 1, nil, 0}, {1, 0, 45, 1, ErrOutOfOrderSequence, 0}}},
		{"producers are independent", []send{{1, 0, 0, 1, nil, 0}, {2, 0, 0, 1, nil, 0}, {2, 0, 0, 1, nil, 2}, {1, 0, 1, 1, nil, 0}}},
		{"wraparound to 0", []send{{1, 0, math.MaxInt32 - 1, 2, nil, 0}, {1, 0, 0, 1, nil, 0}}},
		{"batch across the wrap", []send{{1, 0, math.MaxInt32 - 1, 1, nil, 0}, {1, 0, math.MaxInt32, 3, nil, 0}, {1, 0, math.MaxInt32, 3, nil, 2}, {1, 0, 2, 1, nil, 0}}},
		{"no wrap below MaxInt32", []send{{1, 0, math.MaxInt32 - 5, 1, nil, 0}, {1, 0, 0, 1, ErrOutOfOrderSequence, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openTestLog(t, filepath.Join(t.TempDir(), "t-0"), testConfig(), true)
			firsts := make([]int64, len(tt.sends))
			for i, s := range tt.sends {
				leo := l.LogEndOffset()
				info, err := l.AppendAsLeader(idemBatch(t, s.pid, s.epoch, s.seq, s.n), 0, time.Now())
				switch {
				case s.wantErr != nil:
					if !errors.Is(err, s.wantErr) {
						t.Fatalf("send %d: error %v, want %v", i+1, err, s.wantErr)
					}
				case err != nil:
					t.Fatalf("send %d: %v", i+1, err)
				case s.dupOf > 0:
					if !info.Duplicate || info.FirstOffset != firsts[s.dupOf-1] || info.LastOffset != info.FirstOffset+int64(s.n-1) {
						t.Fatalf("send %d: %+v, want a duplicate at %d", i+1, info, firsts[s.dupOf-1])
					}
				default:
					if info.Duplicate || info.FirstOffset != leo {
						t.Fatalf("send %d: %+v, want a write at %d", i+1, info, leo)
					}
				}
				if (err != nil || s.dupOf > 0) && l.LogEndOffset() != leo {
					t.Fatalf("send %d: log end moved from %d to %d for a refused or duplicate batch", i+1, leo, l.LogEndOffset())
				}
				firsts[i] = info.FirstOffset
			}
		})
	}
}

func TestProducerSnapshotLayout(t *testing.T) {
	producers := map[int64]*producerStateEntry{
		9: {producerID: 9, epoch: 2, coordinatorEpoch: -1, lastTimestamp: 1700000000123, currentTxnFirstOffset: -1,
			batches: []batchMetadata{{lastSeq: 3, lastOffset: 10, offsetDelta: 1, timestamp: 1}, {lastSeq: 7, lastOffset: 20, offsetDelta: 3, timestamp: 1700000000123}}},
		4: {producerID: 4, epoch: 0, coordinatorEpoch: -1, lastTimestamp: 5, currentTxnFirstOffset: -1},
	}
	got := encodeProducerSnapshot(producers)

	// Built field by field from ProducerSnapshot.json v1: entries sorted by
	// producer id; only the last batch of each producer is kept.
	be := binary.BigEndian
	var want []byte
	want = be.AppendUint16(want, 1)
	want = be.AppendUint32(want, 0) // crc, below
	want = be.AppendUint32(want, 2)
	entry := func(pid int64, epoch int16, lastSeq int32, lastOffset int64, delta int32, ts int64) {
		want = be.AppendUint64(want, uint64(pid))
		want = be.AppendUint16(want, uint16(epoch))
		want = be.AppendUint32(want, uint32(lastSeq))
		want = be.AppendUint64(want, uint64(lastOffset))
		want = be.AppendUint32(want, uint32(delta))
		want = be.AppendUint64(want, uint64(ts))
		want = be.AppendUint32(want, math.MaxUint32) // coordinator epoch -1
		want = be.AppendUint64(want, math.MaxUint64) // no transaction: -1
	}
	entry(4, 0, -1, -1, 0, 5)
	entry(9, 2, 7, 20, 3, 1700000000123)
	be.PutUint32(want[2:], crc32.Checksum(want[6:], crc32.MakeTable(crc32.Castagnoli)))
	if !bytes.Equal(got, want) {
		t.Fatalf("snapshot bytes\n got %x\nwant %x", got, want)
	}
	if len(got) != 10+2*46 {
		t.Fatalf("%d bytes, want %d", len(got), 10+2*46)
	}

	entries, err := decodeProducerSnapshot(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].producerID != 4 || len(entries[0].batches) != 0 || entries[0].epoch != 0 ||
		entries[1].producerID != 9 || entries[1].epoch != 2 || len(entries[1].batches) != 1 ||
		entries[1].batches[0] != (batchMetadata{lastSeq: 7, lastOffset: 20, offsetDelta: 3, timestamp: 1700000000123}) {
		t.Fatalf("round trip: %+v %+v", *entries[0], *entries[1])
	}

	for _, bad := range []struct {
		name string
		b    []byte
	}{
		{"short", got[:8]},
		{"flipped byte", func() []byte { b := bytes.Clone(got); b[20] ^= 1; return b }()},
		{"version 2", func() []byte { b := bytes.Clone(got); b[1] = 2; return b }()},
		{"torn entry", got[:len(got)-3]},
	} {
		if _, err := decodeProducerSnapshot(bad.b); !errors.Is(err, errCorruptSnapshot) {
			t.Errorf("%s: %v, want errCorruptSnapshot", bad.name, err)
		}
	}
}

// appendIdem appends n one-record batches of producer pid from sequence
// seq and returns their offsets.
func appendIdem(t *testing.T, l *Log, pid int64, seq int32, n int) []int64 {
	t.Helper()
	var offs []int64
	for i := 0; i < n; i++ {
		info, err := l.AppendAsLeader(idemBatch(t, pid, 0, seq+int32(i), 1), 0, time.Now())
		if err != nil || info.Duplicate {
			t.Fatalf("append seq %d: %+v %v", seq+int32(i), info, err)
		}
		offs = append(offs, info.FirstOffset)
	}
	return offs
}

// expectDup resends producer pid's one-record batch seq and wants it
// answered at offset without a write.
func expectDup(t *testing.T, l *Log, pid int64, seq int32, offset int64) {
	t.Helper()
	leo := l.LogEndOffset()
	info, err := l.AppendAsLeader(idemBatch(t, pid, 0, seq, 1), 0, time.Now())
	if err != nil || !info.Duplicate || info.FirstOffset != offset || l.LogEndOffset() != leo {
		t.Fatalf("resend of seq %d: %+v %v (log end %d → %d), want a duplicate at %d", seq, info, err, leo, l.LogEndOffset(), offset)
	}
}

func snapshotFiles(t *testing.T, dir string) []int64 {
	t.Helper()
	offs, err := listProducerSnapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

func TestProducerSnapshotsAtRollAndClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, dir, testConfig(), true)
	appendIdem(t, l, 7, 0, 3)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	offs := appendIdem(t, l, 7, 3, 2)
	if got := snapshotFiles(t, dir); len(got) != 1 || got[0] != 3 {
		t.Fatalf("snapshots after a roll at 3: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000003.snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := snapshotFiles(t, dir); len(got) != 2 || got[1] != 5 {
		t.Fatalf("snapshots after a clean close at 5: %v", got)
	}
	l = openTestLog(t, dir, testConfig(), true)
	// From the snapshot only the last batch is remembered (as in Kafka).
	expectDup(t, l, 7, 4, offs[1])
	if info, err := l.AppendAsLeader(idemBatch(t, 7, 0, 6, 1), 0, time.Now()); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap after reopen: %+v %v", info, err)
	}
	appendIdem(t, l, 7, 5, 1)
}

// A crash with no snapshot since the last roll: the state is rebuilt from
// the snapshot at the roll plus the batches after it, so the last five
// batches are still de-duplicated.
func TestProducerStateRebuiltAfterCrash(t *testing.T) {
	for _, withRoll := range []bool{true, false} {
		name := "no snapshot at all"
		if withRoll {
			name = "snapshot at the last roll"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "t-0")
			l, err := openLog(dir, "t", 0, logOpenOptions{cfg: testConfig(), hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			appendIdem(t, l, 3, 0, 4)
			if withRoll {
				if err := l.Roll(); err != nil {
					t.Fatal(err)
				}
			}
			offs := appendIdem(t, l, 3, 4, 6)
			appendIdem(t, l, 8, 100, 2)
			if err := l.close(false, false); err != nil { // kill -9: no flush, no snapshot
				t.Fatal(err)
			}
			wantSnaps := 0
			if withRoll {
				wantSnaps = 1
			}
			if got := snapshotFiles(t, dir); len(got) != wantSnaps {
				t.Fatalf("snapshots before the restart: %v", got)
			}
			l = openTestLog(t, dir, testConfig(), false)
			for i := 1; i < 6; i++ {
				expectDup(t, l, 3, int32(4+i), offs[i])
			}
			if _, err := l.AppendAsLeader(idemBatch(t, 3, 0, 4, 1), 0, time.Now()); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("sixth latest batch after the rebuild: %v, want out of order", err)
			}
			appendIdem(t, l, 3, 10, 1)
			appendIdem(t, l, 8, 102, 1)
		})
	}
}

// Truncation (a follower's divergence) reloads the state from the nearest
// snapshot at or below the new end and deletes the snapshots above it.
func TestProducerStateAfterTruncation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, dir, testConfig(), true)
	a := appendIdem(t, l, 5, 0, 3) // offsets 0-2
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	b := appendIdem(t, l, 5, 3, 3) // 3-5
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	appendIdem(t, l, 5, 6, 3) // 6-8
	if got := snapshotFiles(t, dir); len(got) != 2 || got[0] != 3 || got[1] != 6 {
		t.Fatalf("snapshots: %v", got)
	}
	if err := l.TruncateTo(5); err != nil { // keeps seq 0-4 at offsets 0-4
		t.Fatal(err)
	}
	if got := snapshotFiles(t, dir); len(got) != 1 || got[0] != 3 {
		t.Fatalf("snapshots after truncation to 5: %v, want [3]", got)
	}
	expectDup(t, l, 5, 4, b[1])
	expectDup(t, l, 5, 2, a[2]) // remembered from the snapshot at 3
	// seq 5 was truncated away: its resend is a new write, at offset 5.
	info, err := l.AppendAsLeader(idemBatch(t, 5, 0, 5, 1), 0, time.Now())
	if err != nil || info.Duplicate || info.FirstOffset != 5 {
		t.Fatalf("seq 5 after truncation: %+v %v", info, err)
	}

	if err := l.TruncateFullyAndStartAt(100); err != nil {
		t.Fatal(err)
	}
	if got := snapshotFiles(t, dir); len(got) != 0 {
		t.Fatalf("snapshots after a full truncation: %v", got)
	}
	// The producer is unknown now: any sequence is accepted.
	appendIdem(t, l, 5, 50, 1)
}

// A follower applies the leader's batches to its producer state, so when
// it becomes leader a retry is de-duplicated.
func TestFollowerProducerStateDeduplicatesAsLeader(t *testing.T) {
	leader := openTestLog(t, filepath.Join(t.TempDir(), "t-0"), testConfig(), true)
	follower := openTestLog(t, filepath.Join(t.TempDir(), "t-0"), testConfig(), true)
	offs := appendIdem(t, leader, 11, 0, 7)
	ri, err := leader.Read(0, 1<<20, math.MaxInt64, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.AppendAsFollower(ri.Records); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 7; i++ {
		expectDup(t, follower, 11, int32(i), offs[i])
	}
	if _, err := follower.AppendAsLeader(idemBatch(t, 11, 0, 9, 1), 1, time.Now()); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap on the new leader: %v", err)
	}
}

func TestProducerExpiration(t *testing.T) {
	cfg := testConfig()
	cfg.ProducerIDExpirationMs = 60000
	l := openTestLog(t, filepath.Join(t.TempDir(), "t-0"), cfg, true)
	appendIdem(t, l, 2, 0, 2)
	if n := l.RemoveExpiredProducers(time.Now()); n != 0 {
		t.Fatalf("removed %d producers before they expired", n)
	}
	if _, err := l.AppendAsLeader(idemBatch(t, 2, 0, 9, 1), 0, time.Now()); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap before expiry: %v", err)
	}
	if n := l.RemoveExpiredProducers(time.Now().Add(2 * time.Minute)); n != 1 {
		t.Fatalf("removed %d producers, want 1", n)
	}
	appendIdem(t, l, 2, 9, 1) // unknown again: accepted at any sequence
}

// Retention and DeleteRecords delete the snapshots of the segments they
// remove, keeping the one at the new first segment.
func TestProducerSnapshotsFollowLogStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, dir, testConfig(), true)
	for i := int32(0); i < 4; i++ {
		appendIdem(t, l, 1, i*2, 2)
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
	}
	if got := snapshotFiles(t, dir); len(got) != 4 {
		t.Fatalf("snapshots: %v", got)
	}
	if err := l.DeleteRecordsBefore(5); err != nil {
		t.Fatal(err)
	}
	if got := snapshotFiles(t, dir); len(got) != 3 || got[0] != 4 {
		t.Fatalf("snapshots after the log start moved to 5: %v, want from 4", got)
	}
	// The producer survives the log start move (until it expires).
	expectDup(t, l, 1, 7, 7)
}
