package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

// The replication and failover benchmarks run clusters of several Gregor
// brokers on the harness's ZooKeeper, each in its own chroot. This file is
// their harness: start a cluster, create a topic with a given assignment,
// talk to one broker on a raw connection, read the brokers' logs.

// sessionTimeout is the brokers' zookeeper.session.timeout.ms, the issue's
// (and the integration suite's) value; the recovery targets are relative to it.
const sessionTimeout = 6 * time.Second

// cluster is n brokers, ids 0..n-1, under one chroot. Broker 0 is started
// first and waited for, so it is the controller.
type cluster struct {
	name    string
	brokers []*member
}

// member is one broker of a cluster.
type member struct {
	id      int32
	addr    string
	proc    *proc
	dataDir string
}

func (c *cluster) addrs() []string {
	var out []string
	for _, m := range c.brokers {
		out = append(out, m.addr)
	}
	return out
}

// pids is the process ids of the members still running.
func (c *cluster) pids() []int {
	var out []int
	for _, m := range c.brokers {
		if m.alive() {
			out = append(out, m.proc.pid())
		}
	}
	return out
}

func (m *member) alive() bool {
	select {
	case <-m.proc.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (kill -9) and waits for the exit; it returns the time
// the signal was sent.
func (m *member) kill() time.Time {
	t0 := time.Now()
	_ = syscall.Kill(m.proc.pid(), syscall.SIGKILL)
	<-m.proc.exited
	return t0
}

// close kills every member (the clusters are throw-away: a controlled
// shutdown of 1000 partitions would only slow the run) and removes their data
// unless GREGOR_BENCH_KEEP is set.
func (c *cluster) close() {
	for _, m := range c.brokers {
		if m.alive() {
			m.kill()
		}
	}
	if os.Getenv("GREGOR_BENCH_KEEP") == "" {
		for _, m := range c.brokers {
			_ = os.RemoveAll(m.dataDir)
		}
	}
}

// startCluster starts n brokers named name-broker<i> with the harness
// defaults plus props (key=value lines; GREGOR_BENCH_BROKER_PROPS after them),
// ZooKeeper first if needed, and waits until broker 0's Metadata lists all
// of them.
func (h *harness) startCluster(name string, n int, props ...string) (*cluster, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	dir, err := h.workDirLocked()
	if err != nil {
		return nil, err
	}
	bin, err := h.binLocked("./tools/kafka-server-start")
	if err != nil {
		return nil, errBrokerBuild{err}
	}
	if h.zk == nil {
		zk, err := zktest.StartCluster(filepath.Join(dir, "zk"), 1, zktest.Options{})
		if err != nil {
			return nil, fmt.Errorf("zookeeper: %w", err)
		}
		h.zk = zk
	}
	h.starts++
	chroot := fmt.Sprintf("/bench%d", h.starts)
	c := &cluster{name: name}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range n {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		m := &member{
			id:      int32(i),
			addr:    fmt.Sprintf("127.0.0.1:%d", port),
			dataDir: filepath.Join(dir, fmt.Sprintf("%s-broker%d-data", name, i)),
		}
		conf := []string{
			"broker.id=" + strconv.Itoa(i),
			"listeners=PLAINTEXT://" + m.addr,
			"log.dirs=" + m.dataDir,
			"zookeeper.connect=" + h.zk.ConnectString() + chroot,
			fmt.Sprintf("zookeeper.session.timeout.ms=%d", sessionTimeout.Milliseconds()),
			"replica.lag.time.max.ms=10000",
			"num.partitions=" + strconv.Itoa(partitions),
			"default.replication.factor=" + strconv.Itoa(n),
			"offsets.topic.replication.factor=" + strconv.Itoa(n),
			"min.insync.replicas=" + strconv.Itoa(min(2, n)),
			"log.level=" + logLevel(),
		}
		conf = append(conf, props...)
		for _, kv := range strings.Split(os.Getenv("GREGOR_BENCH_BROKER_PROPS"), ";") {
			if kv = strings.TrimSpace(kv); kv != "" {
				conf = append(conf, kv)
			}
		}
		pname := fmt.Sprintf("%s-broker%d", name, i)
		propsPath := filepath.Join(dir, pname+".properties")
		if err := os.WriteFile(propsPath, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
		p, _, err := startProc(dir, pname, false, bin, propsPath)
		if err != nil {
			c.close()
			return nil, err
		}
		h.procs = append(h.procs, p)
		m.proc = p
		c.brokers = append(c.brokers, m)
		if _, err := waitReady(ctx, p, m.addr, m.id); err != nil {
			c.close()
			return nil, err
		}
	}
	for {
		md, err := readMetadata(ctx, c.brokers[0].addr)
		if err == nil && len(md.Brokers) == n && md.ControllerID == 0 {
			return c, nil
		}
		select {
		case <-ctx.Done():
			c.close()
			return nil, fmt.Errorf("cluster %s: broker 0 does not list %d brokers with itself as controller (last: %v)", name, n, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// rconn is one raw connection to a broker, redialled after an error.
type rconn struct {
	addr string
	c    net.Conn
	corr int32
}

func (r *rconn) do(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	if r.c == nil {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err != nil {
			return nil, err
		}
		r.c = c
	}
	r.corr++
	_ = r.c.SetDeadline(time.Now().Add(timeout))
	resp, err := rawRequest(r.c, req, r.corr)
	if err != nil {
		r.c.Close()
		r.c = nil
	}
	return resp, err
}

func (r *rconn) close() {
	if r.c != nil {
		r.c.Close()
		r.c = nil
	}
}

// metadataRequest asks for topics (all when none) at v7: controller id,
// leader, replicas, ISR and offline replicas, no flexible encoding.
func metadataRequest(topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(7)
	if len(topics) > 0 {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range topics {
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, mt)
		}
	}
	return req
}

// readMetadata asks addr for Metadata on a fresh connection.
func readMetadata(ctx context.Context, addr string, topics ...string) (*kmsg.MetadataResponse, error) {
	r := &rconn{addr: addr}
	defer r.close()
	resp, err := r.do(metadataRequest(topics...), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// createAssigned creates topic through the controller: nparts partitions
// of RF rf placed by Gregor when assign is nil, else the replica lists of
// assign (the first replica leads). It waits until every partition has a
// leader (assign[p][0] when given) and a full ISR.
func createAssigned(addrs []string, topic string, nparts int32, rf int16, assign [][]int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, nparts, rf
	if assign != nil {
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		for p, rs := range assign {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(p), rs
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		nparts, rf = int32(len(assign)), int16(len(assign[0]))
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 60000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && err != kerr.TopicAlreadyExists {
			return fmt.Errorf("create %s: %w", t.Topic, err)
		}
	}
	for {
		var why string
		for _, addr := range addrs {
			md, err := readMetadata(ctx, addr, topic)
			if why = topicIncomplete(md, err, nparts, int(rf), assign); why != "" {
				why = addr + ": " + why
				break
			}
		}
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s not ready: %s", topic, why)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicIncomplete says why md does not yet show the topic fully led and
// replicated, or "" when it does.
func topicIncomplete(md *kmsg.MetadataResponse, err error, nparts int32, rf int, assign [][]int32) string {
	if err != nil {
		return err.Error()
	}
	if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 {
		return "topic not in metadata"
	}
	ps := md.Topics[0].Partitions
	if int32(len(ps)) != nparts {
		return fmt.Sprintf("%d of %d partitions", len(ps), nparts)
	}
	for _, p := range ps {
		switch {
		case p.Leader < 0:
			return fmt.Sprintf("partition %d has no leader", p.Partition)
		case assign != nil && p.Leader != assign[p.Partition][0]:
			return fmt.Sprintf("partition %d led by %d, want %d", p.Partition, p.Leader, assign[p.Partition][0])
		case len(p.ISR) != rf:
			return fmt.Sprintf("partition %d has ISR %v", p.Partition, p.ISR)
		}
	}
	return ""
}

// probeBatch is a magic-2 record batch of one record holding value, as a
// producer builds it (base offset 0, CRC-32C over attributes..end).
func probeBatch(value []byte) []byte {
	r := kmsg.Record{Value: value}
	r.Length = int32(len(r.AppendTo(nil)) - 1) // the zero Length varint is one byte
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: r.AppendTo(nil),
	}
	raw := b.AppendTo(nil)
	setLengthAndCRC(raw)
	return raw
}

// produceRequest is a Produce v7 request with acks, one batch per partition.
func produceRequest(acks int16, timeout time.Duration, topic string, parts []int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks = acks
	req.TimeoutMillis = int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, batch
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// setLengthAndCRC fills in a batch's length (bytes after the length field)
// and its CRC-32C (attributes to the end).
func setLengthAndCRC(raw []byte) {
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// logLine is one broker log line: its time and message, and the raw text for
// the fields.
type logLine struct {
	at   time.Time
	msg  string
	text string
}

var (
	logTimeRE = regexp.MustCompile(`time="([^"]+)"`)
	logMsgRE  = regexp.MustCompile(`msg="((?:[^"\\]|\\.)*)"|msg=(\S+)`)
)

// readLog returns the lines of a broker log (logrus text format) whose
// message is one of msgs, in file order, from after the time since.
func readLog(path string, since time.Time, msgs ...string) []logLine {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	want := make(map[string]bool)
	for _, m := range msgs {
		want[m] = true
	}
	var out []logLine
	for _, line := range strings.Split(string(b), "\n") {
		mm := logMsgRE.FindStringSubmatch(line)
		if mm == nil {
			continue
		}
		msg := mm[1] + mm[2]
		if !want[msg] {
			continue
		}
		tm := logTimeRE.FindStringSubmatch(line)
		if tm == nil {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", tm[1])
		if err != nil || at.Before(since.Truncate(time.Millisecond)) {
			continue
		}
		out = append(out, logLine{at: at, msg: msg, text: line})
	}
	return out
}
