package storage

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzSeeds are the seed inputs shared by the fuzz targets; the same inputs
// are checked in under testdata/fuzz (regenerate with GREGOR_WRITE_CORPUS=1
// go test -run TestWriteFuzzCorpus).
func fuzzBatchSeeds(tb testing.TB) [][]byte {
	return [][]byte{
		makeBatch(tb, batchSpec{records: 1, valueSize: 0}),
		makeBatch(tb, batchSpec{records: 3, valueSize: 20, firstTs: 1000}),
		append(makeBatch(tb, batchSpec{records: 2, valueSize: 5}), makeBatch(tb, batchSpec{records: 1, valueSize: 5})...),
		makeBatch(tb, batchSpec{records: 4, valueSize: 30, codec: codecGzip}),
		makeBatch(tb, batchSpec{records: 4, valueSize: 30, codec: codecSnappy, xerial: true}),
		makeBatch(tb, batchSpec{records: 4, valueSize: 30, codec: codecLZ4}),
		makeBatch(tb, batchSpec{records: 4, valueSize: 30, codec: codecZstd}),
		makeBatch(tb, batchSpec{records: 2, valueSize: 5})[:50],
	}
}

func FuzzValidateBatch(f *testing.F) {
	for _, s := range fuzzBatchSeeds(f) {
		f.Add(s)
	}
	cfg := DefaultLogConfig().normalized()
	f.Fuzz(func(t *testing.T, data []byte) {
		old := decompressLimit
		decompressLimit = 1 << 20
		defer func() { decompressLimit = old }()
		in := append([]byte(nil), data...)
		metas, err := validateLeaderBatches(in, &cfg, nil)
		if !bytes.Equal(in, data) {
			t.Fatal("validation modified its input")
		}
		if err == nil {
			end := 0
			for _, m := range metas {
				if int(m.pos) != end || m.size < batchHeaderSize || m.last < 0 {
					t.Fatalf("bad meta %+v", m)
				}
				end += int(m.size)
			}
			if end != len(in) {
				t.Fatalf("metas cover %d of %d bytes", end, len(in))
			}
		}
		fm, err := validateFollowerBatches(in, false, nil)
		if err == nil {
			for i := 1; i < len(fm); i++ {
				if fm[i].base <= fm[i-1].last {
					t.Fatal("follower validation accepted overlapping offsets")
				}
			}
		}
	})
}

// fuzzLogDir writes a small valid log (3 segments) into dir and returns its
// log end offset.
func fuzzLogDir(tb testing.TB, dir string) int64 {
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	cfg.IndexIntervalBytes = 100
	l, err := openLog(dir, "t", 0, logOpenOptions{cfg: cfg, hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		if _, err := l.AppendAsLeader(makeBatch(tb, batchSpec{records: 2, valueSize: 200, firstTs: testNow.UnixMilli() + int64(i)}), 0, testNow); err != nil {
			tb.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	l.Close()
	return leo
}

// FuzzLoadIndex: arbitrary bytes as the .index and .timeindex of a segment
// of a cleanly shut down log never crash the loader, and reads stay correct
// (a bad index is detected and rebuilt, or tolerated by the reader).
func FuzzLoadIndex(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0}, []byte{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(bytes.Repeat([]byte{0xff}, 16), bytes.Repeat([]byte{0}, 24))
	f.Add([]byte{0, 0, 0, 3, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 9, 0}, []byte{1, 2, 3})
	tmpl := filepath.Join(f.TempDir(), "t-0")
	leo := fuzzLogDir(f, tmpl)
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	f.Fuzz(func(t *testing.T, index, timeIndex []byte) {
		dir := filepath.Join(t.TempDir(), "t-0")
		copyDir(t, tmpl, dir)
		bases, _ := cleanAndListSegments(dir, discardLogger())
		for i, b := range bases {
			if i%2 == 0 { // a sealed segment and the active one
				os.WriteFile(filepath.Join(dir, segmentFileName(b, indexFileSuffix)), index, 0o644)
				os.WriteFile(filepath.Join(dir, segmentFileName(b, timeIndexFileSuffix)), timeIndex, 0o644)
			}
		}
		l, err := openLog(dir, "t", 0, logOpenOptions{cfg: cfg, hadCleanShutdown: true, logStartOffset: -1, logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l.LogEndOffset() != leo {
			t.Fatalf("leo %d, want %d", l.LogEndOffset(), leo)
		}
		for off := int64(0); off < leo; off++ {
			ri, err := l.Read(off, 1, math.MaxInt64, true)
			if err != nil {
				t.Fatal(err)
			}
			if ri.Size == 0 {
				t.Fatalf("nothing at %d", off)
			}
			b := ri.Records
			if base := batchBaseOffset(b); base > off || base+int64(batchLastOffsetDelta(b)) < off {
				t.Fatalf("read at %d returned batch %d", off, base)
			}
		}
		l.OffsetForTimestamp(testNow.UnixMilli() + 5)
	})
}

// FuzzRecover: arbitrary bytes appended to (or replacing) the active segment
// of a crashed log are cut away or kept as whole valid batches.
func FuzzRecover(f *testing.F) {
	for _, s := range fuzzBatchSeeds(f) {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Add([]byte{}, true)
	tmpl := filepath.Join(f.TempDir(), "t-0")
	leo := fuzzLogDir(f, tmpl)
	cfg := testConfig()
	cfg.SegmentBytes = 2048
	f.Fuzz(func(t *testing.T, tail []byte, keep bool) {
		dir := filepath.Join(t.TempDir(), "t-0")
		copyDir(t, tmpl, dir)
		bases, _ := cleanAndListSegments(dir, discardLogger())
		active := filepath.Join(dir, segmentFileName(bases[len(bases)-1], logFileSuffix))
		flag := os.O_WRONLY | os.O_APPEND
		if !keep {
			flag = os.O_WRONLY | os.O_TRUNC
		}
		fh, err := os.OpenFile(active, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write(tail)
		fh.Close()
		l, err := openLog(dir, "t", 0, logOpenOptions{cfg: cfg, hadCleanShutdown: false, logStartOffset: -1, logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if keep && l.LogEndOffset() < leo {
			t.Fatalf("lost data: leo %d < %d", l.LogEndOffset(), leo)
		}
		if _, next := readAll(t, l); next != l.LogEndOffset() {
			t.Fatalf("read to %d, leo %d", next, l.LogEndOffset())
		}
		checkIndexesConsistent(t, l)
	})
}

// TestWriteFuzzCorpus writes the seed corpus to testdata/fuzz.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("GREGOR_WRITE_CORPUS") == "" {
		t.Skip("set GREGOR_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	write := func(target string, i int, vals ...string) {
		d := filepath.Join("testdata", "fuzz", target)
		os.MkdirAll(d, 0o755)
		body := "go test fuzz v1\n"
		for _, v := range vals {
			body += v + "\n"
		}
		os.WriteFile(filepath.Join(d, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644)
	}
	q := func(b []byte) string { return "[]byte(" + strconv.Quote(string(b)) + ")" }
	for i, s := range fuzzBatchSeeds(t) {
		write("FuzzValidateBatch", i, q(s))
		write("FuzzRecover", i, q(s), "bool("+strconv.FormatBool(i%2 == 0)+")")
	}
	write("FuzzLoadIndex", 0, q([]byte{0, 0, 0, 3, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 9, 0}), q([]byte{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1}))
	write("FuzzLoadIndex", 1, q(bytes.Repeat([]byte{0xff}, 16)), q(bytes.Repeat([]byte{0}, 24)))
}
