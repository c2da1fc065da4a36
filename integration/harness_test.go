// Package integration holds Gregor's end-to-end tests: a real ZooKeeper
// (Debian's package, through zkpaths/zktest), broker processes built once from
// this tree, and real clients (sarama, kcat) over real TCP.
//
// This file is the harness every later test reuses: TestMain builds
// kafka-server-start, newCluster starts ZooKeeper and N brokers and waits until
// they are ready, and the Cluster methods stop, kill -9, pause, resume and
// restart single brokers and ZooKeeper servers. Broker output goes to a file
// per broker; when a test fails, the tail of every broker's log is printed.
// Cleanup kills everything, also after a failed test, and every child gets
// Pdeathsig so a killed `go test` leaves nothing behind.
//
// Environment knobs:
//
//	GREGOR_BROKER_RACE=0|1   build the broker with -race (default: like the test binary)
//	GREGOR_IT_LOG_LEVEL=lvl  the brokers' log.level (default info)
//	GREGOR_IT_LOG_LINES=n    lines of each broker log printed on failure (default 200)
package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-zookeeper/zk"

	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

// brokerPackage is the main package of the broker binary.
const brokerPackage = "github.com/gregor-broker/gregor/tools/kafka-server-start"

var (
	// brokerBin is the kafka-server-start binary built by TestMain.
	brokerBin string
	// buildErr is why it could not be built; every cluster fails with it.
	buildErr error

	sharedZK     *zktest.Cluster
	sharedZKErr  error
	sharedZKOnce sync.Once
	sharedZKDir  string

	chrootSeq atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gregor-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: temp dir: %v\n", err)
		os.Exit(1)
	}
	sharedZKDir = filepath.Join(dir, "zk-shared")
	start := time.Now()
	brokerBin, buildErr = buildBroker(dir)
	if buildErr != nil {
		fmt.Fprintf(os.Stderr, "integration: cannot build the broker; every test that starts one fails:\n%v\n", buildErr)
	} else if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "integration: built %s (race=%v) in %s\n", brokerBin, brokerRace(), time.Since(start).Round(time.Millisecond))
	}
	removeStaleRules()
	code := m.Run()
	if sharedZK != nil {
		sharedZK.Stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// brokerRace says whether the broker is built with the race detector: like
// the test binary unless GREGOR_BROKER_RACE says otherwise.
func brokerRace() bool {
	switch os.Getenv("GREGOR_BROKER_RACE") {
	case "0", "false":
		return false
	case "1", "true":
		return true
	}
	return raceEnabled
}

func buildBroker(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(getenv("GOROOT", "/usr/local/go"), "bin", "go")
	}
	out := filepath.Join(dir, "kafka-server-start")
	args := []string{"build", "-o", out}
	if brokerRace() {
		args = append(args, "-race")
	}
	args = append(args, brokerPackage)
	cmd := exec.Command(goBin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", goBin, strings.Join(args, " "), err, buf.String())
	}
	return out, nil
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// zooKeeper returns the package's shared one-node ZooKeeper, started on first
// use and stopped by TestMain. Tests are isolated from each other by chroot.
func zooKeeper(t testing.TB) *zktest.Cluster {
	t.Helper()
	sharedZKOnce.Do(func() {
		sharedZK, sharedZKErr = zktest.StartCluster(sharedZKDir, 1, zktest.Options{})
	})
	if sharedZKErr != nil {
		t.Fatalf("shared ZooKeeper: %v", sharedZKErr)
	}
	return sharedZK
}

// opts configure newCluster.
type opts struct {
	// Brokers is the number of broker processes, ids 0..Brokers-1 (default 1).
	Brokers int
	// ZooKeepers is 1 (default) or 3. One server is the package's shared
	// ZooKeeper unless OwnZK is set; a 3-node ensemble is always the test's own.
	ZooKeepers int
	// OwnZK gives the test its own ZooKeeper, needed for StopZK/StartZK.
	OwnZK bool
	// Overrides are passed to every broker as --override key=value, after
	// the harness defaults in server.properties.
	Overrides map[string]string
	// BrokerOverrides are per-broker overrides (by broker id), applied last.
	BrokerOverrides map[int]map[string]string
	// NoWait returns without waiting for the cluster to be ready.
	NoWait bool
}

// Cluster is a ZooKeeper (shared or own) plus broker processes for one test.
type Cluster struct {
	t       testing.TB
	zk      *zktest.Cluster
	ownZK   bool
	chroot  string
	brokers []*brokerProc

	zkMu   sync.Mutex
	zkConn *zkClient

	net netFaults // iptables rules this cluster added (faults_test.go)
}

// brokerProc is one broker process: its configuration, data and log stay
// across restarts.
type brokerProc struct {
	id      int
	host    string // its own loopback address, 127.0.0.<10+id>
	port    int
	home    string // server.properties, broker.log
	dataDir string // log.dirs
	props   string
	logPath string
	args    []string

	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{} // closed when cmd exits
	exitErr    error
	expectExit bool
	paused     bool
	starts     int
	unexpected []string // reports of exits nobody asked for
}

// newCluster starts ZooKeeper and o.Brokers brokers for t, waits until every
// broker is registered and a sarama client sees all of them and a controller,
// and registers the cleanup that kills everything and prints logs on failure.
func newCluster(t testing.TB, o opts) *Cluster {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("the broker binary could not be built:\n%v", buildErr)
	}
	if o.Brokers == 0 {
		o.Brokers = 1
	}
	if o.ZooKeepers == 0 {
		o.ZooKeepers = 1
	}
	// The temp dir comes first: cleanups run last-in first-out, so the
	// processes are killed and their logs printed before it is removed.
	base := t.TempDir()
	c := &Cluster{t: t}
	t.Cleanup(c.cleanup)

	if o.ZooKeepers == 1 && !o.OwnZK {
		c.zk = zooKeeper(t)
	} else {
		zc, err := zktest.StartCluster(filepath.Join(base, "zk"), o.ZooKeepers, zktest.Options{})
		if zc != nil {
			c.zk, c.ownZK = zc, true
		}
		if err != nil {
			t.Fatalf("ZooKeeper: %v", err)
		}
	}
	c.chroot = fmt.Sprintf("/gregor-%s-%d", sanitize(t.Name()), chrootSeq.Add(1))

	ports := freePorts(t, o.Brokers)
	for i := 0; i < o.Brokers; i++ {
		b := &brokerProc{
			id:   i,
			host: brokerHost(i),
			port: ports[i],
			home: filepath.Join(base, fmt.Sprintf("broker-%d", i)),
		}
		b.dataDir = filepath.Join(b.home, "data")
		b.props = filepath.Join(b.home, "server.properties")
		b.logPath = filepath.Join(b.home, "broker.log")
		if err := os.MkdirAll(b.home, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(b.props, []byte(c.serverProperties(b, o.Brokers)), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, kv := range sortedKV(o.Overrides) {
			b.args = append(b.args, "--override", kv)
		}
		for _, kv := range sortedKV(o.BrokerOverrides[i]) {
			b.args = append(b.args, "--override", kv)
		}
		c.brokers = append(c.brokers, b)
	}
	for _, b := range c.brokers {
		if err := b.start(); err != nil {
			t.Fatalf("broker %d: %v", b.id, err)
		}
	}
	if !o.NoWait {
		c.WaitReady(t)
	}
	return c
}

// serverProperties is the harness's server.properties for b: Kafka key names,
// loopback listener, a chroot per test and short timeouts.
func (c *Cluster) serverProperties(b *brokerProc, n int) string {
	level := getenv("GREGOR_IT_LOG_LEVEL", "info")
	offsetsRF := n
	if offsetsRF > 3 {
		offsetsRF = 3
	}
	lines := []string{
		"# written by the integration harness",
		fmt.Sprintf("broker.id=%d", b.id),
		fmt.Sprintf("listeners=PLAINTEXT://%s:%d", b.host, b.port),
		fmt.Sprintf("advertised.listeners=PLAINTEXT://%s:%d", b.host, b.port),
		"log.dirs=" + b.dataDir,
		"zookeeper.connect=" + c.zk.ConnectString() + c.chroot,
		"zookeeper.session.timeout.ms=6000",
		"num.partitions=1",
		"default.replication.factor=1",
		fmt.Sprintf("offsets.topic.replication.factor=%d", offsetsRF),
		fmt.Sprintf("transaction.state.log.replication.factor=%d", offsetsRF),
		"auto.create.topics.enable=true",
		"delete.topic.enable=true",
		"replica.lag.time.max.ms=10000",
		"group.initial.rebalance.delay.ms=0",
		"log.level=" + level,
	}
	return strings.Join(lines, "\n") + "\n"
}

func (b *brokerProc) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return fmt.Errorf("broker %d is already running (pid %d)", b.id, b.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	b.starts++
	fmt.Fprintf(logf, "=== harness: start #%d of broker %d at %s: %s %s %s\n", b.starts, b.id,
		time.Now().Format(time.RFC3339Nano), brokerBin, b.props, strings.Join(b.args, " "))
	cmd := exec.Command(brokerBin, append([]string{b.props}, b.args...)...)
	cmd.Dir = b.home
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", brokerBin, err)
	}
	done := make(chan struct{})
	b.cmd, b.done, b.exitErr, b.expectExit, b.paused = cmd, done, nil, false, false
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== harness: broker %d (pid %d) exited: %v\n", b.id, cmd.Process.Pid, exitString(err))
		logf.Close()
		b.mu.Lock()
		b.exitErr = err
		if !b.expectExit {
			b.unexpected = append(b.unexpected, fmt.Sprintf("broker %d (pid %d, start #%d) exited unexpectedly: %s",
				b.id, cmd.Process.Pid, b.starts, exitString(err)))
		}
		b.mu.Unlock()
		close(done)
	}()
	return nil
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// signal sends sig to the running process and, when expectExit, marks the
// coming exit as asked for. It returns the done channel, or nil if stopped.
func (b *brokerProc) signal(sig syscall.Signal, expectExit bool) (chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return nil, fmt.Errorf("broker %d is not running", b.id)
	}
	if expectExit {
		b.expectExit = true
	}
	switch sig {
	case syscall.SIGSTOP:
		b.paused = true
	case syscall.SIGCONT:
		b.paused = false
	}
	if err := b.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return b.done, fmt.Errorf("broker %d: %v: %w", b.id, sig, err)
	}
	return b.done, nil
}

