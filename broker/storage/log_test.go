package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestAppendAsLeader(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), true)
	b := makeBatch(t, batchSpec{records: 4, valueSize: 20, firstTs: 5000})
	info, err := l.AppendAsLeader(b, 7, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := AppendInfo{FirstOffset: 0, LastOffset: 3, NumRecords: 4, MaxTimestamp: 5003, LogAppendTime: -1, LogStartOffset: 0}
	if info != want {
		t.Fatalf("info %+v, want %+v", info, want)
	}
	b2 := makeBatch(t, batchSpec{records: 2, valueSize: 20, firstTs: 6000})
	info, err = l.AppendAsLeader(b2, 7, testNow)
	if err != nil || info.FirstOffset != 4 || info.LastOffset != 5 {
		t.Fatalf("second append %+v %v", info, err)
	}
	if batchBaseOffset(b2) != 4 || int32(binary.BigEndian.Uint32(b2[batchOffLeaderEpoch:])) != 7 || !batchCRCValid(b2) {
		t.Fatal("base offset / epoch not rewritten in place, or CRC broken")
	}
	if l.LogEndOffset() != 6 || l.LatestEpoch() != 7 {
		t.Fatalf("leo %d epoch %d", l.LogEndOffset(), l.LatestEpoch())
	}
	// A bad batch after a good one: nothing written.
	size := l.Size()
	bad := append(makeBatch(t, batchSpec{records: 1, valueSize: 1}), makeBatch(t, batchSpec{records: 1, valueSize: 1})...)
	bad[len(bad)-1] ^= 0xff
	if _, err := l.AppendAsLeader(bad, 7, testNow); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("want ErrCorruptBatch, got %v", err)
	}
	if l.Size() != size || l.LogEndOffset() != 6 {
		t.Fatal("a failed append wrote something")
	}
	if batchBaseOffset(bad) != 0 {
		t.Fatal("a failed append modified its input")
	}
}

func TestAppendLogAppendTime(t *testing.T) {
	cfg := testConfig()
	cfg.MessageTimestampType = "LogAppendTime"
	l := openTestLog(t, t.TempDir(), cfg, true)
	b := makeBatch(t, batchSpec{records: 3, valueSize: 5, firstTs: 1})
	info, err := l.AppendAsLeader(b, 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if info.LogAppendTime != testNow.UnixMilli() || info.MaxTimestamp != testNow.UnixMilli() {
		t.Fatalf("info %+v", info)
	}
	ri, err := l.Read(0, 1<<20, math.MaxInt64, true)
	if err != nil {
		t.Fatal(err)
	}
	h := readBatchHeader(ri.Records)
	if h.Attributes&attrTimestampType == 0 || h.MaxTimestamp != testNow.UnixMilli() || !batchCRCValid(ri.Records) {
		t.Fatalf("header %+v crc ok %v", h, batchCRCValid(ri.Records))
	}
	if off, ts, ok := l.OffsetForTimestamp(testNow.UnixMilli()); !ok || off != 0 || ts != testNow.UnixMilli() {
		t.Fatalf("offset for timestamp: %d %d %v", off, ts, ok)
	}
}

func TestAppendFixesMaxTimestamp(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), true)
	b := makeBatch(t, batchSpec{records: 3, valueSize: 5, firstTs: 100})
	binary.BigEndian.PutUint64(b[batchOffMaxTimestamp:], 1)
	setBatchCRC(b)
	info, err := l.AppendAsLeader(b, 0, testNow)
	if err != nil || info.MaxTimestamp != 102 || batchMaxTimestamp(b) != 102 || !batchCRCValid(b) {
		t.Fatalf("info %+v err %v max %d", info, err, batchMaxTimestamp(b))
	}
}

