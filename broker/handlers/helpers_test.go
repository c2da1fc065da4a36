package handlers

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
	"github.com/gregor-broker/gregor/broker/storage"
)

const (
	testBrokerID    = int32(1)
	clientListener  = "PLAINTEXT"
	controlListener = "INTERNAL"
	testClusterID   = "test-cluster-id-000000"
)

// testWriter routes logs to t.Log so only failing tests print them.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(testWriter{t})
	l.SetLevel(logrus.InfoLevel)
	return logrus.NewEntry(l)
}

// testBroker is one broker's handlers over real storage in t.TempDir(), a
// real replica manager and a metadata cache fed by control requests.
type testBroker struct {
	t               *testing.T
	h               *Handlers
	logs            *storage.Manager
	replicas        *replica.Manager
	cache           *metadata.Cache
	admin           *recordingAdmin
	controller      bool
	brokerEpoch     int64
	controllerEpoch int32
	leaderEpochs    map[string]int32
	topicIDs        map[string][16]byte
	mu              sync.Mutex
}

type brokerOpt func(*testBroker, *Config, *storage.LogConfig)

func withConfig(f func(*Config)) brokerOpt {
	return func(_ *testBroker, c *Config, _ *storage.LogConfig) { f(c) }
}

func withLogConfig(f func(*storage.LogConfig)) brokerOpt {
	return func(_ *testBroker, _ *Config, lc *storage.LogConfig) { f(lc) }
}

func newTestBroker(t *testing.T, opts ...brokerOpt) *testBroker {
	t.Helper()
	b := &testBroker{t: t, controller: true, brokerEpoch: 100, controllerEpoch: 1, leaderEpochs: map[string]int32{}, topicIDs: map[string][16]byte{}}
	cfg := Config{
		AutoCreateTopicsEnable:   true,
		DefaultNumPartitions:     2,
		DefaultReplicationFactor: 1,
		MessageMaxBytes:          1 << 20,
		InterBrokerListener:      controlListener,
	}
	lc := storage.DefaultLogConfig()
	for _, o := range opts {
		o(b, &cfg, &lc)
	}
	log := testLogger(t)
	logs, err := storage.OpenManager(storage.ManagerConfig{Dirs: []string{t.TempDir()}, DefaultLog: lc}, log.WithField("component", "storage"))
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	t.Cleanup(func() {
		if err := logs.Close(); err != nil {
			t.Errorf("close storage: %v", err)
		}
	})
	b.logs = logs
	b.replicas = replica.NewManager(replica.Config{BrokerID: testBrokerID, DefaultLogConfig: lc}, logs, log.WithField("component", "replica"))
	t.Cleanup(b.replicas.Close)
	b.cache = metadata.New()
	b.admin = &recordingAdmin{b: b}
	t.Cleanup(b.admin.wg.Wait)
	b.h = New(Deps{
		BrokerID:     testBrokerID,
		ClusterID:    testClusterID,
		Config:       cfg,
		Metadata:     b.cache,
		Replicas:     b.replicas,
		Admin:        b.admin,
		BrokerEpoch:  func() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.brokerEpoch },
		IsController: func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.controller },
		Log:          log.WithField("component", "handlers"),
	})
	// The controller's first UpdateMetadata: the live brokers.
	b.updateMetadata(nil)
	return b
}

func (b *testBroker) setController(v bool) {
	b.mu.Lock()
	b.controller = v
	b.mu.Unlock()
}

// do sends req at version through Dispatcher.Handle on listener, after a
// wire round trip of the request, and round-trips the response too, so
// every version is exercised as a client would see it.
func (b *testBroker) do(listener string, version int16, req kmsg.Request) kmsg.Response {
	b.t.Helper()
	resp, err := b.doCtx(context.Background(), listener, version, req)
	if err != nil {
		b.t.Fatalf("key %d v%d: Handle returned an error: %v", req.Key(), version, err)
	}
	return resp
}

