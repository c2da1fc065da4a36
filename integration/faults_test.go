package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Network faults with iptables. Every broker listens on and speaks from its
// own loopback address (brokerHost), ZooKeeper listens on 127.0.0.1, so a
// rule on (source, destination) addresses cuts exactly one link: broker to
// broker (a partition between them) or broker to ZooKeeper (its session
// expires). The rules carry a comment naming this test process; Heal and the
// cluster's cleanup remove them, and TestMain removes leftovers of a killed
// run.

// ruleComment marks this process's rules.
var ruleComment = fmt.Sprintf("gregor-it-%d", os.Getpid())

// netFaults is the set of rules a cluster has added.
type netFaults struct {
	mu    sync.Mutex
	rules [][]string // rule specs without the -I/-D INPUT prefix
}

// requireIptables skips t when iptables cannot be used (not root, no
// binary). CI runs as root on a machine with iptables, where it never skips.
func requireIptables(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables not installed: network faults cannot be injected")
	}
	if out, err := exec.Command("iptables", "-w", "-S", "INPUT").CombinedOutput(); err != nil {
		t.Skipf("iptables unusable (need root): %v: %s", err, out)
	}
}

// removeStaleRules deletes rules left by earlier runs of this package that
// were killed before their cleanup. A rule whose run is still alive (its
// comment names the pid) belongs to a concurrent run and stays.
func removeStaleRules() {
	out, err := exec.Command("iptables", "-w", "-S", "INPUT").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A INPUT ") || !strings.Contains(line, "gregor-it-") || ruleOwnerAlive(line) {
			continue
		}
		args := append([]string{"-w", "-D", "INPUT"}, strings.Fields(strings.TrimPrefix(line, "-A INPUT "))...)
		for i, a := range args {
			args[i] = strings.Trim(a, `"`)
		}
		_ = exec.Command("iptables", args...).Run()
	}
}

// ruleOwnerAlive reports whether the test process named in a rule's
// "gregor-it-<pid>" comment is still running.
func ruleOwnerAlive(line string) bool {
	_, after, ok := strings.Cut(line, "gregor-it-")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimRight(strings.Fields(after)[0], `"`))
	if err != nil || pid == os.Getpid() {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

func (c *Cluster) addRule(t testing.TB, spec ...string) {
	t.Helper()
	spec = append(spec, "-j", "DROP", "-m", "comment", "--comment", ruleComment)
	args := append([]string{"-w", "-I", "INPUT"}, spec...)
	if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
	c.net.mu.Lock()
	c.net.rules = append(c.net.rules, spec)
	c.net.mu.Unlock()
}

// CutBrokers drops every packet between brokers a and b, both ways: a
// network partition between them that leaves their ZooKeeper sessions and
// clients alone.
func (c *Cluster) CutBrokers(t testing.TB, a, b int) {
	t.Helper()
	requireIptables(t)
	c.addRule(t, "-s", c.Host(a), "-d", c.Host(b))
	c.addRule(t, "-s", c.Host(b), "-d", c.Host(a))
	t.Logf("network: cut broker %d (%s) from broker %d (%s)", a, c.Host(a), b, c.Host(b))
}

// CutFetches drops the connections broker a opens to broker b's listener
// (its fetches when b leads), both ways, and leaves b's own connections to a
// alone: b can still reach a controller on a.
func (c *Cluster) CutFetches(t testing.TB, a, b int) {
	t.Helper()
	requireIptables(t)
	port := itoa(c.Port(b))
	c.addRule(t, "-s", c.Host(a), "-d", c.Host(b), "-p", "tcp", "--dport", port)
	c.addRule(t, "-s", c.Host(b), "-d", c.Host(a), "-p", "tcp", "--sport", port)
	t.Logf("network: cut broker %d's connections to broker %d's listener", a, b)
}

// CutFromZK drops every packet between broker i and every ZooKeeper server:
// its session expires after zookeeper.session.timeout.ms while clients and
// other brokers still reach it.
func (c *Cluster) CutFromZK(t testing.TB, i int) {
	t.Helper()
	requireIptables(t)
	for _, s := range c.zk.Servers {
		host, port, err := net.SplitHostPort(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.addRule(t, "-s", c.Host(i), "-d", host, "-p", "tcp", "--dport", port)
		c.addRule(t, "-s", host, "-d", c.Host(i), "-p", "tcp", "--sport", port)
	}
	t.Logf("network: cut broker %d (%s) from ZooKeeper", i, c.Host(i))
}

// Heal removes every rule the cluster added.
func (c *Cluster) Heal(t testing.TB) {
	t.Helper()
	c.net.mu.Lock()
	rules := c.net.rules
	c.net.rules = nil
	c.net.mu.Unlock()
	for _, spec := range rules {
		args := append([]string{"-w", "-D", "INPUT"}, spec...)
		if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			t.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if len(rules) > 0 {
		t.Logf("network: healed (%d rules removed)", len(rules))
	}
}

// PartitionState is a partition's state znode
// (/brokers/topics/<t>/partitions/<p>/state).
type PartitionState struct {
	ControllerEpoch int   `json:"controller_epoch"`
	Leader          int   `json:"leader"`
	Version         int   `json:"version"`
	LeaderEpoch     int   `json:"leader_epoch"`
	ISR             []int `json:"isr"`
}

// PartitionState reads a partition's state znode.
func (c *Cluster) PartitionState(topic string, partition int32) (PartitionState, error) {
	var st PartitionState
	zc, err := c.ZKConn()
	if err != nil {
		return st, err
	}
	data, _, err := zc.Get(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, partition))
	if err != nil {
		return st, fmt.Errorf("%s-%d state: %w", topic, partition, err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s-%d state %q: %w", topic, partition, data, err)
	}
	return st, nil
}

// Leader is the leader of a partition according to ZooKeeper, waiting up to
// 60 s for one to exist.
func (c *Cluster) Leader(t testing.TB, topic string, partition int32) int {
	t.Helper()
	leader := -1
	c.WaitFor(t, 60*time.Second, func() error {
		st, err := c.PartitionState(topic, partition)
		if err != nil {
			return err
		}
		if st.Leader < 0 {
			return fmt.Errorf("%s-%d has no leader", topic, partition)
		}
		leader = st.Leader
		return nil
	})
	return leader
}

// WaitFullISR waits until every partition of the topics has a leader and an
// ISR of all n replicas in ZooKeeper, and a sarama client's metadata agrees.
func (c *Cluster) WaitFullISR(t testing.TB, timeout time.Duration, n int, topics map[string]int32) {
	t.Helper()
	c.WaitFor(t, timeout, func() error {
		for topic, parts := range topics {
			for p := int32(0); p < parts; p++ {
				st, err := c.PartitionState(topic, p)
				if err != nil {
					return err
				}
				if st.Leader < 0 || len(st.ISR) != n {
					return fmt.Errorf("%s-%d: leader %d isr %v, want %d in sync", topic, p, st.Leader, st.ISR, n)
				}
			}
		}
		client, err := newQuietClient(c)
		if err != nil {
			return err
		}
		defer client.Close()
		for topic, parts := range topics {
			for p := int32(0); p < parts; p++ {
				isr, err := client.InSyncReplicas(topic, p)
				if err != nil {
					return fmt.Errorf("metadata %s-%d: %w", topic, p, err)
				}
				if len(isr) != n {
					return fmt.Errorf("metadata %s-%d: isr %v", topic, p, isr)
				}
			}
		}
		return nil
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
