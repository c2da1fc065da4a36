package broker

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	gozk "github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/config"
	"github.com/gregor-broker/gregor/broker/storage"
	"github.com/gregor-broker/gregor/zkpaths"
)

// Start-up is on the critical path of every restart (issue 3: ready within
// 300 ms of exec with ZooKeeper up), and most of it is waiting: ZooKeeper
// round trips, which on a loaded machine cost tens of milliseconds each, and
// disk. So the independent steps overlap, a restart checks the top-level
// znodes in one round trip, and each step's duration is logged at info
// level ("start-up step") to show where a slow start went.

// stepTimer logs the duration of each start-up step and the total so far.
type stepTimer struct {
	log   *logrus.Entry
	start time.Time
	last  time.Time
}

func newStepTimer(log *logrus.Entry, start time.Time) *stepTimer {
	return &stepTimer{log: log, start: start, last: start}
}

// done logs step as finished now.
func (t *stepTimer) done(step string) {
	now := time.Now()
	t.log.WithFields(logrus.Fields{
		"step":     step,
		"step_ms":  float64(now.Sub(t.last).Microseconds()) / 1000,
		"total_ms": float64(now.Sub(t.start).Microseconds()) / 1000,
	}).Info("start-up step")
	t.last = now
}

// openLogsAsync starts opening (and recovering) the log dirs, which do not
// depend on ZooKeeper until meta.properties is checked against the cluster
// id; the returned func waits for the result (and may be called again).
func openLogsAsync(cfg *config.Config, log *logrus.Entry) func() (*storage.Manager, error) {
	type result struct {
		m   *storage.Manager
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := storage.OpenManager(storage.ManagerConfig{
			Dirs:                   cfg.LogDirs,
			RecoveryThreadsPerDir:  cfg.NumRecoveryThreadsPerDataDir,
			DefaultLog:             defaultLogConfig(cfg),
			CheckpointInterval:     cfg.LogFlushOffsetCheckpointInterval,
			RetentionCheckInterval: cfg.LogRetentionCheckInterval,
			FlushSchedulerInterval: cfg.LogFlushSchedulerInterval,
		}, log)
		ch <- result{m, err}
	}()
	return sync.OnceValues(func() (*storage.Manager, error) {
		r := <-ch
		return r.m, r.err
	})
}

// ensureZKLayout makes sure the top-level persistent znodes exist and returns
// the cluster id (created if absent), with the two in parallel. On a restart
// the paths all exist, which one multi of version-less checks confirms in a
// single round trip instead of one create per path (Kafka's
// createTopLevelPaths); a fresh chroot creates them concurrently.
func ensureZKLayout(zk *zkpaths.Client) (clusterID string, err error) {
	var wg sync.WaitGroup
	var pathsErr error
	wg.Go(func() {
		paths := zkpaths.PersistentPaths()
		checks := make([]zkpaths.Op, len(paths))
		for i, p := range paths {
			checks[i] = zkpaths.CheckOp(p, -1) // -1: any version, i.e. "exists"
		}
		if _, err := zk.Multi(checks...); err == nil {
			return
		}
		// A fresh chroot has none of them: one multi creates them all,
		// parents first.
		all := withParents(paths)
		creates := make([]zkpaths.Op, len(all))
		for i, p := range all {
			creates[i] = zkpaths.CreateOp(p, nil, zkpaths.Persistent)
		}
		if _, err := zk.Multi(creates...); err == nil {
			return
		}
		// Some exist (a partial earlier start, another broker starting):
		// create each, the requests pipelined on the session instead of
		// one round trip after another. Siblings racing to create a
		// shared parent see NodeExists, which is success here.
		errs := make([]error, len(paths))
		var each sync.WaitGroup
		for i, p := range paths {
			each.Go(func() {
				if err := zk.CreateRecursive(p, nil); err != nil && !errors.Is(err, gozk.ErrNodeExists) {
					errs[i] = err
				}
			})
		}
		each.Wait()
		if errors.Join(errs...) == nil {
			return
		}
		// Connection trouble: the sequential path retries each create.
		if err := zk.CreateTopLevelPaths(); err != nil {
			pathsErr = fmt.Errorf("create top-level znodes: %w", err)
		}
	})
	clusterID, err = zk.GetOrCreateClusterID(zkpaths.UUIDString(zkpaths.NewUUID()))
	wg.Wait()
	if pathsErr != nil {
		return "", pathsErr
	}
	if err != nil {
		return "", fmt.Errorf("cluster id: %w", err)
	}
	return clusterID, nil
}

// metaInEveryDir reports whether every log dir has a meta.properties (a dir
// added to log.dirs since the last start has none and needs the write).
func metaInEveryDir(dirs []string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "meta.properties")); err != nil {
			return false
		}
	}
	return true
}

// withParents lists paths with their missing ancestors, each once, every
// parent before its children ("/config/topics" → "/config", "/config/topics").
func withParents(paths []string) []string {
	seen := map[string]bool{"/": true}
	var out []string
	var add func(p string)
	add = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		add(path.Dir(p))
		out = append(out, p)
	}
	for _, p := range paths {
		add(p)
	}
	return out
}