func TestAppendAsFollower(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), true)
	b := makeBatch(t, batchSpec{records: 3, valueSize: 10, firstTs: 10})
	tests := []struct {
		name    string
		in      []byte
		err     error
		wantLEO int64
	}{
		{"first", append(withBase(b, 0, 1), withBase(b, 3, 1)...), nil, 6},
		{"gap from log end", withBase(b, 7, 1), ErrNotContiguous, 6},
		{"behind log end", withBase(b, 5, 1), ErrNotContiguous, 6},
		{"new epoch", withBase(b, 6, 3), nil, 9},
		{"corrupt", func() []byte { x := withBase(b, 9, 3); x[100] ^= 1; return x }(), ErrCorruptBatch, 9},
		{"empty", nil, nil, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.AppendAsFollower(tc.in)
			if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("want %v, got %v", tc.err, err)
			}
			if l.LogEndOffset() != tc.wantLEO {
				t.Fatalf("leo %d, want %d", l.LogEndOffset(), tc.wantLEO)
			}
		})
	}
	if e, off := l.EndOffsetForEpoch(1); e != 1 || off != 6 {
		t.Fatalf("end offset for epoch 1: %d %d", e, off)
	}
}

func TestRead(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	appendN(t, l, 40, 5, 100) // 40 batches of 5 records, ~700 bytes each, several segments
	if l.NumSegments() < 3 {
		t.Fatalf("want several segments, got %d", l.NumSegments())
	}
	batchSize := int32(len(makeBatch(t, batchSpec{records: 5, valueSize: 100})))
	tests := []struct {
		name        string
		offset      int64
		maxBytes    int32
		maxOffset   int64
		minOne      bool
		wantFirst   int64 // base offset of the first batch, -1 for empty
		wantBatches int   // -1: any
		err         error
	}{
		{"start", 0, batchSize, math.MaxInt64, false, 0, 1, nil},
		{"inside a batch", 7, batchSize * 2, math.MaxInt64, false, 5, 2, nil},
		{"partial batch excluded", 0, batchSize*2 + 10, math.MaxInt64, false, 0, 2, nil},
		{"too small without minOne", 0, 10, math.MaxInt64, false, -1, 0, nil},
		{"too small with minOne", 12, 10, math.MaxInt64, true, 10, 1, nil},
		{"max offset exclusive", 0, 1 << 20, 15, false, 0, 3, nil},
		{"max offset inside a batch", 0, 1 << 20, 13, false, 0, 3, nil},
		{"offset at max offset", 15, 1 << 20, 15, true, -1, 0, nil},
		{"log end", 200, 1 << 20, math.MaxInt64, true, -1, 0, nil},
		{"past log end", 201, 1 << 20, math.MaxInt64, true, -1, 0, ErrOffsetOutOfRange},
		{"negative", -1, 1 << 20, math.MaxInt64, true, -1, 0, ErrOffsetOutOfRange},
		{"last batch", 199, 1 << 20, math.MaxInt64, false, 195, 1, nil},
		{"segment boundary", 100, 1 << 20, math.MaxInt64, false, 100, -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ri, err := l.Read(tc.offset, tc.maxBytes, tc.maxOffset, tc.minOne)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("want %v, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantFirst < 0 {
				if ri.Size != 0 || len(ri.Records) != 0 {
					t.Fatalf("want empty, got %d bytes", ri.Size)
				}
				return
			}
			if int(ri.Size) != len(ri.Records) || ri.File == nil {
				t.Fatalf("size %d, records %d", ri.Size, len(ri.Records))
			}
			// The view and the bytes agree.
			view := make([]byte, ri.Size)
			if _, err := ri.File.ReadAt(view, ri.Position); err != nil || !bytes.Equal(view, ri.Records) {
				t.Fatalf("file view differs from records: %v", err)
			}
			n := 0
			for p := 0; p < len(ri.Records); n++ {
				size, err := batchFraming(ri.Records[p:])
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 && batchBaseOffset(ri.Records) != tc.wantFirst {
					t.Fatalf("first batch %d, want %d", batchBaseOffset(ri.Records), tc.wantFirst)
				}
				p += size
			}
			if tc.wantBatches >= 0 && n != tc.wantBatches {
				t.Fatalf("%d batches, want %d", n, tc.wantBatches)
			}
		})
	}
	if bases, next := readAll(t, l); len(bases) != 40 || next != 200 {
		t.Fatalf("readAll: %d batches, next %d", len(bases), next)
	}
}

