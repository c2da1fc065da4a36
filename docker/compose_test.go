//go:build dockertest

package docker

// TestCompose drives docker-compose.yml end to end on a Docker engine:
//
//	make docker-test   (builds the images, then go test -tags dockertest ./docker/)
//
// up; all six containers healthy; an RF=3, min.insync.replicas=2 topic;
// zookeeper-shell in a container lists /brokers/ids = [1, 2, 3] and shows
// /controller; then, while a sarama producer on the host sends with
// acks=all: docker kill the leader's container (started again after a
// while, as a supervisor would), docker network disconnect another broker for
// 30 s, docker stop one ZooKeeper; after each heal every partition must be
// back to a full ISR within 60 s, and every acknowledged message must be read
// back at its offset. Last, compose down -v must leave no container, volume or
// network behind.
//
// GREGOR_DOCKER_SKIP_FAULTS=1 skips the fault phase (up, topic,
// zookeeper-shell and down still run).

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

const (
	project = "gregordockertest"
	topic   = "docker-failover"
)

func TestCompose(t *testing.T) {
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine (docker info: %v: %s)", err, bytes.TrimSpace(out))
	}
	for _, image := range []string{"gregor:latest", "zookeeper:3.8"} {
		if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
			t.Fatalf("image %s missing: run make docker first", image)
		}
	}
	c := newCompose(t)

	if !t.Run("up and healthy", c.upAndHealthy) {
		t.FailNow()
	}
	if !t.Run("topic RF=3 min.insync.replicas=2", c.createTopic) {
		t.FailNow()
	}
	t.Run("zookeeper-shell", c.zookeeperShell)
	if os.Getenv("GREGOR_DOCKER_SKIP_FAULTS") == "1" {
		t.Log("GREGOR_DOCKER_SKIP_FAULTS=1: fault phase skipped")
	} else {
		t.Run("faults lose no acknowledged message", c.faults)
	}
	t.Run("down -v leaves nothing", c.downLeavesNothing)
}

// compose is one project of docker-compose.yml, on free host ports.
type compose struct {
	t       *testing.T
	command []string // "docker compose" or "docker-compose"
	env     []string
	ports   [3]int
	admin   sarama.ClusterAdmin
	down    bool
}

func newCompose(t *testing.T) *compose {
	c := &compose{t: t}
	if exec.Command("docker", "compose", "version").Run() == nil {
		c.command = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		c.command = []string{"docker-compose"}
	} else {
		t.Skip("neither `docker compose` nor docker-compose is installed")
	}
	c.env = os.Environ()
	for i := range c.ports {
		c.ports[i] = freePort(t)
		c.env = append(c.env, fmt.Sprintf("GREGOR_BROKER%d_PORT=%d", i+1, c.ports[i]))
	}
	c.run("down", "-v", "--remove-orphans") // a previous run's leftovers
	t.Cleanup(func() {
		if c.admin != nil {
			c.admin.Close()
		}
		if t.Failed() {
			out, _ := c.output("logs", "--no-color", "--tail", "40")
			t.Logf("compose logs (tail):\n%s", out)
		}
		if !c.down {
			c.run("down", "-v", "--remove-orphans")
		}
	})
	return c
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *compose) composeCmd(args ...string) *exec.Cmd {
	full := append(slices.Clone(c.command[1:]), "-p", project, "-f", "docker-compose.yml")
	cmd := exec.Command(c.command[0], append(full, args...)...)
	cmd.Env = c.env
	return cmd
}

func (c *compose) output(args ...string) (string, error) {
	out, err := c.composeCmd(args...).CombinedOutput()
	return string(out), err
}

