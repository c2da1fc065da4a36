// Package zktest runs a real Apache ZooKeeper (Debian's `zookeeper` package)
// for tests and for `make run`: one standalone server or a quorum ensemble on
// free loopback ports, each server a `java` child process with a small heap.
// It is the same idea as go-zookeeper's StartTestCluster: real servers, real
// configs and myid files in a temp dir, StopServer/StartServer for faults.
//
// There is no mock: when Java or the ZooKeeper jar is missing, Start fails
// with an install hint instead of skipping.
package zktest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultClasspath is where Debian's `zookeeper` package installs the server.
const DefaultClasspath = "/usr/share/java/zookeeper.jar"

// Server is one ZooKeeper process of a Cluster.
type Server struct {
	ID           int
	ClientPort   int
	PeerPort     int
	ElectionPort int
	Dir          string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Cluster is a standalone ZooKeeper (one server) or an ensemble.
type Cluster struct {
	Servers []*Server
	dir     string
}

// Options tune a Cluster. Zero values mean the defaults.
type Options struct {
	Heap     string // JVM -Xmx, default "128m"
	TickTime int    // ms, default 500
}

// Start runs a ZooKeeper of size servers for a test, waits until every server
// serves, and stops it when the test ends. It fails the test (never skips)
// when ZooKeeper is not installed.
func Start(tb testing.TB, size int) *Cluster {
	tb.Helper()
	c, err := StartCluster(tb.TempDir(), size, Options{})
	if err != nil {
		tb.Fatalf("zktest: %v", err)
	}
	tb.Cleanup(c.Stop)
	return c
}

// StartCluster runs a ZooKeeper of size servers with its data under dir.
func StartCluster(dir string, size int, opts Options) (*Cluster, error) {
	if size < 1 {
		return nil, errors.New("size must be >= 1")
	}
	if err := checkInstalled(); err != nil {
		return nil, err
	}
	if opts.Heap == "" {
		opts.Heap = "128m"
	}
	if opts.TickTime == 0 {
		opts.TickTime = 500
	}
	c := &Cluster{dir: dir}
	ports, err := freePorts(3 * size)
	if err != nil {
		return nil, err
	}
	for i := 0; i < size; i++ {
		s := &Server{
			ID:           i + 1,
			ClientPort:   ports[3*i],
			PeerPort:     ports[3*i+1],
			ElectionPort: ports[3*i+2],
			Dir:          filepath.Join(dir, fmt.Sprintf("zk%d", i+1)),
		}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if err := c.writeConfig(s, opts); err != nil {
			return nil, err
		}
	}
	for _, s := range c.Servers {
		if err := s.start(opts.Heap); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for i := range c.Servers {
		if err := c.WaitServing(i, 120*time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func checkInstalled() error {
	if _, err := exec.LookPath("java"); err != nil {
		return errors.New("java not found: install Debian's zookeeper package (apt-get install -y zookeeper)")
	}
	if _, err := os.Stat(classpath()); err != nil {
		return fmt.Errorf("%s not found: install Debian's zookeeper package (apt-get install -y zookeeper)", classpath())
	}
	return nil
}

func classpath() string {
	if cp := os.Getenv("GREGOR_ZK_CLASSPATH"); cp != "" {
		return cp
	}
	return DefaultClasspath
}

func (c *Cluster) writeConfig(s *Server, opts Options) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, "data"), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=20\nsyncLimit=10\n", opts.TickTime)
	fmt.Fprintf(&b, "dataDir=%s\n", filepath.Join(s.Dir, "data"))
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", s.ClientPort)
	b.WriteString("maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n")
	b.WriteString("maxSessionTimeout=120000\nminSessionTimeout=1000\n")
	// Test servers need no fsync: faults here kill processes, not machines, and
	// the page cache survives a SIGKILL. Without it a busy disk stalls start-up.
	b.WriteString("forceSync=no\n")
	if len(c.Servers) > 1 {
		for _, o := range c.Servers {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", o.ID, o.PeerPort, o.ElectionPort)
		}
		if err := os.WriteFile(filepath.Join(s.Dir, "data", "myid"), []byte(strconv.Itoa(s.ID)+"\n"), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(s.Dir, "zoo.cfg"), []byte(b.String()), 0o644)
}

func (s *Server) start(heap string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "zookeeper.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	main := "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	cmd := exec.Command("java", "-Xmx"+heap, "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=*",
		"-cp", classpath(), main, filepath.Join(s.Dir, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start zookeeper %d: %w", s.ID, err)
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait(); logf.Close() }()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	for i := 0; i < 100 && !exited(s.cmd); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	s.cmd = nil
}

func exited(cmd *exec.Cmd) bool {
	return cmd.Process.Signal(syscall.Signal(0)) != nil
}

// Addr is the server's client address, "127.0.0.1:port".
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.ClientPort) }

// Pid is the server's process id, or 0 when it is stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// ConnectString lists every server: "127.0.0.1:p1,127.0.0.1:p2,...".
func (c *Cluster) ConnectString() string {
	addrs := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		addrs[i] = s.Addr()
	}
	return strings.Join(addrs, ",")
}

// Addrs lists every server's client address.
func (c *Cluster) Addrs() []string { return strings.Split(c.ConnectString(), ",") }

// StopServer kills server i (0-based) with SIGKILL.
func (c *Cluster) StopServer(i int) { c.Servers[i].stop() }

// StartServer restarts server i with its old data; it does not wait.
func (c *Cluster) StartServer(i int) error { return c.Servers[i].start("128m") }

// Stop kills every server. It is safe to call more than once.
func (c *Cluster) Stop() {
	for _, s := range c.Servers {
		s.stop()
	}
}

// WaitServing waits until server i answers the `srvr` four-letter word with a
// mode (standalone, leader or follower), i.e. it serves clients.
func (c *Cluster) WaitServing(i int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		mode, err := c.Mode(i)
		if err == nil && mode != "" {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	logTail, _ := os.ReadFile(filepath.Join(c.Servers[i].Dir, "zookeeper.out"))
	return fmt.Errorf("zookeeper %d not serving after %s (last error %v); output:\n%s", c.Servers[i].ID, timeout, last, tail(logTail, 4000))
}

// Mode asks server i for its mode ("standalone", "leader", "follower").
func (c *Cluster) Mode(i int) (string, error) {
	out, err := FourLetter(c.Servers[i].Addr(), "srvr")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("no mode in srvr output: %q", out)
}

// FourLetter sends a ZooKeeper four-letter command and returns the reply.
func FourLetter(addr, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
