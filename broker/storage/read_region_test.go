package storage

import (
	"errors"
	"math"
	"testing"
)

// TestReadRegionMatchesRead checks that ReadRegion names exactly the bytes
// Read copies, for offsets inside and at the edges of batches and segments,
// byte limits that cut batches, and high-watermark bounds.
func TestReadRegionMatchesRead(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	l := openTestLog(t, t.TempDir(), cfg, true)
	appendN(t, l, 40, 5, 100) // 40 batches of 5 records, several segments
	batchSize := int32(len(makeBatch(t, batchSpec{records: 5, valueSize: 100})))
	offsets := []int64{0, 7, 12, 99, 100, 101, 150, 195, 199, 200, 201, -1}
	maxBytes := []int32{0, 10, batchSize, batchSize*2 + 10, batchSize * 5, 1 << 20}
	maxOffsets := []int64{13, 15, 100, 160, math.MaxInt64}
	checked := 0
	for _, off := range offsets {
		for _, mb := range maxBytes {
			for _, mo := range maxOffsets {
				for _, minOne := range []bool{false, true} {
					want, werr := l.Read(off, mb, mo, minOne)
					got, gerr := l.ReadRegion(off, mb, mo, minOne)
					if (werr == nil) != (gerr == nil) || (werr != nil && !errors.Is(gerr, ErrOffsetOutOfRange)) {
						t.Fatalf("offset %d max %d bound %d minOne %v: Read err %v, ReadRegion err %v", off, mb, mo, minOne, werr, gerr)
					}
					if werr != nil {
						continue
					}
					if got.Records != nil {
						t.Fatalf("offset %d: ReadRegion returned %d bytes in memory", off, len(got.Records))
					}
					if got.Size != want.Size || (want.Size > 0 && (got.Position != want.Position || got.File != want.File)) {
						t.Fatalf("offset %d max %d bound %d minOne %v: region %d+%d, Read %d+%d", off, mb, mo, minOne, got.Position, got.Size, want.Position, want.Size)
					}
					checked++
				}
			}
		}
	}
	if checked < 200 {
		t.Fatalf("only %d combinations compared", checked)
	}
}
