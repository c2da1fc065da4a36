package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedBatchBytes caps the decompressed size of one batch's records
// during validation. Decompression is streamed and never buffers the output,
// so the cap bounds CPU, not memory; a larger payload (a decompression bomb)
// is ErrInvalidRecord.
const MaxDecompressedBatchBytes = 64 << 20

// decompressLimit is MaxDecompressedBatchBytes; tests lower it.
var decompressLimit int64 = MaxDecompressedBatchBytes

// Kafka compression codec ids (attributes bits 0-2).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

var (
	gzipPool   sync.Pool // *gzip.Reader
	lz4Pool    = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdPool   sync.Pool // *zstd.Decoder
	bufPool    = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}
	bytesRPool = sync.Pool{New: func() any { return new(bytes.Reader) }}
)

func getBufReader(r io.Reader) *bufio.Reader {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putBufReader(br *bufio.Reader) {
	br.Reset(nil)
	bufPool.Put(br)
}

// newDecompressor returns a reader of the decompressed payload and a func
// that returns the decoder to its pool.
func newDecompressor(codec int8, payload []byte) (io.Reader, func(), error) {
	src := bytesRPool.Get().(*bytes.Reader)
	src.Reset(payload)
	releaseSrc := func() { src.Reset(nil); bytesRPool.Put(src) }
	switch codec {
	case codecGzip:
		var zr *gzip.Reader
		if v := gzipPool.Get(); v != nil {
			zr = v.(*gzip.Reader)
			if err := zr.Reset(src); err != nil {
				releaseSrc()
				return nil, nil, decompressErr(err)
			}
		} else {
			var err error
			if zr, err = gzip.NewReader(src); err != nil {
				releaseSrc()
				return nil, nil, decompressErr(err)
			}
		}
		return zr, func() { gzipPool.Put(zr); releaseSrc() }, nil
	case codecSnappy:
		releaseSrc()
		return newSnappyReader(payload), func() {}, nil
	case codecLZ4:
		zr := lz4Pool.Get().(*lz4.Reader)
		zr.Reset(src)
		return zr, func() { zr.Reset(nil); lz4Pool.Put(zr); releaseSrc() }, nil
	case codecZstd:
		var zr *zstd.Decoder
		if v := zstdPool.Get(); v != nil {
			zr = v.(*zstd.Decoder)
			if err := zr.Reset(src); err != nil {
				releaseSrc()
				return nil, nil, decompressErr(err)
			}
		} else {
			var err error
			zr, err = zstd.NewReader(src,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxMemory(MaxDecompressedBatchBytes),
				zstd.WithDecoderMaxWindow(32<<20))
			if err != nil {
				releaseSrc()
				return nil, nil, decompressErr(err)
			}
		}
		return zr, func() { _ = zr.Reset(nil); zstdPool.Put(zr); releaseSrc() }, nil
	default:
		releaseSrc()
		return nil, nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, codec)
	}
}

// xerialHeader starts a snappy-java (xerial) framed stream, which Kafka's
// Java producer writes: 8 magic bytes, int32 version, int32 compatible
// version, then blocks of int32 length + raw snappy block.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// snappyReader decodes either xerial framing or one raw snappy block.
type snappyReader struct {
	src  []byte
	out  []byte
	buf  []byte
	raw  bool
	done bool
}

func newSnappyReader(payload []byte) *snappyReader {
	s := &snappyReader{src: payload}
	if len(payload) >= 16 && bytes.Equal(payload[:8], xerialHeader) {
		s.src = payload[16:]
	} else {
		s.raw = true
	}
	return s
}

func (s *snappyReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.done || len(s.src) == 0 {
			if !s.done && s.raw {
				return 0, fmt.Errorf("%w: empty snappy payload", ErrInvalidRecord)
			}
			return 0, io.EOF
		}
		var block []byte
		if s.raw {
			block, s.src, s.done = s.src, nil, true
		} else {
			if len(s.src) < 4 {
				return 0, fmt.Errorf("%w: torn xerial block", ErrInvalidRecord)
			}
			n := binary.BigEndian.Uint32(s.src)
			if uint64(n) > uint64(len(s.src)-4) {
				return 0, fmt.Errorf("%w: torn xerial block", ErrInvalidRecord)
			}
			block, s.src = s.src[4:4+n], s.src[4+n:]
		}
		dl, err := snappy.DecodedLen(block)
		if err != nil {
			return 0, fmt.Errorf("%w: snappy: %v", ErrInvalidRecord, err)
		}
		// A snappy copy element expands at most 64 bytes from 3 (~21x).
		if int64(dl) > decompressLimit || dl > 22*len(block)+64 {
			return 0, fmt.Errorf("%w: snappy block of %d bytes", ErrInvalidRecord, dl)
		}
		if cap(s.buf) < dl {
			s.buf = make([]byte, dl)
		}
		s.out, err = snappy.Decode(s.buf[:dl], block)
		if err != nil {
			return 0, fmt.Errorf("%w: snappy: %v", ErrInvalidRecord, err)
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// limitedReader fails with ErrInvalidRecord once more than n bytes were read.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One more byte proves the limit is exceeded rather than reached.
		var one [1]byte
		for i := 0; i < 8; i++ {
			n, err := l.r.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: decompresses past %d bytes", ErrInvalidRecord, decompressLimit)
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
