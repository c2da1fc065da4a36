package server

import (
	"encoding/binary"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wire builds raw protocol bytes for hostile inputs.
type wire []byte

func (w wire) i8(v int8) wire        { return append(w, byte(v)) }
func (w wire) i16(v int16) wire      { return binary.BigEndian.AppendUint16(w, uint16(v)) }
func (w wire) i32(v int32) wire      { return binary.BigEndian.AppendUint32(w, uint32(v)) }
func (w wire) i64(v int64) wire      { return binary.BigEndian.AppendUint64(w, uint64(v)) }
func (w wire) str(s string) wire     { return append(w.i16(int16(len(s))), s...) }
func (w wire) uvarint(u uint32) wire { return kbin.AppendUvarint(w, u) }
func (w wire) raw(b ...byte) wire    { return append(w, b...) }
func (w wire) cstr(s string) wire    { return append(w.uvarint(uint32(len(s)+1)), s...) }
func (w wire) zeros(n int) wire      { return append(w, make([]byte, n)...) }
func (w wire) repeat(n int, b ...byte) wire {
	return append(w, []byte(strings.Repeat(string(b), n))...)
}

// rawFrame is a size-prefixed request: header v1, plus the v2 tag section
// when headerTags is not nil, then body.
func rawFrame(key, version int16, corr int32, clientID *string, headerTags []byte, body []byte) []byte {
	w := wire(nil).i32(0).i16(key).i16(version).i32(corr)
	if clientID == nil {
		w = w.i16(-1)
	} else {
		w = w.str(*clientID)
	}
	if headerTags != nil {
		w = append(w, headerTags...)
	}
	w = append(w, body...)
	binary.BigEndian.PutUint32(w, uint32(len(w)-4))
	return w
}

func sizeOnly(size int32, rest ...byte) []byte { return wire(nil).i32(size).raw(rest...) }

var (
	cid      = kmsg.StringPtr("bad-client")
	noTags   = []byte{0}
	produce3 = wire(nil).i16(-1).i16(1).i32(1000) // transactional id null, acks 1, timeout: then topics
)

// TestBadInput runs the fault matrix §8 framing, header and body rows: each
// case either closes the connection or is answered, allocates little, and
// afterwards a second client is still served.
func TestBadInput(t *testing.T) {
	type outcome int
	const (
		closed outcome = iota
		answered
	)
	tests := []struct {
		name  string
		row   int
		send  []byte
		want  outcome
		respV int16 // response version when answered
		check func(t *testing.T, resp kmsg.Response)
	}{
		// Framing.
		{name: "size -1", row: 1, send: sizeOnly(-1), want: closed},
		{name: "size -2^31", row: 1, send: sizeOnly(math.MinInt32), want: closed},
		{name: "size 0", row: 1, send: sizeOnly(0), want: closed},
		{name: "size max+1", row: 2, send: sizeOnly(DefaultSocketRequestMaxBytes + 1), want: closed},
		{name: "size 2^31-1", row: 2, send: sizeOnly(math.MaxInt32, 0, 18, 0, 0), want: closed},
		{name: "size 3", row: 4, send: sizeOnly(3, 0, 18, 0), want: closed},
		{name: "size 9 (below header)", row: 4, send: sizeOnly(9, 0, 18, 0, 0, 0, 0, 0, 1, 0), want: closed},
		{name: "TLS ClientHello", row: 5, send: []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, want: closed},
		{name: "declared 100 MB, 10 bytes sent then EOF", row: 5, send: sizeOnly(DefaultSocketRequestMaxBytes, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0), want: closed},

		// Header.
		{name: "api key -1", row: 7, send: rawFrame(-1, 0, 1, cid, nil, nil), want: closed},
		{name: "api key 9999", row: 7, send: rawFrame(9999, 0, 1, cid, nil, nil), want: closed},
		{name: "api key MaxKey+1", row: 7, send: rawFrame(kmsg.MaxKey+1, 0, 1, cid, nil, nil), want: closed},
		{name: "known kmsg key we do not serve (Fetch)", row: 7, send: rawFrame(1, 4, 1, cid, nil, nil), want: closed},
		{name: "Produce v99", row: 8, send: rawFrame(0, 99, 1, cid, noTags, nil), want: closed},
		{name: "Produce v2 (below min)", row: 8, send: rawFrame(0, 2, 1, cid, nil, produce3.i32(0)), want: closed},
		{name: "Metadata v13", row: 8, send: rawFrame(3, 13, 1, cid, noTags, wire(nil).raw(1, 0, 0)), want: closed},
		{name: "Metadata v-1", row: 8, send: rawFrame(3, -1, 1, cid, nil, wire(nil).i32(0)), want: closed},
		{name: "ApiVersions v99", row: 9, send: rawFrame(18, 99, 7, cid, noTags, []byte("future body")), want: answered, respV: 0,
			check: func(t *testing.T, resp kmsg.Response) {
				r := resp.(*kmsg.ApiVersionsResponse)
				if r.ErrorCode != 35 || len(r.ApiKeys) != len(testVersions) {
					t.Fatalf("want error 35 and our ranges, got %d, %d keys", r.ErrorCode, len(r.ApiKeys))
				}
			}},
		{name: "client id length 32767", row: 11, send: rawFrame(3, 1, 7, kmsg.StringPtr(strings.Repeat("c", 32767)), nil, wire(nil).i32(0)), want: answered, respV: 1},
		{name: "client id null", row: 11, send: rawFrame(3, 1, 7, nil, nil, wire(nil).i32(0)), want: answered, respV: 1},
		{name: "client id longer than frame", row: 11, send: rawFrame(3, 1, 7, nil, nil, nil)[:12:12], want: closed},
		{name: "header tags: size beyond frame", row: 11, send: rawFrame(3, 9, 7, cid, []byte{1, 0, 50}, nil), want: closed},
		{name: "header tags: count 2^32-1, no bytes", row: 11, send: rawFrame(3, 9, 7, cid, wire(nil).uvarint(math.MaxUint32), nil), want: closed},
		{name: "header tags: 6-byte uvarint", row: 11, send: rawFrame(3, 9, 7, cid, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, nil), want: closed},
		{name: "header tags: one unknown tag", row: 11, send: rawFrame(3, 9, 7, cid, []byte{1, 5, 2, 'h', 'i'}, wire(nil).raw(1, 0, 0, 0, 0)), want: answered, respV: 9},

		// Body: array lengths.
		{name: "Metadata topics INT32_MAX, 8 bytes left", row: 13, send: rawFrame(3, 1, 1, cid, nil, wire(nil).i32(math.MaxInt32).zeros(8)), want: closed},
		{name: "Metadata topics 1e6, 8 bytes left", row: 13, send: rawFrame(3, 1, 1, cid, nil, wire(nil).i32(1_000_000).zeros(8)), want: closed},
		{name: "Metadata v9 topics 1e6, 8 bytes left", row: 13, send: rawFrame(3, 9, 1, cid, noTags, wire(nil).uvarint(1_000_001).zeros(8)), want: closed},
		{name: "Produce topics INT32_MAX, 8 bytes left", row: 13, send: rawFrame(0, 3, 1, cid, nil, produce3.i32(math.MaxInt32).zeros(8)), want: closed},
		{name: "Produce topics 1e6, 8 bytes left", row: 13, send: rawFrame(0, 3, 1, cid, nil, produce3.i32(1_000_000).zeros(8)), want: closed},
		{name: "Produce partitions 1e6, 8 bytes left", row: 13, send: rawFrame(0, 3, 1, cid, nil, produce3.i32(1).str("t").i32(1_000_000).zeros(8)), want: closed},
		{name: "OffsetCommit partitions 1e6, 8 bytes left", row: 13,
			send: rawFrame(8, 2, 1, cid, nil, wire(nil).str("g").i32(1).str("m").i64(-1).i32(1).str("t").i32(1_000_000).zeros(8)), want: closed},
		// kmsg reads −2 as an empty array (Kafka: null for nullable, close otherwise).
		{name: "Metadata topics -2", row: 13, send: rawFrame(3, 1, 7, cid, nil, wire(nil).i32(-2)), want: answered, respV: 1},
		{name: "Produce topics -2", row: 13, send: rawFrame(0, 3, 7, cid, nil, produce3.i32(-2)), want: answered, respV: 3},

		// Body: compact lengths.
		{name: "compact array length: 6-byte uvarint", row: 14, send: rawFrame(3, 9, 1, cid, noTags, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0}), want: closed},
		{name: "compact string length overflows int32", row: 14, send: rawFrame(3, 9, 1, cid, noTags, wire(nil).uvarint(2).uvarint(math.MaxUint32).zeros(4)), want: closed},
		{name: "compact array length overflows int32", row: 14, send: rawFrame(3, 9, 7, cid, noTags, wire(nil).uvarint(math.MaxUint32).raw(0, 0, 0, 0)), want: answered, respV: 9},
		{name: "compact null for non-nullable Produce topics", row: 14, send: rawFrame(0, 9, 7, cid, noTags, wire(nil).uvarint(0).i16(1).i32(1000).uvarint(0).raw(0)), want: answered, respV: 9},

		// Body: strings.
		{name: "topic name length -5", row: 15, send: rawFrame(3, 1, 1, cid, nil, wire(nil).i32(1).i16(-5).zeros(4)), want: closed},
		{name: "topic name longer than body", row: 15, send: rawFrame(3, 1, 1, cid, nil, wire(nil).i32(1).i16(100).raw('a', 'b', 'c')), want: closed},
		{name: "topic name invalid UTF-8 (handler's job)", row: 15, send: rawFrame(3, 1, 7, cid, nil, wire(nil).i32(1).i16(2).raw(0xff, 0xfe)), want: answered, respV: 1},

		// Body: tagged fields (Metadata v9 body: topics, three bools, tags).
		{name: "body tags: duplicate tag", row: 16, send: rawFrame(3, 9, 7, cid, noTags, wire(nil).raw(1, 0, 0, 0).raw(2, 7, 1, 'x', 7, 1, 'y')), want: answered, respV: 9},
		{name: "body tags: out of order", row: 16, send: rawFrame(3, 9, 7, cid, noTags, wire(nil).raw(1, 0, 0, 0).raw(2, 9, 1, 'x', 3, 1, 'y')), want: answered, respV: 9},
		{name: "body tags: size beyond body", row: 16, send: rawFrame(3, 9, 1, cid, noTags, wire(nil).raw(1, 0, 0, 0).raw(1, 9, 100, 'x')), want: closed},
		{name: "body tags: 1e5 unknown tags", row: 16, send: rawFrame(3, 9, 7, cid, noTags, hundredThousandTags()), want: answered, respV: 9},

		// Trailing bytes after a valid body: ignored, like Kafka.
		{name: "trailing garbage", row: 17, send: rawFrame(3, 1, 7, cid, nil, wire(nil).i32(1).str("t").raw([]byte("garbage")...)), want: answered, respV: 1},
	}
	s := startServer(t, &testDispatcher{}, func(c *Config) { c.FrameTimeout = 500 * time.Millisecond })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			c.write(tt.send)
			switch tt.want {
			case closed:
				c.expectClosed(20 * time.Second)
			case answered:
				key := int16(binary.BigEndian.Uint16(tt.send[4:]))
				resp := c.mustRead(key, tt.respV, 7)
				if tt.check != nil {
					tt.check(t, resp)
				}
			}
			runtime.ReadMemStats(&after)
			// Fault matrix §8 (b): at most max(8 × bytes received,
			// 64 KiB), plus slack for the test client and logging in
			// the same process.
			const slack = 256 << 10
			limit := max(8*uint64(len(tt.send)), 64<<10) + slack
			if tt.row == 16 && tt.want == answered {
				// kmsg keeps unknown tags in a map: ~30 bytes
				// per 3-byte tag (reported, not ours to fix).
				limit = 40*uint64(len(tt.send)) + slack
			}
			got := after.TotalAlloc - before.TotalAlloc
			t.Logf("row %d: %d bytes sent, %d bytes allocated in the process", tt.row, len(tt.send), got)
			if got > limit {
				t.Errorf("row %d: allocated %d bytes for %d bytes sent (limit %d)", tt.row, got, len(tt.send), limit)
			}
			c.nc.Close()
			checkServed(t, s)
		})
	}
}

