package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
)

// replicationOffsetCheckpointFile holds the high watermark of every partition
// whose log is in the dir (Kafka's ReplicaManager.highWatermarkCheckpoints,
// written every replica.high.watermark.checkpoint.interval.ms and on clean
// shutdown). Same text format as recovery-point-offset-checkpoint.
const replicationOffsetCheckpointFile = "replication-offset-checkpoint"

// hwCheckpoints caches what the replication-offset-checkpoint files said at
// start-up, updated by every write, so that a partition created later in the
// process's life finds its last checkpointed high watermark without reading
// the file again (Kafka's LazyOffsetCheckpoints).
type hwCheckpoints struct {
	mu     sync.Mutex
	loaded bool
	byDir  map[string]map[topicPartition]int64 // clean dir path → entries
}

// WriteHighWatermarks writes replication-offset-checkpoint in every log dir:
// one line per log in that dir for which hw reports a high watermark (a
// partition the replica manager hosts). Logs for which hw answers false are
// left out, as Kafka writes only online partitions.
func (m *Manager) WriteHighWatermarks(hw func(l *Log) (int64, bool)) error {
	m.hwMu.Lock()
	defer m.hwMu.Unlock()
	byDir := map[string]map[topicPartition]int64{}
	for _, d := range m.cfg.Dirs {
		byDir[filepath.Clean(d)] = map[topicPartition]int64{}
	}
	for _, l := range m.Logs() {
		v, ok := hw(l)
		if !ok {
			continue
		}
		if entries, found := byDir[filepath.Dir(l.dir)]; found {
			entries[topicPartition{l.topic, l.partition}] = v
		}
	}
	var errs []error
	for d, entries := range byDir {
		if err := writeOffsetCheckpoint(filepath.Join(d, replicationOffsetCheckpointFile), entries); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", replicationOffsetCheckpointFile, err))
		}
	}
	m.hw.mu.Lock()
	m.hw.byDir, m.hw.loaded = byDir, true
	m.hw.mu.Unlock()
	return errors.Join(errs...)
}

// CheckpointedHighWatermark returns the high watermark last checkpointed for
// l in its dir's replication-offset-checkpoint; found is false when the file
// has no entry for it (Kafka then starts the high watermark at 0, clamped to
// the log start). A malformed file is an error (Kafka fails the dir).
func (m *Manager) CheckpointedHighWatermark(l *Log) (hw int64, found bool, err error) {
	m.hw.mu.Lock()
	defer m.hw.mu.Unlock()
	if !m.hw.loaded {
		byDir := map[string]map[topicPartition]int64{}
		for _, d := range m.cfg.Dirs {
			entries, err := readOffsetCheckpoint(filepath.Join(d, replicationOffsetCheckpointFile))
			if err != nil {
				return 0, false, err
			}
			byDir[filepath.Clean(d)] = entries
		}
		m.hw.byDir, m.hw.loaded = byDir, true
	}
	hw, found = m.hw.byDir[filepath.Dir(l.dir)][topicPartition{l.topic, l.partition}]
	return hw, found, nil
}
