// zookeeper-shell inspects ZooKeeper the way Kafka's bin/zookeeper-shell.sh
// (ZooKeeper's zkCli) does, without a JVM:
//
//	zookeeper-shell localhost:2181 ls /brokers/ids        -> [0, 1, 2]
//	zookeeper-shell localhost:2181/kafka get /controller
//	zookeeper-shell localhost:2181                         (commands read from stdin)
//
// Commands: ls [-s] [-R] path, get [-s] path, stat path, create [-e] [-s]
// path [data], set path data, delete path, deleteall path, quit. A
// connect string may end in a chroot, as in zookeeper.connect.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `USAGE: zookeeper-shell zookeeper_host:port[/path] [-zk-tls-config-file file] [args...]`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(stderr, usage)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	connect, cmd := args[0], args[1:]
	if len(cmd) >= 2 && cmd[0] == "-zk-tls-config-file" {
		fmt.Fprintln(stderr, "TLS to ZooKeeper is not supported by Gregor's zookeeper-shell")
		return 1
	}
	servers, chroot := splitConnect(connect)
	fmt.Fprintf(stdout, "Connecting to %s\n", connect)
	conn, events, err := zk.Connect(servers, 30*time.Second, zk.WithLogInfo(false), zk.WithLogger(silent{}))
	if err != nil {
		fmt.Fprintf(stderr, "Unable to connect to %s: %v\n", connect, err)
		return 1
	}
	defer conn.Close()
	deadline := time.After(30 * time.Second)
wait:
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				break wait
			}
		case <-deadline:
			fmt.Fprintf(stderr, "Unable to connect to %s: no ZooKeeper server answered within 30 s\n", connect)
			return 1
		}
	}
	s := &shell{conn: conn, chroot: chroot, out: stdout, errw: stderr}
	if len(cmd) == 0 {
		fmt.Fprintln(stdout, "Welcome to ZooKeeper!")
		fmt.Fprintln(stdout, "JLine support is disabled")
	}
	fmt.Fprintln(stdout, "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null")
	if len(cmd) > 0 {
		if !s.exec(cmd) {
			return 1
		}
		return 0
	}
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "quit" {
			return 0
		}
		s.exec(f)
	}
	return 0
}

// splitConnect splits "h1:2181,h2:2181/chroot".
func splitConnect(s string) ([]string, string) {
	hosts, chroot := s, ""
	if i := strings.Index(s, "/"); i >= 0 {
		hosts, chroot = s[:i], strings.TrimSuffix(s[i:], "/")
	}
	var servers []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":2181"
		}
		servers = append(servers, h)
	}
	return servers, chroot
}

type silent struct{}

func (silent) Printf(string, ...any) {}

// shell runs zkCli's commands on one session.
type shell struct {
	conn   *zk.Conn
	chroot string
	out    io.Writer
	errw   io.Writer
}

func (s *shell) abs(p string) string {
	if s.chroot == "" {
		return p
	}
	if p == "/" {
		return s.chroot
	}
	return s.chroot + p
}