// hundredThousandTags is a Metadata v9 body (no topics) ending in 10^5
// distinct unknown tags of zero length.
func hundredThousandTags() []byte {
	w := wire(nil).raw(1, 0, 0, 0).uvarint(100_000)
	for i := range uint32(100_000) {
		w = w.uvarint(100 + i).uvarint(0)
	}
	return w
}

// TestKmsgHugeBodyTagCount documents a kmsg v1.15.0 limitation: a body tag
// count of 2^32-1 with no bytes behind it makes kmsg's tag reader loop once
// per claimed tag (minutes of CPU) before failing. The header's tags are ours
// and stop early (TestBadInput); the body's are kmsg's. Enable with
// GREGOR_KMSG_KNOWN_ISSUES=1 once kmsg is patched.
func TestKmsgHugeBodyTagCount(t *testing.T) {
	if testing.Short() || !knownIssuesEnabled() {
		t.Skip("kmsg loops up to 2^32 times on a huge tagged-field count; see doc.go")
	}
	s := startServer(t, &testDispatcher{}, nil)
	c := dial(t, s)
	c.write(rawFrame(3, 9, 1, cid, noTags, wire(nil).raw(1, 0, 0, 0).uvarint(math.MaxUint32)))
	c.expectClosed(2 * time.Second)
	checkServed(t, s)
}

func knownIssuesEnabled() bool { return os.Getenv("GREGOR_KMSG_KNOWN_ISSUES") == "1" }
