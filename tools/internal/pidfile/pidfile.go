// Package pidfile is the contract between kafka-server-start and
// kafka-server-stop: a running broker's pid is in the file
// "kafka-server.pid" of its first log.dirs directory, found from the same
// server.properties and --override arguments.
package pidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gregor-broker/gregor/broker/config"
)

// Name is the pid file's name inside the first log dir.
const Name = "kafka-server.pid"

// SplitArgs splits kafka-server-start's arguments into the properties file
// and the --override values.
func SplitArgs(args []string) (path string, overrides []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--override" || a == "-override":
			if i+1 < len(args) {
				overrides = append(overrides, args[i+1])
				i++
			}
		case strings.HasPrefix(a, "--override="):
			overrides = append(overrides, strings.TrimPrefix(a, "--override="))
		case !strings.HasPrefix(a, "-") && path == "":
			path = a
		}
	}
	return path, overrides
}

// Path is the pid file of the broker configured by args.
func Path(args []string) (string, error) {
	path, overrides := SplitArgs(args)
	if path == "" {
		return "", errors.New("no server.properties given")
	}
	cfg, _, err := config.Load(path, overrides)
	if err != nil {
		return "", err
	}
	if len(cfg.LogDirs) == 0 {
		return "", fmt.Errorf("%s: no log.dirs", path)
	}
	return filepath.Join(cfg.LogDirs[0], Name), nil
}

// Write records this process's pid for the broker configured by args and
// returns the function that removes it again (if it still holds our pid).
// A configuration it cannot read is left for the broker to report.
func Write(args []string) (remove func()) {
	p, err := Path(args)
	if err != nil {
		return func() {}
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return func() {}
	}
	pid := strconv.Itoa(os.Getpid())
	if err := os.WriteFile(p, []byte(pid+"\n"), 0o644); err != nil {
		return func() {}
	}
	return func() {
		if data, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(data)) == pid {
			os.Remove(p)
		}
	}
}

// Read returns the pid in the pid file of the broker configured by args.
func Read(args []string) (int, string, error) {
	p, err := Path(args)
	if err != nil {
		return 0, "", err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, p, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, p, fmt.Errorf("%s: not a pid: %q", p, strings.TrimSpace(string(data)))
	}
	return pid, p, nil
}
