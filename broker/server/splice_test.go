package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchDispatcher answers Fetch (v4–12) with record sets taken from a file,
// either spliced (SplicedResponse, sent with sendfile) or read into memory,
// and everything else like testDispatcher. Each requested partition p gets
// the file bytes at spans[p] (an empty span gives an empty record set).
type fetchDispatcher struct {
	testDispatcher
	file  *os.File
	spans []span // by partition
	// memory answers with the bytes read into memory instead of regions.
	memory bool
	// before, if set, runs after the response is built and before it is
	// queued: it may remove, close or truncate the file.
	before func()

	mu      sync.Mutex
	sawFlag bool // Request.FileRegions was set
}

type span struct{ pos, size int64 }

func (d *fetchDispatcher) Versions(key int16) (int16, int16, bool) {
	if key == 1 {
		return 4, 12, true
	}
	return d.testDispatcher.Versions(key)
}

func (d *fetchDispatcher) Handle(ctx context.Context, req *Request) (kmsg.Response, error) {
	if req.APIKey != 1 {
		return d.testDispatcher.Handle(ctx, req)
	}
	d.mu.Lock()
	d.sawFlag = req.FileRegions
	d.mu.Unlock()
	freq := req.Body.(*kmsg.FetchRequest)
	resp := freq.ResponseKind().(*kmsg.FetchResponse)
	sr := NewSplicedResponse(resp)
	for _, rt := range freq.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = 1000+int64(rp.Partition), 990, 7
			if freq.IsolationLevel == 1 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 3, FirstOffset: 4}}
			}
			s := d.spans[rp.Partition]
			switch {
			case s.size == 0:
				p.RecordBatches = []byte{}
			case d.memory:
				p.RecordBatches = make([]byte, s.size)
				if _, err := d.file.ReadAt(p.RecordBatches, s.pos); err != nil {
					return nil, err
				}
			default:
				p.RecordBatches = sr.Splice(FileRegion{File: d.file, Position: s.pos, Size: int32(s.size)})
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if d.before != nil {
		d.before()
	}
	if d.memory {
		return resp, nil
	}
	return sr, nil
}

// readFrame reads one raw response frame (without its size prefix).
func (c *testClient) readFrame() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c.nc, frame)
	return frame, err
}

