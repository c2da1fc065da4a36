package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testDispatcher serves ApiVersions, Metadata, Produce and OffsetCommit with
// kmsg types and records what it got. Metadata topic names steer it: "panic"
// panics, "error" returns an error, "block" blocks until ctx is done, "park"
// blocks until ctx is done and then answers.
type testDispatcher struct {
	maxSleep time.Duration // random sleep per Metadata request, if > 0

	mu  sync.Mutex
	got []*Request
}

var testVersions = map[int16][2]int16{
	0:  {3, 9},  // Produce
	3:  {0, 12}, // Metadata
	8:  {2, 8},  // OffsetCommit
	18: {0, 3},  // ApiVersions
}

func (d *testDispatcher) Versions(key int16) (int16, int16, bool) {
	v, ok := testVersions[key]
	return v[0], v[1], ok
}

func (d *testDispatcher) requests() []*Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Request(nil), d.got...)
}

func (d *testDispatcher) Handle(ctx context.Context, req *Request) (kmsg.Response, error) {
	d.mu.Lock()
	d.got = append(d.got, req)
	d.mu.Unlock()
	switch body := req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := body.ResponseKind().(*kmsg.ApiVersionsResponse)
		if _, hi, _ := d.Versions(18); req.APIVersion > hi {
			resp.ErrorCode = 35 // UNSUPPORTED_VERSION
		}
		for key, v := range testVersions {
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: v[0], MaxVersion: v[1]})
		}
		return resp, nil
	case *kmsg.MetadataRequest:
		if d.maxSleep > 0 {
			time.Sleep(rand.N(d.maxSleep))
		}
		resp := body.ResponseKind().(*kmsg.MetadataResponse)
		resp.ClusterID = kmsg.StringPtr("test-cluster")
		for _, tp := range body.Topics {
			name := ""
			if tp.Topic != nil {
				name = *tp.Topic
			}
			switch name {
			case "panic":
				panic("test panic")
			case "error":
				return nil, errors.New("test error")
			case "block":
				<-ctx.Done()
				return nil, ctx.Err()
			case "park":
				<-ctx.Done() // answers when the server closes, as a parked acks=all produce does
			}
			rt := kmsg.NewMetadataResponseTopic()
			rt.Topic = kmsg.StringPtr(name)
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	case *kmsg.ProduceRequest:
		if body.Acks == 0 {
			return nil, nil
		}
		resp := body.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range body.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	case *kmsg.OffsetCommitRequest:
		return body.ResponseKind(), nil
	}
	return nil, fmt.Errorf("unexpected request %T", req.Body)
}

// testLogWriter sends log lines to t.Log (hashicorp's testLoggerAdapter).
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(testLogWriter{t})
	l.SetLevel(logrus.DebugLevel)
	return l.WithField("component", "server")
}

// startServer starts a server on 127.0.0.1:0 with short timeouts; Close is
// registered as a cleanup.
func startServer(t *testing.T, d Dispatcher, tweak func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Listeners:    []ListenerConfig{{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}},
		FrameTimeout: 2 * time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s := New(cfg, d, testLogger(t))
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testClient is a raw Kafka client over one TCP connection.
type testClient struct {
	t  *testing.T
	nc net.Conn
}

func dial(t *testing.T, s *Server) *testClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr("PLAINTEXT").String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &testClient{t: t, nc: nc}
}

var testFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("gregor-test"))

func (c *testClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *testClient) send(req kmsg.Request, corr int32) {
	c.t.Helper()
	c.write(testFormatter.AppendRequest(nil, req, corr))
}