func (b *testBroker) doCtx(ctx context.Context, listener string, version int16, req kmsg.Request) (kmsg.Response, error) {
	b.t.Helper()
	req.SetVersion(version)
	wire := req.AppendTo(nil)
	decoded := kmsg.RequestForKey(req.Key())
	decoded.SetVersion(version)
	if err := decoded.ReadFrom(wire); err != nil {
		b.t.Fatalf("key %d v%d: decode request: %v", req.Key(), version, err)
	}
	cid := "test-client"
	resp, err := b.h.Handle(ctx, &server.Request{
		APIKey: req.Key(), APIVersion: version, CorrelationID: 1, ClientID: &cid,
		Body: decoded, Listener: listener, Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
	})
	if err != nil || resp == nil {
		return resp, err
	}
	out := kmsg.ResponseForKey(resp.Key())
	out.SetVersion(resp.GetVersion())
	if err := out.ReadFrom(resp.AppendTo(nil)); err != nil {
		b.t.Fatalf("key %d v%d: decode response: %v", req.Key(), version, err)
	}
	return out, nil
}

// liveBrokers is broker 1 with a client and an inter-broker listener.
func liveBrokers() []kmsg.UpdateMetadataRequestLiveBroker {
	rack := "rack-a"
	lb := kmsg.NewUpdateMetadataRequestLiveBroker()
	lb.ID, lb.Rack = testBrokerID, &rack
	for _, e := range []struct {
		name string
		port int32
	}{{clientListener, 9092}, {controlListener, 9093}} {
		ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
		ep.Host, ep.Port, ep.ListenerName = "127.0.0.1", e.port, e.name
		lb.Endpoints = append(lb.Endpoints, ep)
	}
	return []kmsg.UpdateMetadataRequestLiveBroker{lb}
}

