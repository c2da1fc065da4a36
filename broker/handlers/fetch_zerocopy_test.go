package handlers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
	"github.com/gregor-broker/gregor/broker/storage"
)

// serve starts a network server for b's handlers on 127.0.0.1:0.
func (b *testBroker) serve(tweak func(*server.Config)) *server.Server {
	b.t.Helper()
	cfg := server.Config{Listeners: []server.ListenerConfig{{Name: clientListener, Addr: "127.0.0.1:0"}}}
	if tweak != nil {
		tweak(&cfg)
	}
	s := server.New(cfg, b.h, testLogger(b.t).WithField("component", "server"))
	if err := s.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { s.Close() })
	return s
}

var zcFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("zero-copy-test"))

// roundTrip sends req on nc and returns the response frame's body: after the
// correlation id and, for flexible versions, the header's tag section.
func roundTrip(nc net.Conn, req kmsg.Request, corr int32) ([]byte, error) {
	if _, err := nc.Write(zcFormatter.AppendRequest(nil, req, corr)); err != nil {
		return nil, err
	}
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, frame); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return nil, errors.New("correlation id mismatch")
	}
	body := frame[4:]
	if req.IsFlexible() {
		body = body[1:]
	}
	return body, nil
}

// TestFetchZeroCopyMatchesCopy: at every Fetch version (4–12), a fetch
// served over TCP, whose record sets go from the segment files to the
// socket with sendfile, is byte for byte the response the same fetch gets
// with the records read into memory (the copy-based path), for reads from
// the start, the middle and the end of segments, byte limits that cut
// batches, and the at-least-one-batch rule.
func TestFetchZeroCopyMatchesCopy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		minBytes int32 // Config.ZeroCopyMinBytes
	}{
		{"every record set spliced", -1},
		{"small record sets copied", 1500},
		{"default threshold", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { testFetchZeroCopyMatchesCopy(t, tc.minBytes) })
	}
}