func TestRollAndFileNames(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*LogConfig)
		now    func(i int) time.Time
	}{
		{"segment.bytes", func(c *LogConfig) { c.SegmentBytes = 4 << 10 }, func(int) time.Time { return testNow }},
		{"segment.ms", func(c *LogConfig) { c.SegmentMs = 1000 }, func(i int) time.Time { return testNow.Add(time.Duration(i) * 600 * time.Millisecond) }},
		{"index full", func(c *LogConfig) { c.IndexMaxBytes = 48; c.IndexIntervalBytes = 0 }, func(int) time.Time { return testNow }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(&cfg)
			dir := t.TempDir()
			l := openTestLog(t, dir, cfg, true)
			for i := 0; i < 30; i++ {
				// timestamps move with the clock so segment.ms sees time pass
				b := makeBatch(t, batchSpec{records: 2, valueSize: 400, firstTs: tc.now(i).UnixMilli()})
				if _, err := l.AppendAsLeader(b, 0, tc.now(i)); err != nil {
					t.Fatal(err)
				}
			}
			if l.NumSegments() < 3 {
				t.Fatalf("%d segments", l.NumSegments())
			}
			for _, s := range l.segments() {
				for _, suf := range []string{".log", ".index", ".timeindex"} {
					name := filepath.Join(dir, segmentFileName(s.base, suf))
					if _, err := os.Stat(name); err != nil {
						t.Fatal(err)
					}
					if len(filepath.Base(name)) != 20+len(suf) {
						t.Fatalf("name %s", name)
					}
				}
			}
			if bases, next := readAll(t, l); len(bases) != 30 || next != 60 {
				t.Fatalf("%d batches, next %d", len(bases), next)
			}
		})
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	t0 := testNow.UnixMilli()
	// batch i has records with timestamps t0+1000+10*i .. +4
	for i := 0; i < 30; i++ {
		codec := int8(i % 5)
		b := makeBatch(t, batchSpec{records: 5, valueSize: 100, firstTs: t0 + 1000 + 10*int64(i), codec: codec})
		if _, err := l.AppendAsLeader(b, 0, testNow); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ts      int64
		off     int64
		foundTs int64
		found   bool
	}{
		{-t0, 0, 1000, true},
		{1000, 0, 1000, true},
		{1003, 3, 1003, true},
		{1005, 5, 1010, true},
		{1142, 72, 1142, true},
		{1294, 149, 1294, true},
		{1295, 0, 0, false},
	}
	for _, tc := range tests {
		off, ts, ok := l.OffsetForTimestamp(t0 + tc.ts)
		ts -= t0
		if ok != tc.found || (ok && (off != tc.off || ts != tc.foundTs)) {
			t.Errorf("ts %d: got (%d, %d, %v), want (%d, %d, %v)", tc.ts, off, ts, ok, tc.off, tc.foundTs, tc.found)
		}
	}
	if err := l.DeleteRecordsBefore(72); err != nil {
		t.Fatal(err)
	}
	if off, _, ok := l.OffsetForTimestamp(0); !ok || off != 72 {
		t.Fatalf("after DeleteRecords: %d %v", off, ok)
	}
}

