package storage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a test batch.
type batchSpec struct {
	records   int
	valueSize int
	firstTs   int64 // timestamp of the first record; record i has firstTs+i
	codec     int8
	xerial    bool // snappy with xerial framing
	producer  int64
}

// makeBatch builds a magic-2 batch with kmsg.RecordBatch / kmsg.Record, base
// offset 0, with a correct CRC.
func makeBatch(tb testing.TB, s batchSpec) []byte {
	tb.Helper()
	if s.producer == 0 {
		s.producer = -1
	}
	var recs []byte
	for i := 0; i < s.records; i++ {
		val := bytes.Repeat([]byte{byte('a' + i%26)}, s.valueSize)
		r := kmsg.Record{
			TimestampDelta64: int64(i),
			OffsetDelta:      int32(i),
			Key:              []byte("k"),
			Value:            val,
			Headers:          []kmsg.Header{{Key: "h", Value: []byte("v")}},
		}
		body := r.AppendTo(nil)
		// AppendTo wrote Length 0 as one varint byte; the length is the rest.
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	payload := recs
	if s.codec != codecNone {
		payload = compress(tb, s.codec, recs, s.xerial)
	}
	seq := int32(-1)
	if s.producer >= 0 {
		seq = 0
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(s.codec),
		LastOffsetDelta:      int32(s.records - 1),
		FirstTimestamp:       s.firstTs,
		MaxTimestamp:         s.firstTs + int64(s.records-1),
		ProducerID:           s.producer,
		ProducerEpoch:        -1,
		FirstSequence:        seq,
		NumRecords:           int32(s.records),
		Records:              payload,
	}
	b.Length = int32(batchHeaderSize - batchLogOverhead + len(payload))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[batchOffCRC:], crc32.Checksum(out[batchOffAttributes:], castagnoli))
	return out
}

func compress(tb testing.TB, codec int8, data []byte, xerial bool) []byte {
	tb.Helper()
	var buf bytes.Buffer
	switch codec {
	case codecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case codecSnappy:
		if !xerial {
			return snappy.Encode(nil, data)
		}
		buf.Write(xerialHeader)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for len(data) > 0 {
			n := min(len(data), 32<<10)
			blk := snappy.Encode(nil, data[:n])
			binary.Write(&buf, binary.BigEndian, uint32(len(blk)))
			buf.Write(blk)
			data = data[n:]
		}
	case codecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case codecZstd:
		return zstdEnc.EncodeAll(data, nil)
	default:
		tb.Fatalf("codec %d", codec)
	}
	return buf.Bytes()
}

var zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))

// withBase returns a copy of batch with the base offset set (follower input).
func withBase(batch []byte, base int64, epoch int32) []byte {
	b := append([]byte(nil), batch...)
	binary.BigEndian.PutUint64(b[batchOffBaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(b[batchOffLeaderEpoch:], uint32(epoch))
	return b
}

// testLogger sends logrus output to t.Log.
func testLogger(tb testing.TB) *logrus.Entry {
	lg := logrus.New()
	lg.SetOutput(tbWriter{tb})
	lg.SetLevel(logrus.InfoLevel)
	return logrus.NewEntry(lg).WithField("component", "storage")
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = tbWriter{}

// testConfig is a small-segment configuration for tests.
func testConfig() LogConfig {
	c := DefaultLogConfig()
	c.SegmentBytes = 64 << 10
	c.IndexIntervalBytes = 1024
	c.IndexMaxBytes = 4096
	c.FileDeleteDelayMs = 0
	return c
}

// openTestLog opens (or reopens) a log in dir.
func openTestLog(tb testing.TB, dir string, cfg LogConfig, clean bool) *Log {
	tb.Helper()
	l, err := openLog(dir, "t", 0, logOpenOptions{cfg: cfg, hadCleanShutdown: clean, logStartOffset: -1, logger: discardLogger()})
	if err != nil {
		tb.Fatalf("open log: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

var testNow = time.UnixMilli(1_700_000_000_000)

// TestMain turns fsync off (see syncEnabled) unless GREGOR_TEST_FSYNC is
// set; TestManager turns it back on for itself.
func TestMain(m *testing.M) {
	syncEnabled = os.Getenv("GREGOR_TEST_FSYNC") != ""
	code := m.Run()
	if bigLogDir != "" {
		os.RemoveAll(filepath.Dir(bigLogDir))
	}
	os.Exit(code)
}

// withFsync runs a (non-parallel) test with fsync enabled.
func withFsync(t *testing.T) {
	old := syncEnabled
	syncEnabled = true
	t.Cleanup(func() { syncEnabled = old })
}

// appendN appends n leader batches of recs records each and returns the
// base offsets.
func appendN(tb testing.TB, l *Log, n, recs, valueSize int) []int64 {
	tb.Helper()
	var bases []int64
	for i := 0; i < n; i++ {
		b := makeBatch(tb, batchSpec{records: recs, valueSize: valueSize, firstTs: testNow.UnixMilli() + int64(i*recs)})
		info, err := l.AppendAsLeader(b, 1, testNow)
		if err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
		bases = append(bases, info.FirstOffset)
	}
	return bases
}

// readAll reads every batch from the log start and checks their framing and
// contiguity; it returns the batches' base offsets and the next offset.
func readAll(tb testing.TB, l *Log) (bases []int64, next int64) {
	tb.Helper()
	off := l.LogStartOffset()
	next = off
	for off < l.LogEndOffset() {
		ri, err := l.Read(off, 1<<20, 1<<62, true)
		if err != nil {
			tb.Fatalf("read at %d: %v", off, err)
		}
		if ri.Size == 0 {
			tb.Fatalf("empty read at %d below log end %d", off, l.LogEndOffset())
		}
		for p := 0; p < len(ri.Records); {
			size, err := batchFraming(ri.Records[p:])
			if err != nil {
				tb.Fatalf("read at %d: %v", off, err)
			}
			b := ri.Records[p : p+size]
			if !batchCRCValid(b) {
				tb.Fatalf("bad crc in batch %d", batchBaseOffset(b))
			}
			if batchBaseOffset(b) != next {
				tb.Fatalf("batch at %d, want %d", batchBaseOffset(b), next)
			}
			bases = append(bases, next)
			next = batchBaseOffset(b) + int64(batchLastOffsetDelta(b)) + 1
			p += size
		}
		off = next
	}
	return bases, next
}
