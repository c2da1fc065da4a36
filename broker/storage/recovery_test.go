package storage

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// copyDir copies a log directory (flat).
func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		tb.Fatal(err)
	}
	os.MkdirAll(to, 0o755)
	for _, e := range ents {
		src, _ := os.Open(filepath.Join(from, e.Name()))
		dst, _ := os.Create(filepath.Join(to, e.Name()))
		io.Copy(dst, src)
		src.Close()
		dst.Close()
	}
}

type batchExtent struct {
	base, next int64
	pos, end   int64 // byte range in the active segment
}

// TestCrashRecovery cuts or corrupts the active segment at random byte
// positions and reopens without the clean-shutdown marker: every batch that
// was complete before the damage survives, nothing after it, offsets stay
// contiguous and the rebuilt indexes are consistent.
func TestCrashRecovery(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 24 << 10
	cfg.IndexIntervalBytes = 512
	tmpl := filepath.Join(t.TempDir(), "t-0")
	l, err := openLog(tmpl, "t", 0, logOpenOptions{cfg: cfg, hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 80; i++ {
		b := makeBatch(t, batchSpec{records: 1 + rng.IntN(6), valueSize: rng.IntN(700), firstTs: testNow.UnixMilli() + int64(i), codec: int8(i % 5)})
		if _, err := l.AppendAsLeader(b, int32(i/20), testNow); err != nil {
			t.Fatal(err)
		}
	}
	act := l.active()
	activeBase, activeSize := act.base, act.size.Load()
	var exts []batchExtent
	for pos := int64(0); pos < activeSize; {
		bp, ok, err := act.scanFrom(pos, 0, activeSize, noVerify)
		if err != nil || !ok {
			t.Fatal("scan", err)
		}
		exts = append(exts, batchExtent{bp.base, bp.last + 1, bp.pos, bp.pos + bp.size})
		pos = bp.pos + bp.size
	}
	if len(exts) < 5 || l.NumSegments() < 2 {
		t.Fatalf("template too small: %d batches in the active segment, %d segments", len(exts), l.NumSegments())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	logName := segmentFileName(activeBase, logFileSuffix)

	for trial := 0; trial < 24; trial++ {
		pos := rng.Int64N(activeSize)
		corrupt := trial%2 == 1
		dir := filepath.Join(t.TempDir(), "t-0")
		copyDir(t, tmpl, dir)
		path := filepath.Join(dir, logName)
		// The crashed active segment's indexes were never trimmed: leave
		// preallocated zeros behind as a real crash would.
		os.Truncate(filepath.Join(dir, segmentFileName(activeBase, indexFileSuffix)), 4096)
		os.Truncate(filepath.Join(dir, segmentFileName(activeBase, timeIndexFileSuffix)), 4092)
		wantNext := activeBase
		if corrupt {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			var b [1]byte
			f.ReadAt(b[:], pos)
			b[0] ^= 0xff
			f.WriteAt(b[:], pos)
			f.Close()
			for _, e := range exts {
				// the leader epoch field is not covered by the CRC
				hit := pos >= e.pos && pos < e.end
				if hit && !(pos-e.pos >= batchOffLeaderEpoch && pos-e.pos < batchOffMagic) {
					break
				}
				wantNext = e.next
			}
		} else {
			os.Truncate(path, pos)
			for _, e := range exts {
				if e.end > pos {
					break
				}
				wantNext = e.next
			}
		}
		l2, err := openLog(dir, "t", 0, logOpenOptions{cfg: cfg, hadCleanShutdown: false, recoveryPoint: activeBase, logStartOffset: -1, logger: discardLogger()})
		if err != nil {
			t.Fatalf("trial %d (pos %d corrupt %v): %v", trial, pos, corrupt, err)
		}
		if l2.LogEndOffset() != wantNext {
			t.Fatalf("trial %d (pos %d corrupt %v): log end %d, want %d", trial, pos, corrupt, l2.LogEndOffset(), wantNext)
		}
		if _, next := readAll(t, l2); next != wantNext {
			t.Fatalf("trial %d: read up to %d, want %d", trial, next, wantNext)
		}
		checkIndexesConsistent(t, l2)
		// The log accepts appends at the recovered end.
		if _, err := l2.AppendAsLeader(makeBatch(t, batchSpec{records: 2, valueSize: 10, firstTs: 5000}), 9, testNow); err != nil {
			t.Fatal(err)
		}
		if _, next := readAll(t, l2); next != wantNext+2 {
			t.Fatalf("trial %d: after append next %d", trial, next)
		}
		l2.Close()
	}
}

// TestRecoverFromRecoveryPoint: segments before the recovery point are
// trusted, a damaged older segment is found by its index check, and a cut in
// a middle segment removes everything after it.
func TestRecoverMiddleSegment(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, dir, cfg, true)
	appendN(t, l, 40, 4, 200)
	segs := l.segments()
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	mid := segs[1]
	l.Close()
	// Cut the second segment in the middle of a batch.
	os.Truncate(filepath.Join(dir, segmentFileName(mid.base, logFileSuffix)), mid.size.Load()-100)
	l2 := openTestLog(t, dir, cfg, false) // recovery point 0: recover all
	if l2.NumSegments() != 2 {
		t.Fatalf("%d segments after recovery", l2.NumSegments())
	}
	_, next := readAll(t, l2)
	if next != l2.LogEndOffset() || next <= mid.base {
		t.Fatalf("next %d leo %d", next, l2.LogEndOffset())
	}
	checkIndexesConsistent(t, l2)
}

func TestCorruptIndexRebuiltAfterCleanShutdown(t *testing.T) {
	cfg := testConfig()
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, dir, cfg, true)
	appendN(t, l, 30, 4, 200)
	base := l.active().base
	l.Close()
	// Garbage in the active segment's offset index.
	os.WriteFile(filepath.Join(dir, segmentFileName(base, indexFileSuffix)), []byte("0123456789abcdef"), 0o644)
	l2 := openTestLog(t, dir, cfg, true)
	if l2.LogEndOffset() != 120 {
		t.Fatalf("leo %d", l2.LogEndOffset())
	}
	checkIndexesConsistent(t, l2)
	readAll(t, l2)
}