// reap forgets the exited process so the broker can be started again.
func (b *brokerProc) reap() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.exitErr
	b.cmd = nil
	return err
}

func (b *brokerProc) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil
}

func (b *brokerProc) isPaused() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paused
}

// brokerHost is broker i's loopback address. Each broker listens on and
// speaks from its own address (the broker binds its outgoing broker and
// ZooKeeper connections to its inter-broker listener's host), so that
// faults.go can cut links between brokers, and between a broker and
// ZooKeeper, with iptables rules on addresses.
func brokerHost(i int) string { return fmt.Sprintf("127.0.0.%d", 10+i) }

// Addr is broker i's listener, "127.0.0.<10+i>:port".
func (c *Cluster) Addr(i int) string {
	return net.JoinHostPort(c.brokers[i].host, strconv.Itoa(c.brokers[i].port))
}

// Host is broker i's loopback address.
func (c *Cluster) Host(i int) string { return c.brokers[i].host }

// Port is broker i's listener port.
func (c *Cluster) Port(i int) int { return c.brokers[i].port }

// DataDir is broker i's log.dirs.
func (c *Cluster) DataDir(i int) string { return c.brokers[i].dataDir }

// LogPath is the file that holds broker i's stdout and stderr.
func (c *Cluster) LogPath(i int) string { return c.brokers[i].logPath }