func testFetchZeroCopyMatchesCopy(t *testing.T, minBytes int32) {
	b := newTestBroker(t, withLogConfig(func(lc *storage.LogConfig) { lc.SegmentBytes = 16 << 10 }),
		withConfig(func(c *Config) { c.ZeroCopyMinBytes = minBytes }))
	b.addTopic("z", testBrokerID, testBrokerID, testBrokerID)
	for i := range 30 {
		for p := range int32(3) {
			vals := make([]string, 1+i%4)
			for j := range vals {
				vals[j] = strings.Repeat(string(rune('a'+j)), 50+100*int(p)+7*i)
			}
			if r := b.produce("z", p, makeBatch(batchOpts{}, vals...)); r.ErrorCode != 0 {
				t.Fatalf("produce: %s", codeName(r.ErrorCode))
			}
		}
	}
	s := b.serve(nil)
	nc, err := net.Dial("tcp", s.Addr(clientListener).String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	type part struct {
		offset   int64
		maxBytes int32
	}
	cases := []struct {
		name     string
		parts    []part // partitions 0, 1, 2
		maxBytes int32
	}{
		{"from the start", []part{{0, 1 << 20}, {0, 1 << 20}, {0, 1 << 20}}, 1 << 20},
		{"middle of segments", []part{{17, 1 << 20}, {40, 1 << 20}, {55, 1 << 20}}, 1 << 20},
		{"partition limits cut batches", []part{{3, 700}, {9, 2500}, {0, 5000}}, 1 << 20},
		{"response limit", []part{{0, 1 << 20}, {0, 1 << 20}, {0, 1 << 20}}, 3000},
		{"at least one batch", []part{{20, 1}, {20, 1}, {20, 1}}, 1},
		{"log end", []part{{75, 1 << 20}, {1000, 1 << 20}, {74, 1 << 20}}, 1 << 20},
	}
	corr := int32(0)
	spliced := 0
	for version := int16(4); version <= 12; version++ {
		for _, tc := range cases {
			req := kmsg.NewPtrFetchRequest()
			req.SetVersion(version)
			req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, tc.maxBytes, -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "z"
			for p, pp := range tc.parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = int32(p), pp.offset, pp.maxBytes, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = []kmsg.FetchRequestTopic{rt}

			corr++
			got, err := roundTrip(nc, req, corr)
			if err != nil {
				t.Fatalf("v%d %s: %v", version, tc.name, err)
			}
			// The copy-based answer to the same request.
			sreq := &server.Request{APIKey: 1, APIVersion: version, Body: req, Listener: clientListener}
			resp, err := b.h.Handle(context.Background(), sreq)
			if err != nil {
				t.Fatal(err)
			}
			resp.SetVersion(version)
			if want := resp.AppendTo(nil); !bytes.Equal(got, want) {
				t.Fatalf("v%d %s: zero-copy response (%d bytes) differs from the copy-based one (%d bytes)", version, tc.name, len(got), len(want))
			}
			// The TCP path did splice (it is not the copy path twice).
			sreq.FileRegions = true
			zresp, err := b.h.Handle(context.Background(), sreq)
			if err != nil {
				t.Fatal(err)
			}
			if sr, ok := zresp.(*server.SplicedResponse); ok {
				spliced += len(sr.Regions())
			}
		}
	}
	switch {
	case minBytes != 0 && spliced == 0:
		t.Fatal("no fetch was answered with file regions")
	case minBytes == 0 && spliced > 0:
		t.Fatalf("%d record sets below the default threshold were spliced", spliced)
	}
}

// TestFetchZeroCopySegmentDeletedWhileQueued: a large zero-copy response is
// stuck in the writer (the client does not read, the socket buffers are
// tiny) while its topic is deleted, which closes and removes the segment
// files. The broker must not crash: the client gets either the whole,
// correct response or a closed connection, and the broker keeps serving.
func TestFetchZeroCopySegmentDeletedWhileQueued(t *testing.T) {
	b := newTestBroker(t)
	b.addTopic("gone", testBrokerID)
	big := strings.Repeat("x", 200<<10)
	var want []string
	for range 20 { // 4 MB in one segment
		if r := b.produce("gone", 0, makeBatch(batchOpts{}, big)); r.ErrorCode != 0 {
			t.Fatalf("produce: %s", codeName(r.ErrorCode))
		}
		want = append(want, big)
	}
	s := b.serve(func(c *server.Config) { c.SendBufferBytes = 4096 })
	nc, err := net.Dial("tcp", s.Addr(clientListener).String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(4096)

	req := fetchRequest("gone", 0, 0, 0, 1)
	req.MaxBytes = 50 << 20
	req.Topics[0].Partitions[0].PartitionMaxBytes = 50 << 20
	req.SetVersion(12)
	if _, err := nc.Write(zcFormatter.AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	// Let the writer fill the socket, then delete the topic under it.
	time.Sleep(200 * time.Millisecond)
	b.removeTopic("gone", 1)

	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	frame, err := io.ReadAll(nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection neither answered nor closed: %d bytes read", len(frame))
	}
	if len(frame) >= 4 && int(binary.BigEndian.Uint32(frame))+4 == len(frame) {
		// Served whole before the files went away: it must be right.
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(12)
		if err := resp.ReadFrom(frame[9:]); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got := readValues(t, resp.Topics[0].Partitions[0].RecordBatches); len(got) != len(want) {
			t.Fatalf("%d records, want %d", len(got), len(want))
		}
	} else {
		t.Logf("connection closed after %d bytes, as expected", len(frame))
	}

	// The broker still serves: a new connection, a fetch of the deleted
	// topic gets an error code, not a dropped connection.
	nc2, err := net.Dial("tcp", s.Addr(clientListener).String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	req2 := fetchRequest("gone", 0, 0, 0, 1)
	req2.SetVersion(12)
	body, err := roundTrip(nc2, req2, 2)
	if err != nil {
		t.Fatalf("second client: %v", err)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code == 0 {
		t.Fatal("fetch of a deleted topic succeeded")
	}
}
