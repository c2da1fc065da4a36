package storage

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// benchBatch is a 16 KiB-ish batch of 16 records of 1 KiB values.
func benchBatch(tb testing.TB) []byte {
	return makeBatch(tb, batchSpec{records: 16, valueSize: 1000, firstTs: time.Now().UnixMilli()})
}

// BenchmarkAppend compares AppendAsLeader (validation, CRC-32C, offset
// assignment, index upkeep; no fsync) with plain write(2) of the same bytes
// to the same directory.
func BenchmarkAppend(b *testing.B) {
	batch := benchBatch(b)
	b.Run("write2", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.Write(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("log", func(b *testing.B) {
		l, err := openLog(filepath.Join(b.TempDir(), "t-0"), "t", 0, logOpenOptions{cfg: DefaultLogConfig(), hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		now := time.Now()
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			binary.BigEndian.PutUint64(batch, 0) // as a producer sends it
			if _, err := l.AppendAsLeader(batch, 0, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRead compares sequential Log.Read of page-cached data (1 MiB
// fetches) with plain pread(2) of the same bytes.
func BenchmarkRead(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "t-0")
	l, err := openLog(dir, "t", 0, logOpenOptions{cfg: DefaultLogConfig(), hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := benchBatch(b)
	now := time.Now()
	for l.Size() < 128<<20 {
		binary.BigEndian.PutUint64(batch, 0)
		if _, err := l.AppendAsLeader(batch, 0, now); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Size()
	const fetch = 1 << 20
	b.Run("pread", func(b *testing.B) {
		f, err := os.Open(filepath.Join(dir, segmentFileName(0, logFileSuffix)))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, fetch)
		b.SetBytes(fetch)
		b.ResetTimer()
		var pos int64
		for i := 0; i < b.N; i++ {
			if pos+fetch > size {
				pos = 0
			}
			if _, err := f.ReadAt(buf, pos); err != nil {
				b.Fatal(err)
			}
			pos += fetch
		}
	})
	b.Run("log", func(b *testing.B) {
		b.SetBytes(fetch)
		b.ReportAllocs()
		b.ResetTimer()
		var off int64
		var n int64
		for i := 0; i < b.N; i++ {
			ri, err := l.Read(off, fetch, math.MaxInt64, true)
			if err != nil {
				b.Fatal(err)
			}
			n += int64(ri.Size)
			off = nextOffsetAfter(ri.Records)
			if off >= l.LogEndOffset() {
				off = 0
			}
		}
		b.SetBytes(n / int64(b.N))
	})
}

func nextOffsetAfter(recs []byte) int64 {
	var next int64
	for p := 0; p < len(recs); {
		b := recs[p:]
		next = batchBaseOffset(b) + int64(batchLastOffsetDelta(b)) + 1
		p += int(batchLength(b)) + batchLogOverhead
	}
	return next
}

var (
	bigLogOnce sync.Once
	bigLogDir  string
	bigLogLEO  int64
	bigLogSize int64
)

// bigLog builds a 1 GiB single-segment log once per process (benchmarks only).
func bigLog(b *testing.B) (string, int64) {
	bigLogOnce.Do(func() {
		root, err := os.MkdirTemp("", "gregor-storage-bench")
		if err != nil {
			b.Fatal(err)
		}
		bigLogDir = filepath.Join(root, "t-0")
		l, err := openLog(bigLogDir, "t", 0, logOpenOptions{cfg: DefaultLogConfig(), hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		batch := benchBatch(b)
		now := time.Now()
		for l.Size()+int64(len(batch)) <= 1<<30 {
			binary.BigEndian.PutUint64(batch, 0)
			if _, err := l.AppendAsLeader(batch, 0, now); err != nil {
				b.Fatal(err)
			}
		}
		bigLogLEO, bigLogSize = l.LogEndOffset(), l.Size()
		old := syncEnabled
		syncEnabled = true
		l.Close() // fsync now, so recovery measures reading, not writeback
		syncEnabled = old
	})
	b.Cleanup(func() {}) // the directory is removed by TestMain
	return bigLogDir, bigLogLEO
}

// BenchmarkOffsetLookup finds the batch holding a random offset of a 1 GiB
// log: offset index binary search plus the header scan (Read with a 1-byte
// limit returns nothing but does the whole lookup).
func BenchmarkOffsetLookup(b *testing.B) {
	dir, leo := bigLog(b)
	l, err := openLog(dir, "t", 0, logOpenOptions{cfg: DefaultLogConfig(), hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	seg := l.active()
	size := seg.size.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := rng.Int64N(leo)
		bp, ok, err := seg.find(off, size)
		if err != nil || !ok || bp.base > off || bp.last < off {
			b.Fatalf("lookup %d: %+v %v %v", off, bp, ok, err)
		}
	}
}

// BenchmarkRecovery reopens the 1 GiB log as after a crash: every batch is
// read, framed, CRC-checked and indexed again. MB/s is the scan rate.
func BenchmarkRecovery(b *testing.B) {
	dir, leo := bigLog(b)
	b.SetBytes(bigLogSize)
	for i := 0; i < b.N; i++ {
		l, err := openLog(dir, "t", 0, logOpenOptions{cfg: DefaultLogConfig(), hadCleanShutdown: false, recoveryPoint: 0, logStartOffset: -1, logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		if l.LogEndOffset() != leo {
			b.Fatalf("recovered to %d, want %d", l.LogEndOffset(), leo)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}

// BenchmarkIdlePartitions opens 1000 logs through a Manager, each with a few
// batches, and reports the heap they hold.
func BenchmarkIdlePartitions(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		m, err := OpenManager(ManagerConfig{Dirs: []string{dir}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		batch := makeBatch(b, batchSpec{records: 4, valueSize: 100, firstTs: time.Now().UnixMilli()})
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		for p := int32(0); p < n; p++ {
			l, err := m.GetOrCreate("idle", p, DefaultLogConfig())
			if err != nil {
				b.Fatal(err)
			}
			binary.BigEndian.PutUint64(batch, 0)
			if _, err := l.AppendAsLeader(batch, 0, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		heap := int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc)
		b.ReportMetric(float64(heap)/n, "heap-B/partition")
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB/1000")
		m.Close()
	}
}