func TestTruncate(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	tests := []struct {
		name    string
		to      int64
		wantLEO int64
	}{
		{"inside last segment", 145, 145},
		{"mid batch", 147, 145},
		{"segment boundary", 60, 60},
		{"older segment", 33, 30},
		{"beyond end", 500, 150},
		{"to start", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTestLog(t, dir, cfg, true)
			for i := 0; i < 30; i++ {
				b := makeBatch(t, batchSpec{records: 5, valueSize: 100, firstTs: testNow.UnixMilli() + int64(i)})
				if _, err := l.AppendAsLeader(b, int32(i/10), testNow); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.TruncateTo(tc.to); err != nil {
				t.Fatal(err)
			}
			if l.LogEndOffset() != tc.wantLEO {
				t.Fatalf("leo %d, want %d", l.LogEndOffset(), tc.wantLEO)
			}
			checkIndexesConsistent(t, l)
			// Appending continues at the new end.
			appendN(t, l, 3, 5, 100)
			if _, next := readAll(t, l); next != tc.wantLEO+15 {
				t.Fatalf("next %d", next)
			}
			for _, e := range l.epochs.snapshot() {
				if e.startOffset > tc.wantLEO && e.epoch != 1 {
					t.Fatalf("epoch entry %+v survived truncation to %d", e, tc.to)
				}
			}
			// Reopen cleanly: same state.
			leo := l.LogEndOffset()
			l.Close()
			l2 := openTestLog(t, dir, cfg, true)
			if l2.LogEndOffset() != leo {
				t.Fatalf("reopened leo %d, want %d", l2.LogEndOffset(), leo)
			}
			checkIndexesConsistent(t, l2)
		})
	}
}

func TestTruncateFullyAndDeleteRecords(t *testing.T) {
	l := openTestLog(t, t.TempDir(), testConfig(), true)
	appendN(t, l, 5, 4, 10)
	if err := l.DeleteRecordsBefore(21); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete past end: %v", err)
	}
	if err := l.DeleteRecordsBefore(6); err != nil || l.LogStartOffset() != 6 {
		t.Fatalf("delete records: %v, start %d", err, l.LogStartOffset())
	}
	if _, err := l.Read(5, 100, math.MaxInt64, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	if ri, err := l.Read(6, 1000, math.MaxInt64, true); err != nil || batchBaseOffset(ri.Records) != 4 {
		t.Fatalf("read at start: %v", err)
	}
	if err := l.TruncateFullyAndStartAt(1000); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 1000 || l.LogEndOffset() != 1000 || l.LatestEpoch() != -1 || l.NumSegments() != 1 {
		t.Fatalf("after truncate fully: start %d end %d epoch %d", l.LogStartOffset(), l.LogEndOffset(), l.LatestEpoch())
	}
	b := makeBatch(t, batchSpec{records: 2, valueSize: 1})
	if _, err := l.AppendAsFollower(withBase(b, 1000, 4)); err != nil {
		t.Fatal(err)
	}
	if _, next := readAll(t, l); next != 1002 {
		t.Fatal(next)
	}
	if _, err := os.Stat(filepath.Join(l.Dir(), segmentFileName(1000, ".log"))); err != nil {
		t.Fatal(err)
	}
}

func TestRetention(t *testing.T) {
	now := testNow
	tests := []struct {
		name        string
		mutate      func(*LogConfig)
		wantDeleted int
	}{
		{"time", func(c *LogConfig) { c.RetentionMs = 1000 }, 9},
		{"bytes", func(c *LogConfig) { c.RetentionBytes = 4 * 4200 }, -1},
		{"forever", func(c *LogConfig) { c.RetentionMs = -1 }, 0},
		{"compact", func(c *LogConfig) { c.RetentionMs = 1000; c.CleanupPolicy = "compact" }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.SegmentBytes = 4200
			l := openTestLog(t, t.TempDir(), cfg, true)
			for i := 0; i < 30; i++ {
				// old records, except the last three batches
				ts := now.Add(-time.Hour).UnixMilli()
				if i >= 27 {
					ts = now.UnixMilli()
				}
				b := makeBatch(t, batchSpec{records: 5, valueSize: 200, firstTs: ts})
				if _, err := l.AppendAsLeader(b, 0, now); err != nil {
					t.Fatal(err)
				}
			}
			segsBefore := l.NumSegments()
			c := l.Config()
			tc.mutate(&c)
			l.SetConfig(c)
			want := tc.wantDeleted
			if want < 0 { // by bytes: oldest first while the rest stays >= retention.bytes
				diff, want := l.Size()-c.RetentionBytes, 0
				for _, s := range l.segments()[:segsBefore-1] {
					if diff-s.size.Load() < 0 {
						break
					}
					diff -= s.size.Load()
					want++
				}
				tc.wantDeleted = want
			}
			n, err := l.ApplyRetention(now)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantDeleted || l.NumSegments() != segsBefore-n {
				t.Fatalf("deleted %d of %d segments, want %d", n, segsBefore, tc.wantDeleted)
			}
			if n > 0 && l.LogStartOffset() != l.segments()[0].base {
				t.Fatalf("log start %d, first segment %d", l.LogStartOffset(), l.segments()[0].base)
			}
			readAll(t, l)
		})
	}
}

