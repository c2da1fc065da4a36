package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// batchMeta describes one validated batch of an append.
type batchMeta struct {
	pos      int32 // position of the batch within the appended bytes
	size     int32 // whole batch, header included
	base     int64
	last     int64
	maxTs    int64
	epoch    int32
	fixMaxTs bool // leader path: the header's max timestamp must be rewritten
}

// validateLeaderBatches checks records, one or more magic-2 batches as a
// client sent them, the way Kafka's LogValidator and
// UnifiedLog.analyzeAndValidateRecords do for AppendOrigin.CLIENT. It does not
// modify records. metas is reused scratch space.
func validateLeaderBatches(records []byte, cfg *LogConfig, metas []batchMeta) ([]batchMeta, error) {
	metas = metas[:0]
	if len(records) == 0 {
		return metas, fmt.Errorf("%w: empty records", ErrInvalidRecord)
	}
	pos := 0
	for pos < len(records) {
		b := records[pos:]
		size, err := batchFraming(b)
		if err != nil {
			return metas, fmt.Errorf("batch at %d: %w", pos, err)
		}
		b = b[:size]
		if size > int(cfg.MaxMessageBytes) {
			return metas, fmt.Errorf("%w: batch of %d bytes, max.message.bytes %d", ErrBatchTooLarge, size, cfg.MaxMessageBytes)
		}
		if b[batchOffMagic] != 2 {
			return metas, fmt.Errorf("%w: magic %d", ErrInvalidRecord, int8(b[batchOffMagic]))
		}
		if !batchCRCValid(b) {
			return metas, fmt.Errorf("%w: crc mismatch in batch at %d", ErrCorruptBatch, pos)
		}
		attrs := batchAttributes(b)
		codec := int8(attrs & attrCompressionMask)
		if codec > 4 {
			return metas, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, codec)
		}
		if attrs&attrTimestampType != 0 {
			return metas, fmt.Errorf("%w: client set LogAppendTime", ErrInvalidTimestamp)
		}
		if attrs&attrControl != 0 {
			return metas, fmt.Errorf("%w: control batch from a client", ErrInvalidRecord)
		}
		if base := batchBaseOffset(b); base != 0 {
			return metas, fmt.Errorf("%w: base offset %d, want 0", ErrInvalidRecord, base)
		}
		count := int32(binary.BigEndian.Uint32(b[batchOffNumRecords:]))
		lod := batchLastOffsetDelta(b)
		if count <= 0 || lod != count-1 {
			return metas, fmt.Errorf("%w: record count %d, last offset delta %d", ErrInvalidRecord, count, lod)
		}
		if int64(binary.BigEndian.Uint64(b[batchOffProducerID:])) >= 0 &&
			int32(binary.BigEndian.Uint32(b[batchOffBaseSequence:])) < 0 {
			return metas, fmt.Errorf("%w: producer id set with negative base sequence", ErrInvalidRecord)
		}
		firstTs := int64(binary.BigEndian.Uint64(b[batchOffFirstTimestamp:]))
		var res walkResult
		if codec == 0 {
			res, err = walkRecords(b[batchHeaderSize:], count, firstTs, math.MaxInt64, 0)
		} else {
			res, err = walkCompressedRecords(codec, b[batchHeaderSize:], count, firstTs, math.MaxInt64, 0)
		}
		if err != nil {
			return metas, fmt.Errorf("batch at %d: %w", pos, err)
		}
		metas = append(metas, batchMeta{
			pos:      int32(pos),
			size:     int32(size),
			last:     int64(lod),
			maxTs:    res.maxTs,
			fixMaxTs: res.maxTs != batchMaxTimestamp(b),
		})
		pos += size
	}
	return metas, nil
}

// validateFollowerBatches checks framing, magic and CRC of batches fetched
// from a leader and that their offsets are increasing. Record contents are
// trusted (the leader validated them). With contiguous set, each batch must
// start right after the previous one.
func validateFollowerBatches(records []byte, contiguous bool, metas []batchMeta) ([]batchMeta, error) {
	metas = metas[:0]
	pos := 0
	next := int64(math.MinInt64)
	for pos < len(records) {
		b := records[pos:]
		size, err := batchFraming(b)
		if err != nil {
			return metas, fmt.Errorf("batch at %d: %w", pos, err)
		}
		b = b[:size]
		if b[batchOffMagic] != 2 {
			return metas, fmt.Errorf("%w: magic %d", ErrInvalidRecord, int8(b[batchOffMagic]))
		}
		if !batchCRCValid(b) {
			return metas, fmt.Errorf("%w: crc mismatch in batch at %d", ErrCorruptBatch, pos)
		}
		base := batchBaseOffset(b)
		lod := batchLastOffsetDelta(b)
		if base < 0 || lod < 0 || base > math.MaxInt64-int64(lod)-1 {
			return metas, fmt.Errorf("%w: base offset %d, last offset delta %d", ErrCorruptBatch, base, lod)
		}
		if next != math.MinInt64 && (base < next || (contiguous && base != next)) {
			return metas, fmt.Errorf("%w: batch at offset %d after offset %d", ErrNotContiguous, base, next-1)
		}
		next = base + int64(lod) + 1
		metas = append(metas, batchMeta{
			pos:   int32(pos),
			size:  int32(size),
			base:  base,
			last:  next - 1,
			maxTs: batchMaxTimestamp(b),
			epoch: int32(binary.BigEndian.Uint32(b[batchOffLeaderEpoch:])),
		})
		pos += size
	}
	return metas, nil
}

