package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sink is the client-bound ceiling of the produce benchmark: a Kafka server
// that answers ApiVersions, Metadata and Produce (acks 0 and 1) with kmsg
// types and stores nothing. Every Metadata answer names one broker (node 0,
// the address it listens on, also the controller) and any requested topic
// with Partitions partitions led by that broker; a Produce is answered with
// base offsets counted per partition from the batch headers, so a client
// sees a well-formed log that is never written.
//
// It uses the connection shape of a real broker (a reader and a writer
// goroutine per connection, responses in request order) so the only work it
// skips is the work a broker exists for.
type Sink struct {
	// Partitions is the partition count of every topic, 8 when zero.
	Partitions int32

	mu      sync.Mutex
	offsets map[string][]int64 // next offset per topic partition
}

// sinkAPIs are the versions the sink advertises; each is served by kmsg.
var sinkAPIs = []kmsg.ApiVersionsResponseApiKey{
	{ApiKey: 0, MinVersion: 3, MaxVersion: 11}, // Produce (v12+ adds nothing we need, v13 topic ids)
	{ApiKey: 3, MinVersion: 0, MaxVersion: 12}, // Metadata
	{ApiKey: 18, MinVersion: 0, MaxVersion: 4}, // ApiVersions
}

// Serve accepts connections on ln until it is closed.
func (s *Sink) Serve(ln net.Listener) error {
	host, portStr, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.serveConn(c, host, int32(port))
	}
}

type sinkResp struct {
	corr     int32
	flexible bool // response header v1: a tag section after the correlation id
	resp     kmsg.Response
}

func (s *Sink) serveConn(c net.Conn, host string, port int32) {
	defer c.Close()
	out := make(chan sinkResp, 16)
	done := make(chan struct{})
	go func() { // writer
		defer close(done)
		w := bufio.NewWriterSize(c, 64<<10)
		var buf []byte
		for r := range out {
			buf = append(buf[:0], 0, 0, 0, 0)
			buf = binary.BigEndian.AppendUint32(buf, uint32(r.corr))
			if r.flexible {
				buf = append(buf, 0)
			}
			buf = r.resp.AppendTo(buf)
			binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
			if _, err := w.Write(buf); err != nil {
				return
			}
			if len(out) == 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(out); <-done }()

	r := bufio.NewReaderSize(c, 64<<10)
	var frame []byte
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 8 || n > 100<<20 {
			return
		}
		if cap(frame) < int(n) {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		resp, corr, flexible, err := s.handle(frame, host, port)
		if err != nil {
			return // malformed: close this connection alone
		}
		if resp != nil {
			out <- sinkResp{corr: corr, flexible: flexible, resp: resp}
		}
	}
}

// handle decodes one request frame (after the size) and builds its response;
// a nil response with a nil error means none is sent (acks=0 produce).
func (s *Sink) handle(frame []byte, host string, port int32) (kmsg.Response, int32, bool, error) {
	key := int16(binary.BigEndian.Uint16(frame[0:]))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	body := frame[8:]
	if len(body) < 2 {
		return nil, 0, false, errors.New("short header")
	}
	if idLen := int16(binary.BigEndian.Uint16(body)); idLen > 0 {
		if len(body) < 2+int(idLen) {
			return nil, 0, false, errors.New("short client id")
		}
		body = body[2+int(idLen):]
	} else {
		body = body[2:]
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, 0, false, fmt.Errorf("unknown api key %d", key)
	}
	var supported *kmsg.ApiVersionsResponseApiKey
	for i := range sinkAPIs {
		if sinkAPIs[i].ApiKey == key {
			supported = &sinkAPIs[i]
		}
	}
	if key == 18 && (version < 0 || version > supported.MaxVersion) {
		// Kafka answers an unsupported ApiVersions at v0 with our ranges.
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = sinkAPIs
		return resp, corr, false, nil
	}
	if supported == nil || version < supported.MinVersion || version > supported.MaxVersion {
		return nil, 0, false, fmt.Errorf("api key %d v%d not supported", key, version)
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, 0, false, err
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return nil, 0, false, err
	}
	flexible := req.IsFlexible() && key != 18 // ApiVersions always answers with header v0
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = sinkAPIs
		return resp, corr, flexible, nil
	case *kmsg.MetadataRequest:
		return s.metadata(req, host, port), corr, flexible, nil
	case *kmsg.ProduceRequest:
		resp := s.produce(req)
		if req.Acks == 0 {
			return nil, corr, flexible, nil
		}
		return resp, corr, flexible, nil
	}
	return nil, 0, false, fmt.Errorf("api key %d not handled", key)
}

func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[l:]
	for ; n > 0; n-- {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || uint64(len(b)-l) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[l+int(size):]
	}
	return b, nil
}

func (s *Sink) partitions() int32 {
	if s.Partitions <= 0 {
		return 8
	}
	return s.Partitions
}

// topicLocked returns the offsets of topic, creating it. s.mu must be held.
func (s *Sink) topicLocked(topic string) []int64 {
	if s.offsets == nil {
		s.offsets = make(map[string][]int64)
	}
	offs, ok := s.offsets[topic]
	if !ok {
		offs = make([]int64, s.partitions())
		s.offsets[topic] = offs
	}
	return offs
}

func (s *Sink) metadata(req *kmsg.MetadataRequest, host string, port int32) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 0, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	resp.ClusterID = kmsg.StringPtr("gregor-bench-sink")
	resp.ControllerID = 0

	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	if req.Topics == nil {
		for t := range s.offsets {
			names = append(names, t)
		}
	}
	for _, t := range req.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
			s.topicLocked(*t.Topic)
		}
	}
	for i, name := range names {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = kmsg.StringPtr(name)
		t.TopicID = [16]byte{0: 0x5b, 15: byte(i + 1)}
		for p := int32(0); p < s.partitions(); p++ {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader = p, 0
			mp.Replicas, mp.ISR = []int32{0}, []int32{0}
			t.Partitions = append(t.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (s *Sink) produce(req *kmsg.ProduceRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range req.Topics {
		offs := s.topicLocked(t.Topic)
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LogAppendTime = -1
			if p.Partition < 0 || p.Partition >= int32(len(offs)) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				rp.BaseOffset = offs[p.Partition]
				offs[p.Partition] += countRecords(p.Records)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// countRecords sums NumRecords over the v2 record batches in b, reading only
// the batch headers (length at byte 8, record count at byte 57).
func countRecords(b []byte) int64 {
	var n int64
	for len(b) >= 61 {
		l := int(binary.BigEndian.Uint32(b[8:])) + 12
		n += int64(int32(binary.BigEndian.Uint32(b[57:])))
		if l > len(b) || l < 61 {
			break
		}
		b = b[l:]
	}
	return n
}