func fetchReq(version int16, topics map[string][]int32, isolation int8) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.ReplicaID, req.MaxBytes, req.IsolationLevel = -1, 1<<20, isolation
	for _, name := range []string{"a", "b-topic"} {
		parts, ok := topics[name]
		if !ok {
			continue
		}
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = name
		for _, p := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes = p, 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// writeTestFile writes n random bytes to a new file in dir and opens it for reading.
func writeTestFile(t *testing.T, dir string, n int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(dir, "00000000000000000000.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// TestSplicedFetchMatchesInMemory: at every Fetch version we serve, a
// response whose record sets are sent from the file with sendfile is byte
// for byte the frame kmsg encodes with the same bytes in memory, including
// record sets whose compact length needs several bytes, empty record sets,
// a large region that fills the socket buffer, and several regions per
// response.
func TestSplicedFetchMatchesInMemory(t *testing.T) {
	f, data := writeTestFile(t, t.TempDir(), 3<<20)
	d := &fetchDispatcher{file: f, spans: []span{
		{0, 61},             // one small batch: 1-byte compact length
		{100, 0},            // empty
		{1000, 200},         // 2-byte compact length
		{5000, 2<<20 + 123}, // larger than the socket buffer
		{len64(data) - 9, 9},
	}}
	s := startServer(t, d, nil)
	c := dial(t, s)
	topics := map[string][]int32{"a": {0, 1, 2}, "b-topic": {3, 4, 0}}
	corr := int32(0)
	for version := int16(4); version <= 12; version++ {
		for _, isolation := range []int8{0, 1} {
			var frames [2][]byte
			for i, memory := range []bool{false, true} {
				d.memory = memory
				corr++
				c.send(fetchReq(version, topics, isolation), 77)
				frame, err := c.readFrame()
				if err != nil {
					t.Fatalf("v%d memory=%v: %v", version, memory, err)
				}
				frames[i] = frame
			}
			if !bytes.Equal(frames[0], frames[1]) {
				t.Fatalf("v%d isolation %d: spliced frame (%d bytes) differs from the in-memory one (%d bytes)", version, isolation, len(frames[0]), len(frames[1]))
			}
			// And it decodes to the file's bytes.
			resp := kmsg.NewPtrFetchResponse()
			resp.SetVersion(version)
			body := frames[0][4:]
			if resp.IsFlexible() {
				body = body[1:]
			}
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("v%d: decode: %v", version, err)
			}
			got := resp.Topics[1].Partitions[1].RecordBatches
			if want := data[len(data)-9:]; !bytes.Equal(got, want) {
				t.Fatalf("v%d: partition 4 records % x, want % x", version, got, want)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.sawFlag {
		t.Fatal("Request.FileRegions not set on a TCP connection")
	}
}

func len64(b []byte) int64 { return int64(len(b)) }

// TestSplicedRegionGone: the segment file of a queued response is deleted,
// closed or truncated before the writer sends it. Unlinked, it is still
// served whole (the open file keeps the inode); closed or shortened, the
// connection is closed without a partial frame being taken for a whole one,
// and the server keeps serving other clients.
func TestSplicedRegionGone(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(f *os.File) error
		wantSent bool
	}{
		{"unlinked", func(f *os.File) error { return os.Remove(f.Name()) }, true},
		{"closed", func(f *os.File) error { return f.Close() }, false},
		{"truncated", func(f *os.File) error { return os.Truncate(f.Name(), 4096) }, false},
		{"truncated to empty", func(f *os.File) error { return os.Truncate(f.Name(), 0) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, data := writeTestFile(t, t.TempDir(), 1<<20)
			d := &fetchDispatcher{file: f, spans: []span{{0, 100}, {2048, 512 << 10}}}
			var mutateErr error
			d.before = func() { mutateErr = tc.mutate(f) }
			s := startServer(t, d, nil)
			c := dial(t, s)
			c.send(fetchReq(12, map[string][]int32{"a": {0, 1}}, 0), 5)
			frame, err := c.readFrame()
			if mutateErr != nil {
				t.Fatal(mutateErr)
			}
			if !tc.wantSent {
				if err == nil {
					t.Fatalf("got a whole %d-byte frame from a region that is gone", len(frame))
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("want the connection closed, got %v", err)
				}
				checkServed(t, s)
				return
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			resp := kmsg.NewPtrFetchResponse()
			resp.SetVersion(12)
			if err := resp.ReadFrom(frame[5:]); err != nil {
				t.Fatal(err)
			}
			if got := resp.Topics[0].Partitions[1].RecordBatches; !bytes.Equal(got, data[2048:2048+512<<10]) {
				t.Fatalf("records differ (%d bytes)", len(got))
			}
			checkServed(t, s)
		})
	}
}

// TestPlanSpliceMissingPlaceholder: a handler that registers a region but
// does not put its placeholder in the response is a bug the writer reports
// (closing the connection) instead of sending a frame of the wrong size.
func TestPlanSpliceMissingPlaceholder(t *testing.T) {
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(11)
	sr := NewSplicedResponse(resp)
	sr.Splice(FileRegion{Size: 10})
	enc, err := encodeResponse(nil, outgoing{resp: sr, correlationID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := planSplice(nil, enc, sr); !errors.Is(err, errPlaceholderMissing) {
		t.Fatalf("want errPlaceholderMissing, got %v", err)
	}
}

// TestSplicePlanCopyFallback: written to something that is not a socket
// (no sendfile), a spliced response is copied from the file and still the
// frame kmsg encodes with the bytes in memory, at every Fetch version.
func TestSplicePlanCopyFallback(t *testing.T) {
	f, data := writeTestFile(t, t.TempDir(), 64<<10)
	for version := int16(4); version <= 12; version++ {
		build := func(spliced bool) *SplicedResponse {
			resp := kmsg.NewPtrFetchResponse()
			resp.SetVersion(version)
			sr := NewSplicedResponse(resp)
			for i, s := range []span{{0, 300}, {1000, 40000}, {50000, 1}} {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition = int32(i)
				if spliced {
					p.RecordBatches = sr.Splice(FileRegion{File: f, Position: s.pos, Size: int32(s.size)})
				} else {
					p.RecordBatches = data[s.pos : s.pos+s.size]
				}
				resp.Topics = append(resp.Topics, kmsg.FetchResponseTopic{Topic: "t", Partitions: []kmsg.FetchResponseTopicPartition{p}})
			}
			return sr
		}
		want, err := encodeResponse(nil, outgoing{resp: build(false), correlationID: 9})
		if err != nil {
			t.Fatal(err)
		}
		sr := build(true)
		enc, err := encodeResponse(nil, outgoing{resp: sr, correlationID: 9})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := planSplice(nil, enc, sr)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := plan.write(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("v%d: spliced frame (%d bytes) differs from the in-memory one (%d bytes)", version, got.Len(), len(want))
		}
	}
}