// batchFraming returns the size of the batch at the start of b, or
// ErrCorruptBatch when the header is torn or the length field is impossible.
func batchFraming(b []byte) (int, error) {
	if len(b) < batchHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes left, header needs %d", ErrCorruptBatch, len(b), batchHeaderSize)
	}
	length := batchLength(b)
	if length < batchMinLength {
		return 0, fmt.Errorf("%w: length field %d", ErrCorruptBatch, length)
	}
	size := int64(length) + batchLogOverhead
	if size > int64(len(b)) {
		return 0, fmt.Errorf("%w: batch of %d bytes, %d left", ErrCorruptBatch, size, len(b))
	}
	return int(size), nil
}

// walkResult is what a pass over a batch's records learns.
type walkResult struct {
	maxTs    int64
	hit      bool  // a record with timestamp >= target was found
	hitDelta int32 // its offset delta
	hitTs    int64 // its timestamp
}

// observe checks record i's offset delta and folds its absolute timestamp
// into the result: the batch's max timestamp, and the first record at or after
// target (with offset delta >= minDelta). Both record walkers, plain and
// decompressed, share it.
func (res *walkResult) observe(i, delta int32, ts, target int64, minDelta int32) error {
	if delta != i {
		return fmt.Errorf("%w: record %d has offset delta %d", errRecord, i, delta)
	}
	if ts > res.maxTs {
		res.maxTs = ts
	}
	if !res.hit && ts >= target && delta >= minDelta {
		res.hit, res.hitDelta, res.hitTs = true, delta, ts
	}
	return nil
}

var errRecord = ErrInvalidRecord

// walkRecords parses count uncompressed records in b (everything after the
// batch header), Kafka's DefaultRecord layout. Each record's offset delta must
// equal its index and b must hold exactly count records. It also finds the
// first record whose timestamp is >= target and offset delta >= minDelta.
func walkRecords(b []byte, count int32, firstTs, target int64, minDelta int32) (walkResult, error) {
	res := walkResult{maxTs: -1}
	off := 0
	for i := int32(0); i < count; i++ {
		length, n := binary.Varint(b[off:])
		if n <= 0 || n > 5 || length < 0 || length > int64(len(b)-off-n) {
			return res, fmt.Errorf("%w: record %d: bad length", errRecord, i)
		}
		off += n
		rec := b[off : off+int(length)]
		off += int(length)
		ts, delta, err := parseRecord(rec)
		if err != nil {
			return res, fmt.Errorf("record %d: %w", i, err)
		}
		if err := res.observe(i, delta, firstTs+ts, target, minDelta); err != nil {
			return res, err
		}
	}
	if off != len(b) {
		return res, fmt.Errorf("%w: %d bytes after the last record", errRecord, len(b)-off)
	}
	return res, nil
}

// parseRecord checks one record body (after its length varint) and returns
// its timestamp delta and offset delta.
func parseRecord(rec []byte) (tsDelta int64, offsetDelta int32, err error) {
	if len(rec) < 1 {
		return 0, 0, fmt.Errorf("%w: empty record", errRecord)
	}
	off := 1 // attributes
	v, n := binary.Varint(rec[off:])
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: timestamp delta", errRecord)
	}
	tsDelta = v
	off += n
	v, n = binary.Varint(rec[off:])
	if n <= 0 || n > 5 || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%w: offset delta", errRecord)
	}
	offsetDelta = int32(v)
	off += n
	// key, value
	for f := 0; f < 2; f++ {
		v, n = binary.Varint(rec[off:])
		if n <= 0 || n > 5 || v < -1 || v > int64(len(rec)-off-n) {
			return 0, 0, fmt.Errorf("%w: key or value length", errRecord)
		}
		off += n
		if v > 0 {
			off += int(v)
		}
	}
	v, n = binary.Varint(rec[off:])
	if n <= 0 || n > 5 || v < 0 || v > int64(len(rec)) {
		return 0, 0, fmt.Errorf("%w: header count", errRecord)
	}
	off += n
	for h := int64(0); h < v; h++ {
		for f := 0; f < 2; f++ {
			l, m := binary.Varint(rec[off:])
			if m <= 0 || m > 5 || l < int64(f-1) || l > int64(len(rec)-off-m) {
				return 0, 0, fmt.Errorf("%w: header %d", errRecord, h)
			}
			off += m
			if l > 0 {
				off += int(l)
			}
		}
	}
	if off != len(rec) {
		return 0, 0, fmt.Errorf("%w: record length mismatch", errRecord)
	}
	return tsDelta, offsetDelta, nil
}