// exec runs one command and says whether it succeeded.
func (s *shell) exec(args []string) bool {
	name := args[0]
	var flags []string
	var rest []string
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") && len(rest) == 0 {
			flags = append(flags, a)
			continue
		}
		rest = append(rest, a)
	}
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	need := func(n int, syntax string) bool {
		if len(rest) < n {
			fmt.Fprintf(s.errw, "%s\n", syntax)
			return false
		}
		if !strings.HasPrefix(rest[0], "/") {
			fmt.Fprintf(s.errw, "Path must start with / character\n")
			return false
		}
		return true
	}
	var err error
	switch name {
	case "ls":
		if !need(1, "ls [-s] [-w] [-R] path") {
			return false
		}
		err = s.ls(rest[0], has("-s"), has("-R"))
	case "get":
		if !need(1, "get [-s] [-w] path") {
			return false
		}
		var data []byte
		var st *zk.Stat
		data, st, err = s.conn.Get(s.abs(rest[0]))
		if err == nil {
			if data == nil {
				fmt.Fprintln(s.out, "null")
			} else {
				fmt.Fprintln(s.out, string(data))
			}
			if has("-s") {
				s.printStat(st)
			}
		}
	case "stat":
		if !need(1, "stat [-w] path") {
			return false
		}
		var ok bool
		var st *zk.Stat
		ok, st, err = s.conn.Exists(s.abs(rest[0]))
		if err == nil && !ok {
			err = zk.ErrNoNode
		}
		if err == nil {
			s.printStat(st)
		}
	case "create":
		if !need(1, "create [-s] [-e] [-c] [-t ttl] path [data] [acl]") {
			return false
		}
		var flagsZ int32
		if has("-e") {
			flagsZ |= zk.FlagEphemeral
		}
		if has("-s") {
			flagsZ |= zk.FlagSequence
		}
		var data []byte
		if len(rest) > 1 {
			data = []byte(rest[1])
		}
		var created string
		created, err = s.conn.Create(s.abs(rest[0]), data, flagsZ, zk.WorldACL(zk.PermAll))
		if err == nil {
			fmt.Fprintf(s.out, "Created %s\n", strings.TrimPrefix(created, s.chroot))
		} else if errors.Is(err, zk.ErrNodeExists) {
			fmt.Fprintf(s.errw, "Node already exists: %s\n", rest[0])
			return false
		}
	case "set":
		if !need(2, "set [-s] [-v version] path data") {
			return false
		}
		var st *zk.Stat
		st, err = s.conn.Set(s.abs(rest[0]), []byte(rest[1]), -1)
		if err == nil && has("-s") {
			s.printStat(st)
		}
	case "delete":
		if !need(1, "delete [-v version] path") {
			return false
		}
		err = s.conn.Delete(s.abs(rest[0]), -1)
		if errors.Is(err, zk.ErrNotEmpty) {
			fmt.Fprintf(s.errw, "Node not empty: %s\n", rest[0])
			return false
		}
	case "deleteall":
		if !need(1, "deleteall path [-b batch size]") {
			return false
		}
		err = s.deleteAll(rest[0])
	default:
		s.printHelp()
		return false
	}
	if errors.Is(err, zk.ErrNoNode) {
		fmt.Fprintf(s.errw, "Node does not exist: %s\n", rest[0])
		return false
	}
	if err != nil {
		fmt.Fprintf(s.errw, "%v\n", err)
		return false
	}
	return true
}

// ls prints the children of p as zkCli does: "[a, b]", sorted; -R prints
// p and every descendant path, breadth first, one per line.
func (s *shell) ls(p string, stat, recursive bool) error {
	if recursive {
		queue := []string{p}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			children, _, err := s.conn.Children(s.abs(cur))
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, cur)
			sort.Strings(children)
			for _, c := range children {
				if cur == "/" {
					queue = append(queue, "/"+c)
				} else {
					queue = append(queue, cur+"/"+c)
				}
			}
		}
		return nil
	}
	children, st, err := s.conn.Children(s.abs(p))
	if err != nil {
		return err
	}
	sort.Strings(children)
	fmt.Fprintf(s.out, "[%s]\n", strings.Join(children, ", "))
	if stat {
		s.printStat(st)
	}
	return nil
}

func (s *shell) deleteAll(p string) error {
	children, _, err := s.conn.Children(s.abs(p))
	if err != nil {
		return err
	}
	for _, c := range children {
		child := p + "/" + c
		if p == "/" {
			child = "/" + c
		}
		if err := s.deleteAll(child); err != nil {
			return err
		}
	}
	if p == "/" && s.chroot == "" {
		return nil
	}
	return s.conn.Delete(s.abs(p), -1)
}

// printStat is zkCli's StatPrinter.
func (s *shell) printStat(st *zk.Stat) {
	date := func(ms int64) string {
		return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006")
	}
	fmt.Fprintf(s.out, "cZxid = 0x%x\nctime = %s\nmZxid = 0x%x\nmtime = %s\npZxid = 0x%x\ncversion = %d\ndataVersion = %d\naclVersion = %d\nephemeralOwner = 0x%x\ndataLength = %d\nnumChildren = %d\n",
		st.Czxid, date(st.Ctime), st.Mzxid, date(st.Mtime), st.Pzxid, st.Cversion, st.Version, st.Aversion,
		st.EphemeralOwner, st.DataLength, st.NumChildren)
}

func (s *shell) printHelp() {
	fmt.Fprintln(s.errw, `ZooKeeper -server host:port -client-configuration properties-file cmd args
	create [-s] [-e] [-c] [-t ttl] path [data] [acl]
	delete [-v version] path
	deleteall path [-b batch size]
	get [-s] [-w] path
	ls [-s] [-w] [-R] path
	quit
	set [-s] [-v version] path data
	stat [-w] path`)
}
