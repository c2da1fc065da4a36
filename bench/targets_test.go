package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

const (
	topic      = "bench"
	partitions = 8
	recordSize = 1024
	gregorID   = 0 // broker.id of every Gregor broker started here
)

// volume is what one benchmark iteration moves to or from each target:
// GREGOR_BENCH_MB MiB of 1 KiB records (default 128), in GREGOR_BENCH_ROUNDS
// interleaved rounds (default 4). `make bench` runs two iterations.
var (
	volume = sync.OnceValue(func() int64 { return envInt("GREGOR_BENCH_MB", 128) << 20 })
	rounds = sync.OnceValue(func() int64 { return envInt("GREGOR_BENCH_ROUNDS", 4) })
)

// logLevel is the brokers' log.level: GREGOR_BENCH_LOG_LEVEL, default warn
// (info shows the time of each start-up step in the broker's log).
func logLevel() string {
	if l := os.Getenv("GREGOR_BENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

func envInt(key string, def int64) int64 {
	if s := os.Getenv(key); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// target is a server the client measures: "sink", "kfake" or "gregor".
type target struct {
	name     string
	addr     string
	proc     *proc
	produced int64 // records in topic "bench", produced by this run
}

// harness owns every process of the run; TestMain stops them. Targets start
// lazily, on the first benchmark that needs them, so `go test` without
// -bench starts nothing.
type harness struct {
	mu      sync.Mutex
	dir     string
	bins    map[string]string // built binaries by package
	targets map[string]*target
	failed  map[string]error // a target that could not start is not retried
	zk      *zktest.Cluster
	procs   []*proc
	starts  int // chroots handed out by startGregor
}

var h = &harness{
	bins:    make(map[string]string),
	targets: make(map[string]*target),
	failed:  make(map[string]error),
}

func TestMain(m *testing.M) {
	code := m.Run()
	h.close(code != 0)
	os.Exit(code)
}

func (h *harness) close(keep bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.procs {
		p.stop()
	}
	if h.zk != nil {
		h.zk.Stop()
	}
	if h.dir == "" {
		return
	}
	if keep || os.Getenv("GREGOR_BENCH_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "bench: logs and data kept in", h.dir)
		return
	}
	_ = os.RemoveAll(h.dir)
}

// workDirLocked is the run's temp dir. h.mu must be held.
func (h *harness) workDirLocked() (string, error) {
	if h.dir == "" {
		d, err := os.MkdirTemp("", "gregor-bench-")
		if err != nil {
			return "", err
		}
		h.dir = d
	}
	return h.dir, nil
}

// binLocked builds pkg once. h.mu must be held.
func (h *harness) binLocked(pkg string) (string, error) {
	if bin, ok := h.bins[pkg]; ok {
		return bin, nil
	}
	dir, err := h.workDirLocked()
	if err != nil {
		return "", err
	}
	bin, err := goBuild(dir, pkg, filepath.Base(pkg))
	if err != nil {
		return "", err
	}
	h.bins[pkg] = bin
	return bin, nil
}

// errBrokerBuild marks a Gregor that does not build yet: its benchmarks skip.
type errBrokerBuild struct{ err error }

func (e errBrokerBuild) Error() string { return e.err.Error() }

// target returns the running target name, starting it on first use. A
// target that failed to start is not retried; the error says why. An
// errBrokerBuild means Gregor does not build yet.
func (h *harness) target(name string) (*target, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.targets[name]; ok {
		return t, nil
	}
	if err, failed := h.failed[name]; failed {
		return nil, err
	}
	t, err := h.startTargetLocked(name)
	if err != nil {
		h.failed[name] = err
		return nil, err
	}
	h.targets[name] = t
	return t, nil
}

// targets returns the running targets of names; a Gregor that does not build
// is left out with a log line, any other failure fails b.
func (h *harness) targetsFor(b *testing.B, names ...string) []*target {
	b.Helper()
	var ts []*target
	for _, name := range names {
		t, err := h.target(name)
		var buildErr errBrokerBuild
		switch {
		case err == nil:
			ts = append(ts, t)
		case errors.As(err, &buildErr):
			b.Logf("gregor left out, it does not build yet: %s", headLines(err.Error(), 4))
		default:
			b.Errorf("start %s: %v", name, err)
		}
	}
	return ts
}

func (h *harness) startTargetLocked(name string) (*target, error) {
	dir, err := h.workDirLocked()
	if err != nil {
		return nil, err
	}
	switch name {
	case "sink", "kfake":
		p, addr, err := h.startHelperLocked(name)
		if err != nil {
			return nil, err
		}
		return &target{name: name, addr: addr, proc: p}, nil
	case "gregor":
		p, addr, _, err := h.startGregorLocked(filepath.Join(dir, "gregor-data"), "")
		if err != nil {
			return nil, err
		}
		if err := createTopic(addr); err != nil {
			return nil, fmt.Errorf("create topic: %w\n%s", err, p.logTail())
		}
		return &target{name: name, addr: addr, proc: p}, nil
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// startHelperLocked starts kfake-server or sink-server. h.mu must be held.
func (h *harness) startHelperLocked(name string) (*proc, string, error) {
	bin, err := h.binLocked("./bench/cmd/" + name + "-server")
	if err != nil {
		return nil, "", err
	}
	args := []string{"-partitions", strconv.Itoa(partitions)}
	if dir := os.Getenv("GREGOR_BENCH_PROFILE"); dir != "" {
		args = append(args, "-cpuprofile", filepath.Join(dir, name+".cpu.pprof"))
	}
	p, addr, err := startProc(h.dir, name, true, bin, args...)
	if err != nil {
		return nil, "", err
	}
	h.procs = append(h.procs, p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := waitReady(ctx, p, addr, 0); err != nil {
		return nil, "", err
	}
	return p, addr, nil
}

// startGregorLocked starts one broker with its log in logDir, under ZooKeeper
// chroot (a fresh one when empty), ZooKeeper being started first if needed,
// and waits until it is ready. It returns the start-to-ready time. h.mu must
// be held.
func (h *harness) startGregorLocked(logDir, chroot string) (*proc, string, time.Duration, error) {
	bin, err := h.binLocked("./tools/kafka-server-start")
	if err != nil {
		return nil, "", 0, errBrokerBuild{err}
	}
	if h.zk == nil {
		zk, err := zktest.StartCluster(filepath.Join(h.dir, "zk"), 1, zktest.Options{})
		if err != nil {
			return nil, "", 0, fmt.Errorf("zookeeper: %w", err)
		}
		h.zk = zk
	}
	if chroot == "" {
		h.starts++
		chroot = fmt.Sprintf("/bench%d", h.starts)
	}
	port, err := freePort()
	if err != nil {
		return nil, "", 0, err
	}
	name := "gregor" + strings.ReplaceAll(chroot, "/", "-")
	props := filepath.Join(h.dir, name+".properties")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conf := strings.Join([]string{
		"broker.id=" + strconv.Itoa(gregorID),
		"listeners=PLAINTEXT://" + addr,
		"log.dirs=" + logDir,
		"zookeeper.connect=" + h.zk.ConnectString() + chroot,
		"num.partitions=" + strconv.Itoa(partitions),
		"log.level=" + logLevel(),
	}, "\n") + "\n"
	// GREGOR_BENCH_BROKER_PROPS: extra server.properties lines ("k=v;k=v"),
	// to measure a setting; later lines override the ones above.
	for _, kv := range strings.Split(os.Getenv("GREGOR_BENCH_BROKER_PROPS"), ";") {
		if kv = strings.TrimSpace(kv); kv != "" {
			conf += kv + "\n"
		}
	}
	if err := os.WriteFile(props, []byte(conf), 0o644); err != nil {
		return nil, "", 0, err
	}
	p, _, err := startProc(h.dir, name, false, bin, props)
	if err != nil {
		return nil, "", 0, err
	}
	h.procs = append(h.procs, p)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready, err := waitReady(ctx, p, addr, gregorID)
	if err != nil {
		p.stop()
		return nil, "", 0, err
	}
	return p, addr, ready, nil
}

// createTopic creates "bench" with 8 partitions and RF 1 through a CreateTopics
// request and waits until Metadata shows a leader for every partition.
func createTopic(addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && err != kerr.TopicAlreadyExists {
			return fmt.Errorf("%s: %w", t.Topic, err)
		}
	}
	for {
		mreq := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(topic)
		mreq.Topics = append(mreq.Topics, mt)
		mresp, err := mreq.RequestWith(ctx, cl)
		if err == nil && len(mresp.Topics) == 1 && mresp.Topics[0].ErrorCode == 0 {
			led := 0
			for _, p := range mresp.Topics[0].Partitions {
				if p.ErrorCode == 0 && p.Leader == gregorID {
					led++
				}
			}
			if led == partitions {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leaders after 60s (last error %v)", topic, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// headLines is the first n lines of s.
func headLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
