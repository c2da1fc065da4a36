package server

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFrameReaderRejectsSizeWithoutAllocating: a bad size prefix is rejected
// with zero allocations (fault matrix §8 rows 1, 2, 4, 5).
func TestFrameReaderRejectsSizeWithoutAllocating(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"-1", sizeOnly(-1), errNegativeSize},
		{"-2^31", sizeOnly(math.MinInt32), errNegativeSize},
		{"0", sizeOnly(0), errShortFrame},
		{"3", sizeOnly(3, 1, 2, 3), errShortFrame},
		{"max+1", sizeOnly(DefaultSocketRequestMaxBytes + 1), errFrameTooLarge},
		{"2^31-1", sizeOnly(math.MaxInt32), errFrameTooLarge},
		{"TLS ClientHello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, errFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.in)
			fr := frameReader{r: r, maxSize: DefaultSocketRequestMaxBytes}
			var err error
			allocs := testing.AllocsPerRun(100, func() {
				r.Reset(tt.in)
				_, err = fr.next()
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if allocs != 0 {
				t.Fatalf("%v allocations", allocs)
			}
		})
	}
}

// TestFrameReaderGrowsAsBytesArrive: a 100 MB claim backed by 10 bytes costs
// one read chunk, not 100 MB; a complete large frame still reads correctly.
func TestFrameReaderGrowsAsBytesArrive(t *testing.T) {
	in := sizeOnly(DefaultSocketRequestMaxBytes, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0)
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		fr := frameReader{r: bytes.NewReader(in), maxSize: DefaultSocketRequestMaxBytes}
		if _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > readChunk+4<<10 {
		t.Fatalf("allocated %d bytes per truncated 100 MB frame", per)
	}

	for _, n := range []int{minHeaderLen, readChunk - 1, readChunk, readChunk + 1, 3*readChunk + 17, 5 << 20} {
		payload := bytes.Repeat([]byte{0xab}, n)
		payload[n-1] = 0xcd
		fr := frameReader{r: bytes.NewReader(append(sizeOnly(int32(n)), payload...)), maxSize: DefaultSocketRequestMaxBytes}
		got, err := fr.next()
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: err %v, equal %v", n, err, bytes.Equal(got, payload))
		}
		if _, err := fr.next(); err != io.EOF {
			t.Fatalf("n=%d: after the frame: %v, want io.EOF", n, err)
		}
	}
}

// allKeys serves every kmsg key at every version, for the fuzz target.
type allKeys struct{}

func (allKeys) Versions(key int16) (int16, int16, bool) {
	if r := kmsg.RequestForKey(key); r != nil {
		return 0, r.MaxVersion(), true
	}
	return 0, 0, false
}

// FuzzFrame feeds bytes to the connection's frame reader and header decoder:
// they must never panic, and a decoded request always has a body.
func FuzzFrame(f *testing.F) {
	f.Add(testFormatter.AppendRequest(nil, metadataReq(12, "t"), 1))
	f.Add(testFormatter.AppendRequest(nil, produceReq(3, 1, "t"), 2))
	f.Add(rawFrame(18, 99, 3, nil, noTags, nil))
	f.Add(sizeOnly(-1))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := frameReader{r: bytes.NewReader(data), maxSize: 1 << 20}
		for range 16 {
			frame, err := fr.next()
			if err != nil {
				return
			}
			req, err := decodeFrame(frame, allKeys{}, false)
			if err == nil && req.Body == nil {
				t.Fatal("decoded request without body")
			}
			if err != nil {
				return
			}
		}
	})
}