func (c *compose) run(args ...string) {
	if out, err := c.output(args...); err != nil {
		c.t.Logf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// docker runs a docker command and returns its trimmed output.
func docker(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// container is the id of a service's container.
func (c *compose) container(t *testing.T, service string) string {
	out, err := c.composeCmd("ps", "-q", service).Output()
	id := strings.TrimSpace(string(out))
	if err != nil || id == "" {
		t.Fatalf("compose ps -q %s: %q, %v", service, id, err)
	}
	return id
}

// network is the project's compose network.
func (c *compose) network(t *testing.T) string {
	id, err := docker("network", "ls", "-q", "--filter", "label=com.docker.compose.project="+project)
	if err != nil || id == "" || strings.Contains(id, "\n") {
		t.Fatalf("the project's network: %q, %v", id, err)
	}
	return id
}

func (c *compose) bootstrap() []string {
	var b []string
	for _, p := range c.ports {
		b = append(b, "localhost:"+strconv.Itoa(p))
	}
	return b
}

var services = []string{"zk1", "zk2", "zk3", "broker1", "broker2", "broker3"}

func (c *compose) upAndHealthy(t *testing.T) {
	start := time.Now()
	if out, err := c.output("up", "-d"); err != nil {
		t.Fatalf("compose up -d: %v\n%s", err, out)
	}
	upReturned := time.Since(start)
	c.waitHealthy(t, 180*time.Second, services...)
	t.Logf("FIGURE compose up -d returned after %.1f s; all 6 containers healthy after %.1f s",
		upReturned.Seconds(), time.Since(start).Seconds())

	cfg := saramaConfig()
	admin, err := sarama.NewClusterAdmin(c.bootstrap(), cfg)
	if err != nil {
		t.Fatalf("cluster admin on %v: %v", c.bootstrap(), err)
	}
	c.admin = admin
	eventually(t, 60*time.Second, func() error {
		brokers, _, err := admin.DescribeCluster()
		if err != nil {
			return err
		}
		if len(brokers) != 3 {
			return fmt.Errorf("metadata lists %d brokers, want 3", len(brokers))
		}
		return nil
	})
}

// waitHealthy waits until every service's container reports healthy.
func (c *compose) waitHealthy(t *testing.T, timeout time.Duration, svcs ...string) {
	t.Helper()
	eventually(t, timeout, func() error {
		var notYet []string
		for _, s := range svcs {
			status, err := docker("inspect", "-f", "{{.State.Health.Status}}", c.container(t, s))
			if err != nil {
				return err
			}
			if status != "healthy" {
				notYet = append(notYet, s+"="+status)
			}
		}
		if len(notYet) > 0 {
			return fmt.Errorf("not healthy: %v", notYet)
		}
		return nil
	})
}

func (c *compose) createTopic(t *testing.T) {
	minISR := "2"
	err := c.admin.CreateTopic(topic, &sarama.TopicDetail{
		NumPartitions:     3,
		ReplicationFactor: 3,
		ConfigEntries:     map[string]*string{"min.insync.replicas": &minISR},
	}, false)
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	eventually(t, 60*time.Second, func() error { return c.fullISR(3) })
}

// fullISR checks that the topic has its partitions, each with a leader and
// all three replicas in sync.
func (c *compose) fullISR(partitions int) error {
	md, err := c.admin.DescribeTopics([]string{topic})
	if err != nil {
		return err
	}
	if len(md) != 1 || md[0].Err != sarama.ErrNoError {
		return fmt.Errorf("describe %s: %+v", topic, md)
	}
	if len(md[0].Partitions) != partitions {
		return fmt.Errorf("%d partitions, want %d", len(md[0].Partitions), partitions)
	}
	for _, p := range md[0].Partitions {
		if p.Leader < 0 || len(p.Isr) != 3 || len(p.Replicas) != 3 {
			return fmt.Errorf("partition %d: leader %d, replicas %v, isr %v", p.ID, p.Leader, p.Replicas, p.Isr)
		}
	}
	return nil
}

// zookeeperShell runs zookeeper-shell from the broker image on the compose
// network (zkCli.sh inside a ZooKeeper container when the image has no
// zookeeper-shell yet).
func (c *compose) zookeeperShell(t *testing.T) {
	net := c.network(t)
	shell := func(args ...string) string {
		var out string
		var err error
		if _, statErr := os.Stat("../tools/zookeeper-shell"); statErr == nil {
			out, err = docker(append([]string{"run", "--rm", "--network", net, "gregor:latest", "zookeeper-shell", "zk1:2181"}, args...)...)
		} else {
			t.Log("tools/zookeeper-shell absent: using zkCli.sh in zk1")
			out, err = docker(append([]string{"exec", c.container(t, "zk1"), "zkCli.sh", "-server", "localhost:2181"}, args...)...)
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := shell("ls", "/brokers/ids"); !strings.Contains(out, "[1, 2, 3]") {
		t.Errorf("ls /brokers/ids: want [1, 2, 3] in\n%s", out)
	}
	if out := shell("get", "/controller"); !strings.Contains(out, `"brokerid":`) {
		t.Errorf("get /controller: want the controller's JSON in\n%s", out)
	}
}

// faults runs the producer through a leader kill, a network partition and a
// ZooKeeper outage, then checks convergence and that nothing acknowledged
// was lost.
func (c *compose) faults(t *testing.T) {
	p := startProducer(t, c.bootstrap(), 200)
	defer p.stop()
	time.Sleep(5 * time.Second)

	// 1. docker kill the container of partition 0's leader.
	leader := c.leaderOf(t, 0)
	killed := fmt.Sprintf("broker%d", leader)
	killedID := c.container(t, killed)
	t.Logf("fault 1: docker kill %s (leader of %s-0); acked so far %d", killed, topic, p.ackCount())
	if _, err := docker("kill", killedID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(15 * time.Second)
	t.Logf("fault 1 healed: docker start %s; acked so far %d", killed, p.ackCount())
	startedAt := time.Now()
	if _, err := docker("start", killedID); err != nil {
		t.Fatal(err)
	}
	c.waitHealthy(t, 90*time.Second, killed)
	c.converge(t, "docker start of the killed leader", startedAt)

	// 2. Cut another broker off the compose network for 30 s.
	cut := fmt.Sprintf("broker%d", leader%3+1)
	cutID := c.container(t, cut)
	net := c.network(t)
	t.Logf("fault 2: docker network disconnect %s for 30 s; acked so far %d", cut, p.ackCount())
	if _, err := docker("network", "disconnect", net, cutID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Second)
	// Reconnect under the service name the other brokers know it by.
	if _, err := docker("network", "connect", "--alias", cut, net, cutID); err != nil {
		t.Fatal(err)
	}
	t.Logf("fault 2 healed: %s reconnected; acked so far %d", cut, p.ackCount())
	c.converge(t, "network reconnect", time.Now())

	// 3. Stop one ZooKeeper server (the ensemble keeps a quorum of two).
	zkID := c.container(t, "zk2")
	t.Logf("fault 3: docker stop zk2; acked so far %d", p.ackCount())
	if _, err := docker("stop", zkID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(15 * time.Second)
	if _, err := docker("start", zkID); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	t.Logf("fault 3 healed: zk2 started; acked so far %d", p.ackCount())

	c.converge(t, "ZooKeeper restart", healed)
	c.waitHealthy(t, 60*time.Second, services...)
	time.Sleep(3 * time.Second) // a few acks on the healed cluster
	p.stop()

	acked, errs := p.result()
	t.Logf("producer: %d acknowledged, %d failed %v", len(acked), sumCounts(errs), errs)
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged")
	}
	c.checkAcked(t, acked)
}

// converge waits, at most 60 s after healed, until every partition is back
// to three in-sync replicas.
func (c *compose) converge(t *testing.T, heal string, healed time.Time) {
	t.Helper()
	eventually(t, 60*time.Second-time.Since(healed), func() error { return c.fullISR(3) })
	t.Logf("FIGURE full ISR %.1f s after the %s", time.Since(healed).Seconds(), heal)
}

// leaderOf is the leader of a partition of the topic.
func (c *compose) leaderOf(t *testing.T, partition int32) int32 {
	var leader int32 = -1
	eventually(t, 30*time.Second, func() error {
		md, err := c.admin.DescribeTopics([]string{topic})
		if err != nil {
			return err
		}
		for _, p := range md[0].Partitions {
			if p.ID == partition && p.Leader > 0 {
				leader = p.Leader
				return nil
			}
		}
		return fmt.Errorf("no leader for %s-%d", topic, partition)
	})
	return leader
}

// checkAcked reads every partition back to its high watermark and checks that
// each acknowledged message is at the offset it was acknowledged with.
func (c *compose) checkAcked(t *testing.T, acked []ack) {
	cfg := saramaConfig()
	client, err := sarama.NewClient(c.bootstrap(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()

	want := make(map[int32]map[int64]string)
	for _, a := range acked {
		if want[a.partition] == nil {
			want[a.partition] = make(map[int64]string)
		}
		want[a.partition][a.offset] = a.value
	}
	lost := 0
	for partition, offsets := range want {
		hwm, err := client.GetOffset(topic, partition, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("high watermark of %s-%d: %v", topic, partition, err)
		}
		got := readPartition(t, consumer, partition, hwm)
		for off, v := range offsets {
			if got[off] != v {
				lost++
				if lost <= 10 {
					t.Errorf("%s-%d offset %d: acknowledged %q, read %q", topic, partition, off, v, got[off])
				}
			}
		}
		t.Logf("%s-%d: %d acknowledged, high watermark %d, %d read", topic, partition, len(offsets), hwm, len(got))
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged messages lost or changed", lost, len(acked))
	}
}

func readPartition(t *testing.T, consumer sarama.Consumer, partition int32, hwm int64) map[int64]string {
	got := make(map[int64]string)
	if hwm == 0 {
		return got
	}
	pc, err := consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("consume %s-%d: %v", topic, partition, err)
	}
	defer pc.Close()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m := <-pc.Messages():
			got[m.Offset] = string(m.Value)
			if m.Offset >= hwm-1 {
				return got
			}
		case err := <-pc.Errors():
			t.Fatalf("consume %s-%d: %v", topic, partition, err)
		case <-deadline:
			t.Fatalf("consume %s-%d: read %d messages, not up to the high watermark %d in 60 s", topic, partition, len(got), hwm)
		}
	}
}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "gregor-dockertest"
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 20 * time.Second
	cfg.Net.WriteTimeout = 5 * time.Second
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 500 * time.Millisecond
	cfg.Metadata.RefreshFrequency = 2 * time.Second
	cfg.Admin.Timeout = 20 * time.Second
	cfg.Admin.Retry.Max = 10
	cfg.Admin.Retry.Backoff = 500 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg
}

// ack is one acknowledged message.
type ack struct {
	partition int32
	offset    int64
	value     string
}

// producer sends rate messages a second with acks=all and no retries, so an
// acknowledged message was written exactly once, at its offset.
type producer struct {
	p        sarama.AsyncProducer
	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	acked    []ack
	errs     map[string]int
}

func startProducer(t *testing.T, bootstrap []string, rate int) *producer {
	cfg := saramaConfig()
	cfg.ClientID = "gregor-dockertest-producer"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Retry.Max = 0
	cfg.Producer.Timeout = 10 * time.Second
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	ap, err := sarama.NewAsyncProducer(bootstrap, cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	p := &producer{p: ap, done: make(chan struct{}), errs: make(map[string]int)}
	p.wg.Add(3)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			msg := &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprintf("m-%07d", seq))}
			select {
			case ap.Input() <- msg:
			case <-p.done:
				return
			}
		}
	}()
	go func() {
		defer p.wg.Done()
		for m := range ap.Successes() {
			v, _ := m.Value.Encode()
			p.mu.Lock()
			p.acked = append(p.acked, ack{m.Partition, m.Offset, string(v)})
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.wg.Done()
		for e := range ap.Errors() {
			p.mu.Lock()
			p.errs[errorClass(e.Err)]++
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop ends sending and waits for every answer.
func (p *producer) stop() {
	p.stopOnce.Do(func() {
		close(p.done)
		p.p.AsyncClose()
		p.wg.Wait()
	})
}

func (p *producer) ackCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

func (p *producer) result() ([]ack, map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.acked), p.errs
}

// errorClass shortens a produce error to its kind for the summary.
func errorClass(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i > 0 {
		return s[i+2:]
	}
	return s
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// downLeavesNothing runs compose down -v and checks that no container,
// volume or network of the project is left.
func (c *compose) downLeavesNothing(t *testing.T) {
	label := "label=com.docker.compose.project=" + project
	// Every volume the containers use, named or anonymous (the ZooKeeper
	// image's /logs): anonymous ones carry no project label.
	var volumes []string
	if ids, err := docker("ps", "-a", "-q", "--filter", label); err == nil && ids != "" {
		out, err := docker(append([]string{"inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}"}, strings.Fields(ids)...)...)
		if err != nil {
			t.Fatal(err)
		}
		volumes = strings.Fields(out)
	}
	start := time.Now()
	if out, err := c.output("down", "-v", "--remove-orphans"); err != nil {
		t.Fatalf("compose down -v: %v\n%s", err, out)
	}
	c.down = true
	t.Logf("compose down -v took %.1f s", time.Since(start).Seconds())
	for _, list := range [][]string{
		{"ps", "-a", "-q", "--filter", label},
		{"volume", "ls", "-q", "--filter", label},
		{"network", "ls", "-q", "--filter", label},
	} {
		out, err := docker(list...)
		if err != nil {
			t.Fatal(err)
		}
		if out != "" {
			t.Errorf("docker %s after down -v: %s", strings.Join(list, " "), out)
		}
	}
	for _, v := range volumes {
		if _, err := docker("volume", "inspect", v); err == nil {
			t.Errorf("volume %s still exists after down -v", v)
		}
	}
	t.Logf("down -v removed the containers, the network and %d volumes", len(volumes))
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(time.Second)
	}
}