// Chroot is this cluster's ZooKeeper chroot, e.g. "/gregor-TestX-3".
func (c *Cluster) Chroot() string { return c.chroot }

// ZK is the ZooKeeper under the cluster.
func (c *Cluster) ZK() *zktest.Cluster { return c.zk }

// Brokers is the number of broker processes (running or not).
func (c *Cluster) Brokers() int { return len(c.brokers) }

// Running says whether broker i's process is up (it may be paused).
func (c *Cluster) Running(i int) bool { return c.brokers[i].running() }

// Pid is broker i's process id, or 0 when it is not running.
func (c *Cluster) Pid(i int) int {
	b := c.brokers[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Bootstrap lists the addresses of every broker.
func (c *Cluster) Bootstrap() []string {
	addrs := make([]string, len(c.brokers))
	for i := range c.brokers {
		addrs[i] = c.Addr(i)
	}
	return addrs
}

// LiveBootstrap lists the addresses of the brokers running and not paused
// (a paused broker accepts connections and never answers).
func (c *Cluster) LiveBootstrap() []string {
	var addrs []string
	for _, i := range c.live() {
		addrs = append(addrs, c.Addr(i))
	}
	return addrs
}

// live lists the ids of brokers running and not paused.
func (c *Cluster) live() []int {
	var ids []int
	for i, b := range c.brokers {
		if b.running() && !b.isPaused() {
			ids = append(ids, i)
		}
	}
	return ids
}

// StopBroker stops broker i with SIGTERM (controlled shutdown) and waits for
// it to exit; a non-zero exit status or a shutdown over 60 s fails the test.
func (c *Cluster) StopBroker(i int) {
	c.t.Helper()
	b := c.brokers[i]
	done, err := b.signal(syscall.SIGTERM, true)
	if err != nil {
		c.t.Fatal(err)
	}
	if b.isPaused() {
		_, _ = b.signal(syscall.SIGCONT, true)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_, _ = b.signal(syscall.SIGKILL, true)
		<-done
		b.reap()
		c.t.Fatalf("broker %d did not stop within 60s of SIGTERM; killed it", i)
	}
	if err := b.reap(); err != nil {
		c.t.Errorf("broker %d did not stop cleanly on SIGTERM: %v", i, err)
	}
}

// KillBroker kills broker i with SIGKILL and waits until the process is gone.
// Its ZooKeeper registration stays until the session times out.
func (c *Cluster) KillBroker(i int) {
	c.t.Helper()
	b := c.brokers[i]
	done, err := b.signal(syscall.SIGKILL, true)
	if err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("broker %d still alive 30s after SIGKILL", i)
	}
	b.reap()
}

// PauseBroker freezes broker i with SIGSTOP.
func (c *Cluster) PauseBroker(i int) {
	c.t.Helper()
	if _, err := c.brokers[i].signal(syscall.SIGSTOP, false); err != nil {
		c.t.Fatal(err)
	}
}

// ResumeBroker thaws broker i with SIGCONT.
func (c *Cluster) ResumeBroker(i int) {
	c.t.Helper()
	if _, err := c.brokers[i].signal(syscall.SIGCONT, false); err != nil {
		c.t.Fatal(err)
	}
}

// StartBroker starts a stopped broker i with its configuration and data and
// waits until it is registered and seen in metadata. After a SIGKILL the old
// registration lives until its ZooKeeper session expires and Kafka refuses to
// start a second broker with a live id, so StartBroker first waits for
// /brokers/ids/<i> to disappear, as an operator's restart policy would.
func (c *Cluster) StartBroker(i int) {
	c.t.Helper()
	c.WaitDeregistered(c.t, i)
	if err := c.brokers[i].start(); err != nil {
		c.t.Fatal(err)
	}
	c.WaitReady(c.t)
}

// WaitDeregistered waits until /brokers/ids/<i> is gone (the session of a
// killed or paused broker expired, or it stopped cleanly).
func (c *Cluster) WaitDeregistered(t testing.TB, i int) {
	t.Helper()
	c.WaitFor(t, 30*time.Second, func() error {
		zc, err := c.ZKConn()
		if err != nil {
			return err
		}
		ok, _, err := zc.Exists(fmt.Sprintf("/brokers/ids/%d", i))
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("/brokers/ids/%d still registered", i)
		}
		return nil
	})
}