func TestLeaderEpochCache(t *testing.T) {
	dir := t.TempDir()
	c, err := loadLeaderEpochCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []epochEntry{{0, 0}, {1, 100}, {3, 250}, {5, 400}} {
		if err := c.assign(e.epoch, e.startOffset); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		req       int32
		wantEpoch int32
		wantOff   int64
	}{
		{5, 5, 1000}, // latest: log end
		{4, 3, 400},  // unknown epoch between: largest <= it, start of next
		{3, 3, 400},
		{1, 1, 250},
		{0, 0, 100},
		{6, -1, -1},
		{-1, -1, -1},
	}
	for _, tc := range tests {
		if e, o := c.endOffsetFor(tc.req, 1000); e != tc.wantEpoch || o != tc.wantOff {
			t.Errorf("endOffsetFor(%d) = (%d, %d), want (%d, %d)", tc.req, e, o, tc.wantEpoch, tc.wantOff)
		}
	}
	// assign drops entries with epoch >= new or start >= new start.
	if err := c.assign(4, 300); err != nil {
		t.Fatal(err)
	}
	if got := c.snapshot(); len(got) != 4 || got[3] != (epochEntry{4, 300}) {
		t.Fatalf("after assign: %+v", got)
	}
	if err := c.truncateFromEnd(250); err != nil {
		t.Fatal(err)
	}
	if got := c.snapshot(); len(got) != 2 || got[1] != (epochEntry{1, 100}) {
		t.Fatalf("after truncateFromEnd: %+v", got)
	}
	if err := c.truncateFromStart(150); err != nil {
		t.Fatal(err)
	}
	if got := c.snapshot(); len(got) != 1 || got[0] != (epochEntry{1, 150}) {
		t.Fatalf("after truncateFromStart: %+v", got)
	}
	// below the first epoch: (requested, first start)
	c2, _ := loadLeaderEpochCache(t.TempDir())
	c2.assign(5, 10)
	if e, o := c2.endOffsetFor(2, 100); e != 2 || o != 10 {
		t.Fatalf("below first: (%d, %d)", e, o)
	}
	// persisted
	c3, err := loadLeaderEpochCache(dir)
	if err != nil || len(c3.snapshot()) != 1 || c3.snapshot()[0] != (epochEntry{1, 150}) {
		t.Fatalf("reloaded: %+v %v", c3.snapshot(), err)
	}
}

func TestTopicID(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, testConfig(), true)
	if _, ok := l.TopicID(); ok {
		t.Fatal("topic id before set")
	}
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if err := l.SetTopicID(id); err != nil {
		t.Fatal(err)
	}
	if err := l.SetTopicID(id); err != nil {
		t.Fatal(err)
	}
	if err := l.SetTopicID([16]byte{9}); !errors.Is(err, ErrInconsistentTopicID) {
		t.Fatalf("want ErrInconsistentTopicID, got %v", err)
	}
	l.Close()
	l2 := openTestLog(t, dir, testConfig(), true)
	if got, ok := l2.TopicID(); !ok || got != id {
		t.Fatalf("reloaded topic id %x %v", got, ok)
	}
}

