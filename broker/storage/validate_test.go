package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestValidateLeaderBatches(t *testing.T) {
	lowLimit(t)
	cfg := DefaultLogConfig().normalized()
	good := func() []byte { return makeBatch(t, batchSpec{records: 3, valueSize: 10, firstTs: 1000}) }
	recrc := func(b []byte) []byte { setBatchCRC(b); return b }
	tests := []struct {
		name string
		in   func() []byte
		err  error
	}{
		{"valid", good, nil},
		{"two batches", func() []byte { return append(good(), good()...) }, nil},
		{"empty", func() []byte { return nil }, ErrInvalidRecord},
		{"torn header", func() []byte { return good()[:40] }, ErrCorruptBatch},
		{"torn body", func() []byte { b := good(); return b[:len(b)-1] }, ErrCorruptBatch},
		{"length too small", func() []byte { b := good(); binary.BigEndian.PutUint32(b[batchOffLength:], 10); return b }, ErrCorruptBatch},
		{"bad crc", func() []byte { b := good(); b[len(b)-1] ^= 1; return b }, ErrCorruptBatch},
		{"magic 1", func() []byte { b := good(); b[batchOffMagic] = 1; return b }, ErrInvalidRecord},
		{"base offset not zero", func() []byte { b := good(); binary.BigEndian.PutUint64(b, 5); return b }, ErrInvalidRecord},
		{"count mismatch", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[batchOffLastOffsetDelta:], 5)
			return recrc(b)
		}, ErrInvalidRecord},
		{"count zero", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[batchOffNumRecords:], 0)
			binary.BigEndian.PutUint32(b[batchOffLastOffsetDelta:], 0xffffffff)
			return recrc(b)
		}, ErrInvalidRecord},
		{"records fewer than count", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[batchOffNumRecords:], 2)
			binary.BigEndian.PutUint32(b[batchOffLastOffsetDelta:], 1)
			return recrc(b)
		}, ErrInvalidRecord},
		{"control bit", func() []byte { b := good(); b[batchOffAttributes+1] |= attrControl; return recrc(b) }, ErrInvalidRecord},
		{"log append time from client", func() []byte { b := good(); b[batchOffAttributes+1] |= attrTimestampType; return recrc(b) }, ErrInvalidTimestamp},
		{"codec 5", func() []byte { b := good(); b[batchOffAttributes+1] |= 5; return recrc(b) }, ErrUnsupportedCompression},
		{"producer id with negative sequence", func() []byte {
			b := good()
			binary.BigEndian.PutUint64(b[batchOffProducerID:], 7)
			return recrc(b)
		}, ErrInvalidRecord},
		{"bad record varint", func() []byte { b := good(); b[batchHeaderSize] = 0xff; return recrc(b) }, ErrInvalidRecord},
		{"offset delta mismatch", func() []byte {
			b := good()
			// record 0: length varint (1 byte), attributes, ts delta 0, offset delta 0 -> 2 (zigzag 4)
			b[batchHeaderSize+3] = 4
			return recrc(b)
		}, ErrInvalidRecord},
		{"too large", func() []byte { return makeBatch(t, batchSpec{records: 2, valueSize: 600 << 10}) }, ErrBatchTooLarge},
		{"gzip", func() []byte { return makeBatch(t, batchSpec{records: 5, valueSize: 100, codec: codecGzip}) }, nil},
		{"snappy raw", func() []byte { return makeBatch(t, batchSpec{records: 5, valueSize: 100, codec: codecSnappy}) }, nil},
		{"snappy xerial", func() []byte {
			return makeBatch(t, batchSpec{records: 500, valueSize: 100, codec: codecSnappy, xerial: true})
		}, nil},
		{"lz4", func() []byte { return makeBatch(t, batchSpec{records: 5, valueSize: 100, codec: codecLZ4}) }, nil},
		{"zstd", func() []byte { return makeBatch(t, batchSpec{records: 5, valueSize: 100, codec: codecZstd}) }, nil},
		{"gzip garbage", func() []byte {
			b := makeBatch(t, batchSpec{records: 5, valueSize: 100, codec: codecGzip})
			for i := batchHeaderSize + 12; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			return recrc(b)
		}, ErrInvalidRecord},
		{"zstd truncated", func() []byte {
			b := makeBatch(t, batchSpec{records: 50, valueSize: 100, codec: codecZstd})
			b = b[:len(b)-10]
			binary.BigEndian.PutUint32(b[batchOffLength:], uint32(len(b)-batchLogOverhead))
			return recrc(b)
		}, ErrInvalidRecord},
		{"zstd bomb", func() []byte {
			// One well-formed record followed by 2 MiB of zeros (past the lowered cap).
			b := makeBatch(t, batchSpec{records: 1, valueSize: 1, codec: codecZstd})
			one := makeBatch(t, batchSpec{records: 1, valueSize: 1})[batchHeaderSize:]
			payload := compress(t, codecZstd, append(one, make([]byte, 2<<20)...), false)
			b = append(b[:batchHeaderSize], payload...)
			binary.BigEndian.PutUint32(b[batchOffLength:], uint32(len(b)-batchLogOverhead))
			return recrc(b)
		}, ErrInvalidRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in()
			before := append([]byte(nil), in...)
			_, err := validateLeaderBatches(in, &cfg, nil)
			if tc.err == nil && err != nil {
				t.Fatalf("want ok, got %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("want %v, got %v", tc.err, err)
			}
			if !bytes.Equal(in, before) {
				t.Fatal("validation modified its input")
			}
		})
	}
}

func TestValidateFollowerBatches(t *testing.T) {
	b := makeBatch(t, batchSpec{records: 3, valueSize: 10})
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"contiguous", append(withBase(b, 10, 1), withBase(b, 13, 2)...), nil},
		{"gap", append(withBase(b, 10, 1), withBase(b, 14, 2)...), ErrNotContiguous},
		{"overlap", append(withBase(b, 10, 1), withBase(b, 11, 2)...), ErrNotContiguous},
		{"bad crc", func() []byte { x := withBase(b, 10, 1); x[len(x)-1]++; return x }(), ErrCorruptBatch},
		{"torn", withBase(b, 10, 1)[:70], ErrCorruptBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateFollowerBatches(tc.in, true, nil)
			if (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("want %v, got %v", tc.err, err)
			}
		})
	}
}

// lowLimit lowers the decompression cap for the test (not parallel).
func lowLimit(t *testing.T) {
	old := decompressLimit
	decompressLimit = 1 << 20
	t.Cleanup(func() { decompressLimit = old })
}

func TestDecompressionLimit(t *testing.T) {
	lowLimit(t)
	bomb := bytes.Repeat([]byte{0}, int(decompressLimit)+1)
	for _, codec := range []int8{codecGzip, codecLZ4, codecZstd, codecSnappy} {
		payload := compress(t, codec, bomb, true)
		src, release, err := newDecompressor(codec, payload)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, &limitedReader{r: src, n: decompressLimit})
		release()
		if !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("codec %d: want ErrInvalidRecord past the limit, got %v", codec, err)
		}
	}
}