// RestartBroker stops broker i with SIGTERM if it runs, starts it again with
// the same configuration and data, and waits until the cluster is ready.
func (c *Cluster) RestartBroker(i int) {
	c.t.Helper()
	if c.brokers[i].running() {
		c.StopBroker(i)
	}
	c.StartBroker(i)
}

// StopZK kills ZooKeeper server i (SIGKILL). The test needs its own ZooKeeper.
func (c *Cluster) StopZK(i int) {
	c.t.Helper()
	if !c.ownZK {
		c.t.Fatal("StopZK needs opts.OwnZK or ZooKeepers: 3; the shared ZooKeeper serves other tests")
	}
	c.zk.StopServer(i)
}

// StartZK restarts ZooKeeper server i with its data and waits until it serves.
func (c *Cluster) StartZK(i int) {
	c.t.Helper()
	if !c.ownZK {
		c.t.Fatal("StartZK needs opts.OwnZK or ZooKeepers: 3")
	}
	if err := c.zk.StartServer(i); err != nil {
		c.t.Fatal(err)
	}
	if err := c.zk.WaitServing(i, 60*time.Second); err != nil {
		c.t.Fatal(err)
	}
}

// WaitReady waits until every running, unpaused broker is registered under
// /brokers/ids, /controller names one of them, and a sarama client's
// metadata lists exactly them with that controller.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	c.WaitFor(t, 60*time.Second, func() error {
		live := c.live()
		if len(live) == 0 {
			return errors.New("no broker is running")
		}
		zc, err := c.ZKConn()
		if err != nil {
			return err
		}
		ids, _, err := zc.Children("/brokers/ids")
		if err != nil {
			return fmt.Errorf("children of /brokers/ids: %w", err)
		}
		if want := intsToStrings(live); !equalStrings(sortedCopy(ids), want) {
			return fmt.Errorf("/brokers/ids has %v, want %v", ids, want)
		}
		ctrl, err := c.Controller()
		if err != nil {
			return err
		}
		if !contains(live, ctrl) {
			return fmt.Errorf("/controller names broker %d, not a live broker %v", ctrl, live)
		}
		client, err := newQuietClient(c)
		if err != nil {
			return err
		}
		defer client.Close()
		var seen []int
		for _, b := range client.Brokers() {
			seen = append(seen, int(b.ID()))
		}
		sort.Ints(seen)
		if !equalStrings(intsToStrings(seen), intsToStrings(live)) {
			return fmt.Errorf("metadata lists brokers %v, want %v", seen, live)
		}
		cb, err := client.Controller()
		if err != nil {
			return fmt.Errorf("metadata controller: %w", err)
		}
		if int(cb.ID()) != ctrl {
			return fmt.Errorf("metadata says controller %d, /controller says %d", cb.ID(), ctrl)
		}
		return nil
	})
}