// read reads one response frame and decodes it as key at version.
func (c *testClient) read(key, version int16) (int32, kmsg.Response, error) {
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second)) // generous: 2 shared cores
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return 0, nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, frame); err != nil {
		return 0, nil, err
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(version)
	if resp.IsFlexible() && key != apiVersionsKey {
		if len(body) == 0 || body[0] != 0 {
			return corr, nil, fmt.Errorf("response header tags: want one 0 byte, got % x", body[:min(len(body), 1)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return corr, nil, fmt.Errorf("decode %T v%d: %w", resp, version, err)
	}
	return corr, resp, nil
}

func (c *testClient) mustRead(key, version int16, wantCorr int32) kmsg.Response {
	c.t.Helper()
	corr, resp, err := c.read(key, version)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	if corr != wantCorr {
		c.t.Fatalf("correlation id: got %d, want %d", corr, wantCorr)
	}
	return resp
}

// expectClosed waits (up to within) for the server to close the connection
// without sending anything.
func (c *testClient) expectClosed(within time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(within))
	var b [1]byte
	n, err := c.nc.Read(b[:])
	var ne net.Error
	switch {
	case n > 0:
		c.t.Fatalf("expected close, got data")
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Fatalf("connection still open after %v", within)
	case err == nil:
		c.t.Fatalf("expected close")
	}
}

// checkServed proves the server still answers a new client normally.
func checkServed(t *testing.T, s *Server) {
	t.Helper()
	c := dial(t, s)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("healthy")}}
	c.send(req, 4242)
	resp := c.mustRead(3, 12, 4242).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || *resp.Topics[0].Topic != "healthy" {
		t.Fatalf("second client: unexpected response %+v", resp)
	}
	c.nc.Close()
}

func metadataReq(version int16, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(version)
	for _, name := range topics {
		req.Topics = append(req.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr(name)})
	}
	return req
}

func produceReq(version, acks int16, topics ...string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks = acks
	req.TimeoutMillis = 1000
	for _, name := range topics {
		tp := kmsg.NewProduceRequestTopic()
		tp.Topic = name
		tp.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: []byte{}}}
		req.Topics = append(req.Topics, tp)
	}
	return req
}

// rtCase is a request and a check of its decoded response.
type rtCase struct {
	name  string
	req   kmsg.Request
	check func(t *testing.T, resp kmsg.Response)
}

// TestRoundTrip covers flexible and non-flexible versions, and so the header
// tag byte handling both ways (ApiVersions v3 has none in its response).
func TestRoundTrip(t *testing.T) {
	d := &testDispatcher{}
	s := startServer(t, d, nil)
	var tests []rtCase
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
		tests = append(tests, rtCase{fmt.Sprintf("ApiVersions v%d", v), req, func(t *testing.T, resp kmsg.Response) {
			r := resp.(*kmsg.ApiVersionsResponse)
			if r.ErrorCode != 0 || len(r.ApiKeys) != len(testVersions) {
				t.Fatalf("got error %d, %d keys", r.ErrorCode, len(r.ApiKeys))
			}
		}})
	}
	for _, v := range []int16{0, 1, 4, 8, 9, 10, 12} {
		tests = append(tests, rtCase{fmt.Sprintf("Metadata v%d", v), metadataReq(v, "a", "b"), func(t *testing.T, resp kmsg.Response) {
			r := resp.(*kmsg.MetadataResponse)
			if len(r.Topics) != 2 || *r.Topics[0].Topic != "a" || *r.Topics[1].Topic != "b" {
				t.Fatalf("topics: %+v", r.Topics)
			}
		}})
	}
	for _, v := range []int16{3, 8, 9} {
		tests = append(tests, rtCase{fmt.Sprintf("Produce v%d", v), produceReq(v, 1, "p"), func(t *testing.T, resp kmsg.Response) {
			if r := resp.(*kmsg.ProduceResponse); len(r.Topics) != 1 || r.Topics[0].Topic != "p" {
				t.Fatalf("topics: %+v", r.Topics)
			}
		}})
	}
	c := dial(t, s)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			corr := int32(1000 + i)
			c.send(tt.req, corr)
			resp := c.mustRead(tt.req.Key(), tt.req.GetVersion(), corr)
			if resp.GetVersion() != tt.req.GetVersion() {
				t.Fatalf("response version %d", resp.GetVersion())
			}
			tt.check(t, resp)
			got := d.requests()
			last := got[len(got)-1]
			if last.APIKey != tt.req.Key() || last.APIVersion != tt.req.GetVersion() || last.CorrelationID != corr ||
				last.ClientID == nil || *last.ClientID != "gregor-test" || last.Listener != "PLAINTEXT" || last.Remote == nil {
				t.Fatalf("dispatcher got %+v", last)
			}
		})
	}
}