func TestConcurrentAppendRead(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 16 << 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	const batches = 100
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errc := make(chan error, 8)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				ri, err := l.Read(off, 4096, math.MaxInt64, true)
				if errors.Is(err, ErrOffsetOutOfRange) && off < l.LogStartOffset() {
					off = l.LogStartOffset() // retention moved the start
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				for p := 0; p < len(ri.Records); {
					b := ri.Records[p:]
					size, err := batchFraming(b)
					if err != nil || !batchCRCValid(b[:size]) || batchBaseOffset(b) > off {
						errc <- errors.New("reader saw a bad or partial batch")
						return
					}
					off = batchBaseOffset(b) + int64(batchLastOffsetDelta(b)) + 1
					p += size
				}
				if len(ri.Records) == 0 {
					l.OffsetForTimestamp(0)
					l.EndOffsetForEpoch(0)
					runtime.Gosched()
				}
			}
		}()
	}
	for i := 0; i < batches; i++ {
		b := makeBatch(t, batchSpec{records: 3, valueSize: 100, firstTs: int64(i)})
		if _, err := l.AppendAsLeader(b, int32(i/100), testNow); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			if _, err := l.ApplyRetention(testNow); err != nil {
				t.Fatal(err)
			}
			l.Flush()
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

func TestReopenAfterCleanClose(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	l := openTestLog(t, dir, cfg, true)
	appendN(t, l, 50, 4, 100)
	l.AssignEpoch(9, 150) // an entry at the log end itself is dropped on load, as in Kafka's LogLoader
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	if _, err := l.AppendAsLeader(makeBatch(t, batchSpec{records: 1}), 0, testNow); !errors.Is(err, ErrLogClosed) {
		t.Fatalf("append after close: %v", err)
	}
	// Sealed and active indexes are trimmed to their entries.
	for _, s := range l.segments() {
		for _, p := range []string{s.index.f.path, s.timeIndex.f.path} {
			st, _ := os.Stat(p)
			if st.Size() >= int64(cfg.IndexMaxBytes) {
				t.Fatalf("%s not trimmed: %d bytes", p, st.Size())
			}
		}
	}
	l2 := openTestLog(t, dir, cfg, true)
	if l2.LogEndOffset() != 200 || l2.LatestEpoch() != 9 {
		t.Fatalf("leo %d epoch %d", l2.LogEndOffset(), l2.LatestEpoch())
	}
	checkIndexesConsistent(t, l2)
	appendN(t, l2, 1, 4, 100)
	if _, next := readAll(t, l2); next != 204 {
		t.Fatal(next)
	}
}

// checkIndexesConsistent verifies every offset index entry points at the
// start of a batch whose last offset is the entry's offset, and every time
// index entry names an offset inside the segment.
func checkIndexesConsistent(tb testing.TB, l *Log) {
	tb.Helper()
	segs := l.segments()
	for i, s := range segs {
		end := l.LogEndOffset()
		if i+1 < len(segs) {
			end = segs[i+1].base
		}
		data := s.index.f.acquire()
		n := s.index.entries()
		for j := 0; j < n; j++ {
			rel, pos := decodeOffsetEntry(data, j)
			var h [batchHeaderSize]byte
			if _, err := s.file.ReadAt(h[:], int64(pos)); err != nil {
				tb.Fatalf("segment %d entry %d: %v", s.base, j, err)
			}
			if last := batchBaseOffset(h[:]) + int64(batchLastOffsetDelta(h[:])); last != s.base+int64(rel) {
				tb.Fatalf("segment %d entry %d: (%d, %d) but batch there ends at %d", s.base, j, rel, pos, last)
			}
		}
		s.index.f.release()
		data = s.timeIndex.f.acquire()
		n = s.timeIndex.entries()
		for j := 0; j < n; j++ {
			_, rel := decodeTimeEntry(data, j)
			if off := s.base + int64(rel); off < s.base || off >= end {
				tb.Fatalf("segment %d time entry %d: offset %d outside [%d, %d)", s.base, j, off, s.base, end)
			}
		}
		s.timeIndex.f.release()
	}
}
