package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Byte offsets of the fields of a magic-2 record batch header, in the order
// of kmsg.RecordBatch. The hot paths read these fields in place rather than
// decoding a kmsg.RecordBatch (whose ReadFrom copies the records).
const (
	batchOffBaseOffset      = 0
	batchOffLength          = 8
	batchOffLeaderEpoch     = 12
	batchOffMagic           = 16
	batchOffCRC             = 17
	batchOffAttributes      = 21
	batchOffLastOffsetDelta = 23
	batchOffFirstTimestamp  = 27
	batchOffMaxTimestamp    = 35
	batchOffProducerID      = 43
	batchOffProducerEpoch   = 51
	batchOffBaseSequence    = 53
	batchOffNumRecords      = 57

	// batchHeaderSize is the size of the fixed header (through NumRecords).
	batchHeaderSize = 61
	// batchLogOverhead is the part not counted by the Length field.
	batchLogOverhead = 12
	// batchMinLength is the smallest valid Length field.
	batchMinLength = batchHeaderSize - batchLogOverhead

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func batchBaseOffset(b []byte) int64 { return int64(binary.BigEndian.Uint64(b[batchOffBaseOffset:])) }
func batchLength(b []byte) int32     { return int32(binary.BigEndian.Uint32(b[batchOffLength:])) }
func batchLastOffsetDelta(b []byte) int32 {
	return int32(binary.BigEndian.Uint32(b[batchOffLastOffsetDelta:]))
}
func batchMaxTimestamp(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b[batchOffMaxTimestamp:]))
}
func batchAttributes(b []byte) int16 { return int16(binary.BigEndian.Uint16(b[batchOffAttributes:])) }
func batchLeaderEpoch(b []byte) int32 {
	return int32(binary.BigEndian.Uint32(b[batchOffLeaderEpoch:]))
}

// batchCRCValid reports whether the CRC-32C stored in the header matches the
// bytes from the attributes to the end of the batch. b is exactly one batch.
func batchCRCValid(b []byte) bool {
	return binary.BigEndian.Uint32(b[batchOffCRC:]) == crc32.Checksum(b[batchOffAttributes:], castagnoli)
}

func setBatchCRC(b []byte) {
	binary.BigEndian.PutUint32(b[batchOffCRC:], crc32.Checksum(b[batchOffAttributes:], castagnoli))
}

// readBatchHeader decodes the fixed header of b (at least batchHeaderSize
// bytes) into a kmsg.RecordBatch without its records. For tools and tests; the
// append and read paths use the accessors above.
func readBatchHeader(b []byte) kmsg.RecordBatch {
	be := binary.BigEndian
	return kmsg.RecordBatch{
		FirstOffset:          int64(be.Uint64(b[batchOffBaseOffset:])),
		Length:               int32(be.Uint32(b[batchOffLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[batchOffLeaderEpoch:])),
		Magic:                int8(b[batchOffMagic]),
		CRC:                  int32(be.Uint32(b[batchOffCRC:])),
		Attributes:           int16(be.Uint16(b[batchOffAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[batchOffLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[batchOffFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[batchOffMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[batchOffProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[batchOffProducerEpoch:])),
		FirstSequence:        int32(be.Uint32(b[batchOffBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[batchOffNumRecords:])),
	}
}

// forEachBatchHeader calls fn with the header of every whole batch whose
// base offset is in [from, to), in log order; op names the caller in
// errors. The header slice is reused between calls.
func forEachBatchHeader(segs []*segment, from, to int64, op string, fn func(hdr []byte)) error {
	var hdr [batchHeaderSize]byte
	for i, s := range segs {
		end := to
		if i+1 < len(segs) {
			end = min(end, segs[i+1].base)
		}
		if end <= from || s.base >= to {
			continue
		}
		size := s.size.Load()
		bp, ok, err := s.find(from, size)
		if err != nil {
			return fmt.Errorf("%s from segment %d: %w", op, s.base, err)
		}
		if !ok {
			continue
		}
		for pos := bp.pos; pos+batchHeaderSize <= size; {
			if _, err := s.file.ReadAt(hdr[:], pos); err != nil {
				return fmt.Errorf("%s from segment %d at %d: %w", op, s.base, pos, err)
			}
			length := int64(batchLength(hdr[:]))
			if length < batchMinLength || pos+batchLogOverhead+length > size || batchBaseOffset(hdr[:]) >= to {
				break
			}
			fn(hdr[:])
			pos += batchLogOverhead + length
		}
	}
	return nil
}
