// kafka-server-stop stops a broker started by kafka-server-start, like
// Kafka's bin/kafka-server-stop.sh: it sends SIGTERM, which makes the
// broker shut down cleanly (controlled shutdown), and returns at once.
//
//	kafka-server-stop config/server-1.properties [--override key=value ...]
//
// The broker is found through the pid file kafka-server-start writes in the
// first log.dirs directory of that configuration. Without a configuration,
// every kafka-server-start process of this user on the host is stopped, as
// Kafka's script does.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gregor-broker/gregor/tools/internal/pidfile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprintln(stderr, "USAGE: kafka-server-stop [server.properties [--override property=value]*]")
		return 0
	}
	if len(args) == 0 {
		pids := brokerProcesses()
		if len(pids) == 0 {
			fmt.Fprintln(stdout, "No kafka server to stop")
			return 1
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		return 0
	}
	pid, path, err := pidfile.Read(args)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stdout, "No kafka server to stop")
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kafka-server-stop: %v\n", err)
		return 1
	}
	if !isBroker(pid) {
		fmt.Fprintf(stdout, "No kafka server to stop (stale pid file %s names pid %d)\n", path, pid)
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		fmt.Fprintf(stderr, "kafka-server-stop: kill %d: %v\n", pid, err)
		return 1
	}
	return 0
}

// isBroker says whether pid is a running kafka-server-start, so a stale pid
// file never makes us signal an unrelated process.
func isBroker(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(data), "\x00")
	return filepath.Base(argv0) == "kafka-server-start"
}

// brokerProcesses lists the pids of every kafka-server-start of this user.
func brokerProcesses() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		info, err := os.Stat(filepath.Join("/proc", e.Name()))
		if err != nil {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
			continue
		}
		if isBroker(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