// walkCompressedRecords decompresses payload as a stream, never holding more
// than a buffer of it, and applies the checks of walkRecords. Output beyond
// MaxDecompressedBatchBytes is ErrInvalidRecord.
func walkCompressedRecords(codec int8, payload []byte, count int32, firstTs, target int64, minDelta int32) (walkResult, error) {
	res := walkResult{maxTs: -1}
	src, release, err := newDecompressor(codec, payload)
	if err != nil {
		return res, err
	}
	defer release()
	br := getBufReader(&limitedReader{r: src, n: decompressLimit})
	defer putBufReader(br)
	sr := streamRecordReader{r: br}
	for i := int32(0); i < count; i++ {
		ts, delta, err := sr.record()
		if err != nil {
			return res, fmt.Errorf("record %d: %w", i, err)
		}
		if err := res.observe(i, delta, firstTs+ts, target, minDelta); err != nil {
			return res, err
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return res, fmt.Errorf("%w: data after the last record", errRecord)
		}
		return res, decompressErr(err)
	}
	return res, nil
}

type streamRecordReader struct {
	r   *bufio.Reader
	err error
}

// varint reads a zigzag varint of at most max bytes and reports its size.
func (s *streamRecordReader) varint(max int) (int64, int) {
	var ux uint64
	for i := 0; i < max; i++ {
		c, err := s.r.ReadByte()
		if err != nil {
			s.err = decompressErr(err)
			return 0, 0
		}
		ux |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			x := int64(ux >> 1)
			if ux&1 != 0 {
				x = ^x
			}
			return x, i + 1
		}
	}
	s.err = fmt.Errorf("%w: varint too long", errRecord)
	return 0, 0
}

func (s *streamRecordReader) skip(n int64) {
	if _, err := s.r.Discard(int(n)); err != nil {
		s.err = decompressErr(err)
	}
}

func (s *streamRecordReader) record() (tsDelta int64, offsetDelta int32, err error) {
	length, _ := s.varint(5)
	if s.err != nil {
		return 0, 0, s.err
	}
	if length < 1 || length > decompressLimit {
		return 0, 0, fmt.Errorf("%w: record length %d", errRecord, length)
	}
	used := int64(1)
	s.skip(1) // attributes
	ts, n := s.varint(10)
	used += int64(n)
	od, n := s.varint(5)
	used += int64(n)
	if s.err != nil {
		return 0, 0, s.err
	}
	if od < math.MinInt32 || od > math.MaxInt32 {
		return 0, 0, fmt.Errorf("%w: offset delta", errRecord)
	}
	for f := 0; f < 2; f++ {
		l, n := s.varint(5)
		if s.err != nil {
			return 0, 0, s.err
		}
		if l < -1 || used+int64(n)+l > length {
			return 0, 0, fmt.Errorf("%w: key or value length", errRecord)
		}
		used += int64(n)
		if l > 0 {
			s.skip(l)
			used += l
		}
	}
	hc, n := s.varint(5)
	if s.err != nil {
		return 0, 0, s.err
	}
	used += int64(n)
	if hc < 0 || hc > length {
		return 0, 0, fmt.Errorf("%w: header count", errRecord)
	}
	for h := int64(0); h < hc; h++ {
		for f := 0; f < 2; f++ {
			l, n := s.varint(5)
			if s.err != nil {
				return 0, 0, s.err
			}
			if l < int64(f-1) || used+int64(n)+l > length {
				return 0, 0, fmt.Errorf("%w: header %d", errRecord, h)
			}
			used += int64(n)
			if l > 0 {
				s.skip(l)
				used += l
			}
		}
	}
	if s.err != nil {
		return 0, 0, s.err
	}
	if used != length {
		return 0, 0, fmt.Errorf("%w: record length mismatch", errRecord)
	}
	return ts, int32(od), nil
}

// decompressErr maps a read error from a decompressor to ErrInvalidRecord.
func decompressErr(err error) error {
	if errors.Is(err, ErrInvalidRecord) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: compressed payload: %v", ErrInvalidRecord, err)
}