// TestPipelinedOrder sends 100 requests in one write to a dispatcher that
// sleeps randomly; responses must come back in request order, including
// repeated and negative correlation ids (fault matrix §8 row 12).
func TestPipelinedOrder(t *testing.T) {
	s := startServer(t, &testDispatcher{maxSleep: 3 * time.Millisecond}, nil)
	c := dial(t, s)
	const n = 100
	corrs := make([]int32, n)
	var buf []byte // kmsg's AppendRequest only works on an empty dst, hence append(buf, ...)
	for i := range n {
		corrs[i] = int32(i)
		switch i % 10 {
		case 3:
			corrs[i] = corrs[i-1] // repeated
		case 7:
			corrs[i] = -int32(i) // negative
		}
		version := int16(i % 13) // flexible and not
		buf = append(buf, testFormatter.AppendRequest(nil, metadataReq(version, fmt.Sprintf("t%d", i)), corrs[i])...)
	}
	c.write(buf)
	for i := range n {
		resp := c.mustRead(3, int16(i%13), corrs[i]).(*kmsg.MetadataResponse)
		if want := fmt.Sprintf("t%d", i); len(resp.Topics) != 1 || *resp.Topics[0].Topic != want {
			t.Fatalf("response %d: topics %+v, want %s", i, resp.Topics, want)
		}
	}
}

// TestNilResponse: an acks=0 Produce gets no response, and the next
// request's response still arrives.
func TestNilResponse(t *testing.T) {
	s := startServer(t, &testDispatcher{}, nil)
	c := dial(t, s)
	var buf []byte // kmsg's AppendRequest only works on an empty dst, hence append(buf, ...)
	buf = append(buf, testFormatter.AppendRequest(nil, produceReq(7, 0, "silent"), 1)...)
	buf = append(buf, testFormatter.AppendRequest(nil, metadataReq(4, "m"), 2)...)
	buf = append(buf, testFormatter.AppendRequest(nil, produceReq(9, 0, "silent"), 3)...)
	buf = append(buf, testFormatter.AppendRequest(nil, produceReq(9, -1, "loud"), 4)...)
	c.write(buf)
	c.mustRead(3, 4, 2)
	if r := c.mustRead(0, 9, 4).(*kmsg.ProduceResponse); r.Topics[0].Topic != "loud" {
		t.Fatalf("produce response %+v", r)
	}
}

func TestHandlerPanicAndError(t *testing.T) {
	s := startServer(t, &testDispatcher{}, nil)
	for _, topic := range []string{"panic", "error"} {
		t.Run(topic, func(t *testing.T) {
			c := dial(t, s)
			c.send(metadataReq(1, topic), 1)
			c.expectClosed(20 * time.Second)
			checkServed(t, s)
		})
	}
}