// updateMetadata sends an UpdateMetadata v8 with the live brokers and the
// given partition states, as the controller does, and checks it succeeded.
func (b *testBroker) updateMetadata(topics []kmsg.UpdateMetadataRequestTopicState) {
	b.t.Helper()
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = testBrokerID, b.controllerEpoch, b.brokerEpoch
	req.TopicStates = topics
	req.LiveBrokers = liveBrokers()
	resp := b.do(controlListener, 8, req).(*kmsg.UpdateMetadataResponse)
	if resp.ErrorCode != 0 {
		b.t.Fatalf("UpdateMetadata: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// addTopic plays the controller for a new topic: LeaderAndIsr for the
// partitions led by this broker (leader == testBrokerID), then UpdateMetadata
// for all. leaders[i] is partition i's leader.
func (b *testBroker) addTopic(topic string, leaders ...int32) [16]byte {
	b.t.Helper()
	b.mu.Lock()
	id, ok := b.topicIDs[topic]
	if !ok {
		id = [16]byte{byte(len(b.topicIDs) + 1), 0xAB, 7}
		b.topicIDs[topic] = id
	}
	b.leaderEpochs[topic]++
	epoch := b.leaderEpochs[topic] - 1
	b.mu.Unlock()

	lai := kmsg.NewPtrLeaderAndISRRequest()
	lai.ControllerID, lai.ControllerEpoch, lai.BrokerEpoch = testBrokerID, b.controllerEpoch, b.brokerEpoch
	ts := kmsg.NewLeaderAndISRRequestTopicState()
	ts.Topic, ts.TopicID = topic, id
	um := kmsg.NewUpdateMetadataRequestTopicState()
	um.Topic, um.TopicID = topic, id
	for p, leader := range leaders {
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Partition, ps.ControllerEpoch, ps.Leader, ps.LeaderEpoch = int32(p), b.controllerEpoch, leader, epoch
		ps.ISR, ps.Replicas, ps.ZKVersion, ps.IsNew = []int32{leader}, []int32{leader}, epoch, true
		if leader == testBrokerID {
			ts.PartitionStates = append(ts.PartitionStates, ps)
		}
		ups := kmsg.NewUpdateMetadataRequestTopicPartition()
		ups.Partition, ups.ControllerEpoch, ups.Leader, ups.LeaderEpoch = int32(p), b.controllerEpoch, leader, epoch
		ups.ISR, ups.Replicas, ups.ZKVersion = []int32{leader}, []int32{leader}, epoch
		um.PartitionStates = append(um.PartitionStates, ups)
	}
	if len(ts.PartitionStates) > 0 {
		lai.TopicStates = []kmsg.LeaderAndISRRequestTopicState{ts}
		resp := b.do(controlListener, 7, lai).(*kmsg.LeaderAndISRResponse)
		if resp.ErrorCode != 0 {
			b.t.Fatalf("LeaderAndIsr: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					b.t.Fatalf("LeaderAndIsr %s-%d: %v", topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		}
	}
	b.updateMetadata([]kmsg.UpdateMetadataRequestTopicState{um})
	return id
}

// removeTopic plays the controller's topic deletion: StopReplica with
// delete, then UpdateMetadata with leader -2.
func (b *testBroker) removeTopic(topic string, partitions int) {
	b.t.Helper()
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.ControllerID, sr.ControllerEpoch, sr.BrokerEpoch = testBrokerID, b.controllerEpoch, b.brokerEpoch
	st := kmsg.NewStopReplicaRequestTopic()
	st.Topic = topic
	um := kmsg.NewUpdateMetadataRequestTopicState()
	um.Topic = topic
	for p := 0; p < partitions; p++ {
		ps := kmsg.NewStopReplicaRequestTopicPartitionState()
		ps.Partition, ps.LeaderEpoch, ps.Delete = int32(p), -2, true
		st.PartitionStates = append(st.PartitionStates, ps)
		ups := kmsg.NewUpdateMetadataRequestTopicPartition()
		ups.Partition, ups.Leader = int32(p), metadata.LeaderDuringDelete
		um.PartitionStates = append(um.PartitionStates, ups)
	}
	sr.Topics = []kmsg.StopReplicaRequestTopic{st}
	if resp := b.do(controlListener, 4, sr).(*kmsg.StopReplicaResponse); resp.ErrorCode != 0 {
		b.t.Fatalf("StopReplica: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	b.updateMetadata([]kmsg.UpdateMetadataRequestTopicState{um})
}

// recordingAdmin is a TopicAdmin that records calls and, unless told not to,
// plays the controller (LeaderAndIsr + UpdateMetadata) from another
// goroutine, as the real ZooKeeper-driven controller would. The real
// implementation (coordinator.Admin) is tested against real ZooKeeper.
type recordingAdmin struct {
	b *testBroker

	mu        sync.Mutex
	created   []NewTopic
	deleted   []string
	noLeaders bool // do not "elect" leaders (CreateTopics times out)
	noDelete  bool // do not complete deletions (DeleteTopics times out)
	wg        sync.WaitGroup
}

func (a *recordingAdmin) CreateTopic(_ context.Context, t NewTopic) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	snap := a.b.cache.Snapshot()
	if _, ok := snap.Topic(t.Name); ok {
		return apierr.New(kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", t.Name))
	}
	for _, c := range a.created {
		if c.Name == t.Name && !c.ValidateOnly {
			return apierr.New(kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", t.Name))
		}
	}
	if t.ReplicationFactor > int16(len(snap.Brokers)) {
		return apierr.New(kerr.InvalidReplicationFactor, fmt.Sprintf("Replication factor: %d larger than available brokers: %d.", t.ReplicationFactor, len(snap.Brokers)))
	}
	if t.NumPartitions == 0 || t.NumPartitions < -1 {
		return apierr.New(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	a.created = append(a.created, t)
	if t.ValidateOnly || a.noLeaders {
		return nil
	}
	n := t.NumPartitions
	if n == -1 {
		n = 2
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		time.Sleep(20 * time.Millisecond) // the controller acts later
		leaders := make([]int32, n)
		for i := range leaders {
			leaders[i] = testBrokerID
		}
		a.b.addTopic(t.Name, leaders...)
	}()
	return nil
}

func (a *recordingAdmin) DeleteTopic(_ context.Context, topic string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deleted = append(a.deleted, topic)
	t, ok := a.b.cache.Snapshot().Topic(topic)
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	n := len(t.Partitions)
	if a.noDelete {
		return nil
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		time.Sleep(20 * time.Millisecond)
		a.b.removeTopic(topic, n)
	}()
	return nil
}

func (a *recordingAdmin) createdTopics() []NewTopic {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]NewTopic(nil), a.created...)
}

// batchOpts shape a test record batch.
type batchOpts struct {
	firstTimestamp int64
	attributes     int16
	producerID     int64
}

// makeBatch builds a magic-2 record batch as a producer does (base offset
// 0, CRC-32C over attributes..end), one record per value, timestamps
// firstTimestamp (now when 0), +1, +2, ...
func makeBatch(o batchOpts, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: nil, Value: []byte(v)}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1) // the zero length varint is one byte
		recs = r.AppendTo(recs)
	}
	if o.firstTimestamp == 0 {
		// Realistic timestamps: segments roll by the first batch's
		// timestamp (log.roll.ms), as in Kafka.
		o.firstTimestamp = time.Now().UnixMilli()
	}
	pid := o.producerID
	if pid == 0 {
		pid = -1
	}
	b := kmsg.RecordBatch{
		Magic: 2, Attributes: o.attributes, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: o.firstTimestamp, MaxTimestamp: o.firstTimestamp + int64(len(values)-1),
		ProducerID: pid, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), Records: recs,
	}
	if pid >= 0 {
		b.ProducerEpoch, b.FirstSequence = 0, 0
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// readValues decodes the record values of the batches in raw.
func readValues(t *testing.T, raw []byte) []string {
	t.Helper()
	var out []string
	for len(raw) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		raw = raw[12+int(b.Length):]
		recs := b.Records
		for i := int32(0); i < b.NumRecords; i++ {
			var r kmsg.Record
			if err := r.ReadFrom(recs); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			n := len(r.AppendTo(nil))
			recs = recs[n:]
			out = append(out, string(r.Value))
		}
	}
	return out
}

// produce sends one batch per partition at Produce v9 with acks=1 and
// returns the partition's response.
func (b *testBroker) produce(topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	b.t.Helper()
	resp := b.produceReq(9, 1, topic, partition, batch)
	return resp.Topics[0].Partitions[0]
}

func (b *testBroker) produceReq(version, acks int16, topic string, partition int32, batch []byte) *kmsg.ProduceResponse {
	b.t.Helper()
	req := produceRequest(acks, topic, partition, batch)
	return b.do(clientListener, version, req).(*kmsg.ProduceResponse)
}

func produceRequest(acks int16, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}

func fetchRequest(topic string, partition int32, offset int64, maxWaitMs, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, maxWaitMs, minBytes, 1<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, offset, 1<<20, -1
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	return req
}

func (b *testBroker) fetch(version int16, req *kmsg.FetchRequest) kmsg.FetchResponseTopicPartition {
	b.t.Helper()
	resp := b.do(clientListener, version, req).(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		b.t.Fatalf("fetch response shape: %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

// serverRequest builds a server.Request without a wire round trip, for
// cases the server would construct itself.
type serverRequest struct {
	APIKey, APIVersion int16
	Body               kmsg.Request
	Listener           string
}

func (s serverRequest) req() *server.Request {
	return &server.Request{APIKey: s.APIKey, APIVersion: s.APIVersion, Body: s.Body, Listener: s.Listener}
}
