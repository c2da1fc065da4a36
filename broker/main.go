package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/config"
)

const usage = `USAGE: kafka-server-start server.properties [--override property=value]*

Starts one Gregor broker in the foreground. Stop it with SIGTERM or Ctrl-C.
`

// Exit codes of Main.
const (
	exitOK     = 0
	exitFailed = 1 // the broker failed at run time
	exitConfig = 2 // bad arguments or configuration
)

// Main is kafka-server-start: it parses args, loads the configuration, runs
// the broker until SIGTERM/SIGINT and returns the process exit code.
func Main(args []string, stderr io.Writer) int {
	tuneGC()
	path, overrides, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n%s", err, usage)
		return exitConfig
	}
	cfg, warnings, err := config.Load(path, overrides)
	if err != nil {
		fmt.Fprintf(stderr, "invalid configuration: %v\n", err)
		return exitConfig
	}
	log := newLogger(stderr, cfg.LogLevel)
	for _, w := range warnings {
		log.WithField("warning", w).Warn("configuration")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	b, err := New(cfg, log)
	if err != nil {
		log.WithError(err).Error("broker could not start")
		if errors.Is(err, errConfig) {
			return exitConfig
		}
		return exitFailed
	}
	if err := b.Run(ctx); err != nil {
		log.WithError(err).Error("broker stopped with an error")
		return exitFailed
	}
	return exitOK
}

// parseArgs splits `server.properties [--override k=v]...`.
func parseArgs(args []string) (path string, overrides []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--override" || a == "-override":
			if i+1 >= len(args) || !strings.Contains(args[i+1], "=") {
				return "", nil, errors.New("--override needs property=value")
			}
			overrides = append(overrides, args[i+1])
			i++
		case strings.HasPrefix(a, "--override="):
			overrides = append(overrides, strings.TrimPrefix(a, "--override="))
		case a == "-h" || a == "--help":
			return "", nil, errors.New("help requested")
		case strings.HasPrefix(a, "-"):
			return "", nil, fmt.Errorf("unknown option %s", a)
		case path == "":
			path = a
		default:
			return "", nil, fmt.Errorf("unexpected argument %s", a)
		}
	}
	if path == "" {
		return "", nil, errors.New("missing server.properties")
	}
	if _, err := os.Stat(path); err != nil {
		return "", nil, fmt.Errorf("server.properties: %w", err)
	}
	return path, overrides, nil
}

func newLogger(w io.Writer, level string) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	l.SetLevel(lvl)
	return l
}

// defaultGCPercent is the broker's GOGC unless the environment sets one. A
// broker's heap is mostly short-lived request and response buffers, so the
// Go default of 100 spends a large share of produce CPU in the collector;
// 400 trades some megabytes of peak heap (idle RSS stays ~10 MB) for a
// fraction of the collections.
const defaultGCPercent = 400

func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
}