// newQuietClient is a sarama client for the live brokers that fails fast:
// for polling loops that retry themselves.
func newQuietClient(c *Cluster) (sarama.Client, error) {
	cfg := c.SaramaConfig()
	cfg.Net.ReadTimeout = 5 * time.Second
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(c.LiveBootstrap(), cfg)
	if err != nil {
		return nil, fmt.Errorf("sarama client: %w", err)
	}
	return client, nil
}

// Controller is the broker id in /controller.
func (c *Cluster) Controller() (int, error) {
	zc, err := c.ZKConn()
	if err != nil {
		return -1, err
	}
	data, _, err := zc.Get("/controller")
	if err != nil {
		return -1, fmt.Errorf("get /controller: %w", err)
	}
	var v struct {
		BrokerID *int `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.BrokerID == nil {
		return -1, fmt.Errorf("/controller holds %q: no brokerid (%v)", data, err)
	}
	return *v.BrokerID, nil
}

// ControllerEpoch is the value of /controller_epoch.
func (c *Cluster) ControllerEpoch() (int, error) {
	zc, err := c.ZKConn()
	if err != nil {
		return -1, err
	}
	data, _, err := zc.Get("/controller_epoch")
	if err != nil {
		return -1, fmt.Errorf("get /controller_epoch: %w", err)
	}
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return -1, fmt.Errorf("/controller_epoch holds %q: %v", data, err)
	}
	return n, nil
}

// WaitFor polls f until it returns nil, failing t with f's last error after
// timeout. The failure also names brokers that exited unexpectedly.
func (c *Cluster) WaitFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	exited := len(c.unexpectedExits())
	err := poll(timeout, func() error {
		if ex := c.unexpectedExits(); len(ex) > exited {
			return stopPolling{fmt.Errorf("gave up: %s", ex[len(ex)-1])}
		}
		return f()
	})
	if err != nil {
		if ex := c.unexpectedExits(); len(ex) > 0 {
			err = fmt.Errorf("%w\n%s", err, strings.Join(ex, "\n"))
		}
		t.Fatalf("condition not met (timeout %s): %v", timeout, err)
	}
}

// waitFor is WaitFor without a cluster.
func waitFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	if err := poll(timeout, f); err != nil {
		t.Fatalf("condition not met (timeout %s): %v", timeout, err)
	}
}

// poll runs f until it succeeds or timeout passes, backing off from 20 ms to
// 250 ms between tries, and returns the last error.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 20 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop stopPolling
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		if wait < 250*time.Millisecond {
			wait *= 2
		}
	}
}

// stopPolling is an error that ends poll at once.
type stopPolling struct{ err error }

func (s stopPolling) Error() string { return s.err.Error() }

func (c *Cluster) unexpectedExits() []string {
	var out []string
	for _, b := range c.brokers {
		b.mu.Lock()
		out = append(out, b.unexpected...)
		b.mu.Unlock()
	}
	return out
}

// cleanup runs when the test ends: it checks the logs for data races and
// panics, kills every broker, prints the logs if the test failed, and stops
// the test's own ZooKeeper.
func (c *Cluster) cleanup() {
	t := c.t
	c.Heal(t)
	for _, b := range c.brokers {
		if done, err := b.signal(syscall.SIGKILL, true); err == nil {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("broker %d (pid %d) survived SIGKILL", b.id, c.Pid(b.id))
			}
			b.reap()
		}
	}
	for _, e := range c.unexpectedExits() {
		t.Errorf("%s", e)
	}
	for _, b := range c.brokers {
		for _, p := range logProblems(b.logPath) {
			t.Errorf("broker %d log: %s", b.id, p)
		}
	}
	c.zkMu.Lock()
	if c.zkConn != nil {
		c.zkConn.Close()
		c.zkConn = nil
	}
	c.zkMu.Unlock()
	if t.Failed() {
		n, _ := strconv.Atoi(getenv("GREGOR_IT_LOG_LINES", "200"))
		for _, b := range c.brokers {
			t.Logf("---- broker %d (%s, %s), last %d lines of %s ----\n%s", b.id, net.JoinHostPort(b.host, strconv.Itoa(b.port)),
				c.chroot, n, b.logPath, tailLines(b.logPath, n))
		}
		for _, s := range zkServers(c.zk) {
			p := filepath.Join(s.Dir, "zookeeper.out")
			if c.ownZK {
				t.Logf("---- zookeeper %d (%s), last 40 lines ----\n%s", s.ID, s.Addr(), tailLines(p, 40))
			} else {
				t.Logf("---- shared zookeeper (%s), last 20 warnings ----\n%s", s.Addr(), grepTail(p, 20, "WARN", "ERROR"))
			}
		}
	}
	if c.ownZK {
		c.zk.Stop()
	}
}

func zkServers(z *zktest.Cluster) []*zktest.Server {
	if z == nil {
		return nil
	}
	return z.Servers
}

// logProblems finds data races, panics and fatal runtime errors in a log.
func logProblems(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		for _, marker := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if strings.HasPrefix(line, marker) {
				out = append(out, fmt.Sprintf("line %d: %s", ln, line))
			}
		}
	}
	return out
}

// grepTail returns the last n lines of the file at path that contain one of
// the markers.
func grepTail(path string, n int, markers ...string) string {
	var keep []string
	for _, l := range strings.Split(tailLines(path, 1<<20), "\n") {
		for _, m := range markers {
			if strings.Contains(l, m) {
				keep = append(keep, l)
				break
			}
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

// tailLines returns the last n lines of the file at path.
func tailLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SaramaConfig is the harness's client configuration: protocol V2_8_0_0,
// acks=all, successes returned, retries long enough to ride out a leader
// change, consumer errors returned.
func (c *Cluster) SaramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "gregor-integration"
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 20 * time.Second
	cfg.Net.WriteTimeout = 5 * time.Second
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 10
	cfg.Producer.Retry.Backoff = 200 * time.Millisecond
	cfg.Producer.Flush.Frequency = 2 * time.Millisecond
	cfg.Producer.Flush.Messages = 20
	cfg.Consumer.Return.Errors = true
	cfg.Admin.Timeout = 15 * time.Second
	cfg.Admin.Retry.Max = 10
	cfg.Admin.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

// Client is a sarama client for the live brokers, closed when t ends.
func (c *Cluster) Client(t testing.TB, cfg *sarama.Config) sarama.Client {
	t.Helper()
	if cfg == nil {
		cfg = c.SaramaConfig()
	}
	client, err := sarama.NewClient(c.LiveBootstrap(), cfg)
	if err != nil {
		t.Fatalf("sarama.NewClient(%v): %v", c.LiveBootstrap(), err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// Admin is a sarama ClusterAdmin for the live brokers, closed when t ends.
func (c *Cluster) Admin(t testing.TB, cfg *sarama.Config) sarama.ClusterAdmin {
	t.Helper()
	if cfg == nil {
		cfg = c.SaramaConfig()
	}
	admin, err := sarama.NewClusterAdmin(c.LiveBootstrap(), cfg)
	if err != nil {
		t.Fatalf("sarama.NewClusterAdmin(%v): %v", c.LiveBootstrap(), err)
	}
	t.Cleanup(func() { admin.Close() })
	return admin
}

// ZKConn is a ZooKeeper client rooted at the cluster's chroot, shared by the
// test and closed by the cleanup.
func (c *Cluster) ZKConn() (*zkClient, error) {
	c.zkMu.Lock()
	defer c.zkMu.Unlock()
	if c.zkConn != nil {
		return c.zkConn, nil
	}
	conn, _, err := zk.Connect(c.zk.Addrs(), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, fmt.Errorf("zk.Connect(%v): %w", c.zk.Addrs(), err)
	}
	c.zkConn = &zkClient{Conn: conn, chroot: c.chroot}
	return c.zkConn, nil
}

// MustZK is ZKConn for tests: it fails t on error.
func (c *Cluster) MustZK(t testing.TB) *zkClient {
	t.Helper()
	zc, err := c.ZKConn()
	if err != nil {
		t.Fatal(err)
	}
	return zc
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...interface{}) {}

// zkClient is a go-zookeeper connection whose paths are relative to a chroot,
// like a Kafka broker's (go-zookeeper has no chroot of its own). Conn stays
// reachable for absolute paths.
type zkClient struct {
	*zk.Conn
	chroot string
}

// Abs is the absolute path of p under the chroot.
func (z *zkClient) Abs(p string) string {
	if p == "/" {
		return z.chroot
	}
	return z.chroot + p
}

// Get reads the data of p.
func (z *zkClient) Get(p string) ([]byte, *zk.Stat, error) { return z.Conn.Get(z.Abs(p)) }

// Children lists the children of p.
func (z *zkClient) Children(p string) ([]string, *zk.Stat, error) { return z.Conn.Children(z.Abs(p)) }

// Exists says whether p exists.
func (z *zkClient) Exists(p string) (bool, *zk.Stat, error) { return z.Conn.Exists(z.Abs(p)) }

// Set writes the data of p at version (-1: any).
func (z *zkClient) Set(p string, data []byte, version int32) (*zk.Stat, error) {
	return z.Conn.Set(z.Abs(p), data, version)
}

// Create creates p.
func (z *zkClient) Create(p string, data []byte, flags int32) (string, error) {
	return z.Conn.Create(z.Abs(p), data, flags, zk.WorldACL(zk.PermAll))
}

// Delete deletes p at version (-1: any).
func (z *zkClient) Delete(p string, version int32) error { return z.Conn.Delete(z.Abs(p), version) }

// freePorts picks a listener port for each of n brokers: free on the
// broker's own address and below the kernel's ephemeral range (32768 and
// up), so no outgoing connection a broker opens from its address (to
// ZooKeeper, to another broker) can take the port before the broker
// binds it, or while it is down between restarts.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	const lo, hi = 20000, 32768
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		for try := 0; ; try++ {
			port := lo + rand.IntN(hi-lo)
			l, err := net.Listen("tcp", net.JoinHostPort(brokerHost(i), strconv.Itoa(port)))
			if err == nil {
				ls = append(ls, l)
				ports[i] = port
				break
			}
			if try == 100 {
				t.Fatalf("no free port for broker %d: %v", i, err)
			}
		}
	}
	return ports
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func sanitize(name string) string {
	s := unsafeChars.ReplaceAllString(name, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

func sortedKV(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func intsToStrings(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Slice(out, func(i, j int) bool {
		a, errA := strconv.Atoi(out[i])
		b, errB := strconv.Atoi(out[j])
		if errA == nil && errB == nil {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