// TestTimeouts covers fault matrix §8 row 3 (half frame) and rows 39/40
// (trickle and idle connections).
func TestTimeouts(t *testing.T) {
	const frameTimeout, idle = 300 * time.Millisecond, 400 * time.Millisecond
	s := startServer(t, &testDispatcher{}, func(c *Config) {
		c.FrameTimeout, c.ConnectionsMaxIdle = frameTimeout, idle
	})
	tests := []struct {
		name   string
		client func(c *testClient)
		after  time.Duration // earliest acceptable close
	}{
		{"half frame", func(c *testClient) {
			c.write([]byte{0, 0, 0, 100, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0}) // 10 of 100 bytes
		}, frameTimeout},
		{"half size prefix", func(c *testClient) { c.write([]byte{0, 0}) }, frameTimeout},
		{"trickle one byte per 50ms", func(c *testClient) {
			go func() {
				frame := testFormatter.AppendRequest(nil, metadataReq(1, strings.Repeat("x", 100)), 1)
				for _, b := range frame {
					if _, err := c.nc.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		}, frameTimeout},
		{"idle", func(c *testClient) {}, idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			start := time.Now()
			tt.client(c)
			c.expectClosed(20 * time.Second)
			if el := time.Since(start); el < tt.after-50*time.Millisecond {
				t.Fatalf("closed after %v, before %v", el, tt.after)
			}
			checkServed(t, s)
		})
	}
}

func TestCloseWithActiveConnections(t *testing.T) {
	s := startServer(t, &testDispatcher{}, func(c *Config) { c.FrameTimeout = time.Minute })
	blocked := dial(t, s)
	blocked.send(metadataReq(1, "block"), 1)
	half := dial(t, s)
	half.write([]byte{0, 0, 1, 0, 0, 3})
	dial(t, s) // idle
	checkServed(t, s)
	// Wait until the blocking request is inside the handler.
	deadline := time.Now().Add(5 * time.Second)
	for !hasTopic(s.d.(*testDispatcher), "block") {
		if time.Now().After(deadline) {
			t.Fatal("blocking request never reached the dispatcher")
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() {
		s.Close()
		s.Close() // idempotent
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("Close did not return:\n%s", buf[:runtime.Stack(buf, true)])
	}
	blocked.expectClosed(time.Second)
	half.expectClosed(time.Second)
	if _, err := net.DialTimeout("tcp", s.Addr("PLAINTEXT").String(), time.Second); err == nil {
		t.Fatal("dial after Close succeeded")
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

// TestCloseAnswersParkedRequest: a request parked in its handler when the
// server closes gets its response before the connection closes, and a
// request sent after Close began is not served.
func TestCloseAnswersParkedRequest(t *testing.T) {
	s := startServer(t, &testDispatcher{}, nil)
	c := dial(t, s)
	c.send(metadataReq(1, "park"), 7)
	deadline := time.Now().Add(5 * time.Second)
	for !hasTopic(s.d.(*testDispatcher), "park") {
		if time.Now().After(deadline) {
			t.Fatal("parked request never reached the dispatcher")
		}
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	resp := c.mustRead(3, 1, 7).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || *resp.Topics[0].Topic != "park" {
		t.Fatalf("response topics %+v", resp.Topics)
	}
	c.expectClosed(3 * time.Second)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func hasTopic(d *testDispatcher, topic string) bool {
	for _, r := range d.requests() {
		if m, ok := r.Body.(*kmsg.MetadataRequest); ok && len(m.Topics) > 0 && *m.Topics[0].Topic == topic {
			return true
		}
	}
	return false
}

func TestStartErrors(t *testing.T) {
	s := startServer(t, &testDispatcher{}, func(c *Config) {
		c.Listeners = append(c.Listeners, ListenerConfig{Name: "REPLICATION", Addr: "127.0.0.1:0"})
	})
	if s.Addr("REPLICATION") == nil || s.Addr("nope") != nil {
		t.Fatal("Addr")
	}
	taken := s.Addr("PLAINTEXT").String()
	s2 := New(Config{Listeners: []ListenerConfig{{Name: "A", Addr: "127.0.0.1:0"}, {Name: "B", Addr: taken}}}, &testDispatcher{}, testLogger(t))
	if err := s2.Start(); err == nil || !strings.Contains(err.Error(), "listen B") {
		t.Fatalf("want bind error naming B, got %v", err)
	}
	if s2.Addr("A") != nil {
		t.Fatal("listener A left bound after a failed Start")
	}
	s2.Close()
}

func TestRateLimitedLogger(t *testing.T) {
	l := newRateLimitedLogger(time.Hour)
	e := testLogger(t)
	if !l.warn(e, "a", "m") || l.warn(e, "a", "m") || !l.warn(e, "b", "m") {
		t.Fatal("want one warning per reason per interval")
	}
}
