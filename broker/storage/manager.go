package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

const (
	cleanShutdownFile = ".kafka_cleanshutdown"
	deleteDirSuffix   = "-delete"
	futureDirSuffix   = "-future"
	maxTopicNameLen   = 249
)

// Manager owns every entry of log.dirs (Kafka's LogManager): the .lock
// files, meta.properties, the recovery-point and log-start-offset
// checkpoints, the clean-shutdown marker, and the logs under them. All
// methods are safe for concurrent use.
type Manager struct {
	cfg    ManagerConfig
	logger *logrus.Entry
	locks  []*os.File

	mu   sync.RWMutex
	logs map[topicPartition]*Log

	ckptMu  sync.Mutex
	hwMu    sync.Mutex    // serialises WriteHighWatermarks
	hw      hwCheckpoints // replication-offset-checkpoint contents
	closed  atomic.Bool
	closeCh chan struct{}
	wg      sync.WaitGroup // asynchronous directory deletions
}

// OpenManager locks every log dir, loads every <topic>-<partition> directory
// in parallel (num.recovery.threads.per.data.dir per dir), recovering those
// not cleanly shut down, deletes .kafka_cleanshutdown after reading it and
// logs the recovery time of each dir. log may be nil.
func OpenManager(cfg ManagerConfig, log *logrus.Entry) (*Manager, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("storage: log.dirs: no directories")
	}
	if log == nil {
		log = discardLogger()
	}
	m := &Manager{
		cfg:     cfg,
		logger:  log.WithField("component", "storage"),
		logs:    map[topicPartition]*Log{},
		closeCh: make(chan struct{}),
	}
	seen := map[string]bool{}
	for _, d := range cfg.Dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		if seen[abs] {
			return nil, fmt.Errorf("storage: log.dirs: %s listed twice", d)
		}
		seen[abs] = true
		if err := os.MkdirAll(d, 0o755); err != nil {
			m.releaseLocks()
			return nil, fmt.Errorf("create log dir: %w", err)
		}
		f, err := lockDir(d)
		if err != nil {
			m.releaseLocks()
			return nil, err
		}
		m.locks = append(m.locks, f)
	}
	type result struct {
		dir string
		log *Log
		err error
	}
	results := make(chan result, 64)
	var loadWG sync.WaitGroup
	for _, d := range cfg.Dirs {
		loadWG.Add(1)
		go func(dir string) {
			defer loadWG.Done()
			n, err := m.loadDir(dir, func(l *Log, err error) { results <- result{dir, l, err} })
			if err != nil {
				results <- result{dir: dir, err: err}
			}
			_ = n
		}(d)
	}
	go func() { loadWG.Wait(); close(results) }()
	var errs []error
	for r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		tp := topicPartition{r.log.topic, r.log.partition}
		if other, dup := m.logs[tp]; dup {
			errs = append(errs, fmt.Errorf("storage: %s found in both %s and %s", tp.dirName(), filepath.Dir(other.dir), r.dir))
			r.log.Close()
			continue
		}
		m.logs[tp] = r.log
	}
	if err := errors.Join(errs...); err != nil {
		for _, l := range m.logs {
			l.Close()
		}
		m.releaseLocks()
		return nil, err
	}
	for _, d := range cfg.Dirs {
		if err := os.Remove(filepath.Join(d, cleanShutdownFile)); err != nil && !os.IsNotExist(err) {
			m.closeLogs()
			m.releaseLocks()
			return nil, fmt.Errorf("remove clean shutdown marker: %w", err)
		}
	}
	return m, nil
}

// loadDir opens every log in dir with a pool of recovery threads, reporting
// each through emit.
func (m *Manager) loadDir(dir string, emit func(*Log, error)) (int, error) {
	start := time.Now()
	_, err := os.Stat(filepath.Join(dir, cleanShutdownFile))
	clean := err == nil
	recoveryPoints, err := readOffsetCheckpoint(filepath.Join(dir, recoveryPointCheckpointFile))
	if err != nil {
		m.logger.WithError(err).WithField("dir", dir).Warn("unreadable recovery point checkpoint; recovering every log")
		recoveryPoints, clean = map[topicPartition]int64{}, false
	}
	logStarts, err := readOffsetCheckpoint(filepath.Join(dir, logStartOffsetCheckpointFile))
	if err != nil {
		m.logger.WithError(err).WithField("dir", dir).Warn("unreadable log start offset checkpoint")
		logStarts = map[topicPartition]int64{}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var tps []topicPartition
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		switch {
		case strings.HasSuffix(name, deleteDirSuffix):
			m.removeDirAsync(filepath.Join(dir, name))
			continue
		case strings.HasSuffix(name, futureDirSuffix):
			m.logger.WithFields(logrus.Fields{"dir": dir, "file": name}).Warn("ignoring future log (intra-broker moves are not supported)")
			continue
		}
		tp, ok := parseTopicPartitionDir(name)
		if !ok {
			m.logger.WithFields(logrus.Fields{"dir": dir, "file": name}).Warn("ignoring directory that is not a log")
			continue
		}
		tps = append(tps, tp)
	}
	work := make(chan topicPartition)
	var wg sync.WaitGroup
	for i := 0; i < m.cfg.RecoveryThreadsPerDir; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, recoveryBufSize)
			for tp := range work {
				rp, ok := recoveryPoints[tp]
				if !ok {
					rp = 0
				}
				ls, ok := logStarts[tp]
				if !ok {
					ls = -1
				}
				l, err := openLog(filepath.Join(dir, tp.dirName()), tp.topic, tp.partition, logOpenOptions{
					cfg:              m.cfg.DefaultLog,
					hadCleanShutdown: clean,
					recoveryPoint:    rp,
					logStartOffset:   ls,
					logger:           m.logger,
					recoveryBuf:      buf,
				})
				if err != nil {
					err = fmt.Errorf("load log %s: %w", filepath.Join(dir, tp.dirName()), err)
				}
				emit(l, err)
			}
		}()
	}
	for _, tp := range tps {
		work <- tp
	}
	close(work)
	wg.Wait()
	m.logger.WithFields(logrus.Fields{
		"dir":            dir,
		"logs":           len(tps),
		"clean_shutdown": clean,
		"duration_ms":    time.Since(start).Milliseconds(),
	}).Info("loaded log dir")
	return len(tps), nil
}

// parseTopicPartitionDir splits "<topic>-<partition>".
func parseTopicPartitionDir(name string) (topicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return topicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 || validTopic(name[:i]) != nil {
		return topicPartition{}, false
	}
	return topicPartition{name[:i], int32(p)}, true
}

// validTopic applies Kafka's topic name rules (Topic.validate).
func validTopic(t string) error {
	if t == "" || t == "." || t == ".." || len(t) > maxTopicNameLen {
		return fmt.Errorf("storage: invalid topic name %q", t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("storage: invalid topic name %q", t)
		}
	}
	return nil
}

// Run does the background work until ctx is done or the Manager closes:
// retention every log.retention.check.interval.ms, time-based flushes
// (flush.ms) every log.flush.scheduler.interval.ms, checkpoints every
// log.flush.offset.checkpoint.interval.ms, expired producer ids every
// ProducerExpirationCheckInterval.
func (m *Manager) Run(ctx context.Context) {
	retention := time.NewTicker(m.cfg.RetentionCheckInterval)
	defer retention.Stop()
	ckpt := time.NewTicker(m.cfg.CheckpointInterval)
	defer ckpt.Stop()
	producers := time.NewTicker(m.cfg.ProducerExpirationCheckInterval)
	defer producers.Stop()
	var flushC <-chan time.Time
	if m.cfg.FlushSchedulerInterval > 0 {
		t := time.NewTicker(m.cfg.FlushSchedulerInterval)
		defer t.Stop()
		flushC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.closeCh:
			return
		case now := <-retention.C:
			m.applyRetention(now)
		case now := <-flushC:
			m.flushDirtyLogs(now)
		case now := <-producers.C:
			for _, l := range m.Logs() {
				l.RemoveExpiredProducers(now)
			}
		case <-ckpt.C:
			if err := m.WriteCheckpoints(); err != nil {
				m.logger.WithError(err).Warn("write checkpoints")
			}
		}
	}
}

func (m *Manager) applyRetention(now time.Time) {
	total := 0
	for _, l := range m.Logs() {
		n, err := l.ApplyRetention(now)
		if err != nil && !errors.Is(err, ErrLogClosed) {
			l.logger.WithError(err).Warn("apply retention")
		}
		total += n
	}
	if total > 0 {
		m.logger.WithField("segments", total).Info("retention deleted segments")
	}
}

func (m *Manager) flushDirtyLogs(now time.Time) {
	for _, l := range m.Logs() {
		cfg := l.cfg.Load()
		if now.UnixMilli()-l.lastFlushMs.Load() >= cfg.FlushIntervalMs {
			if err := l.Flush(); err != nil && !errors.Is(err, ErrLogClosed) {
				l.logger.WithError(err).Warn("scheduled flush")
			}
		}
	}
}

// WriteCheckpoints writes recovery-point-offset-checkpoint and
// log-start-offset-checkpoint in every dir (Kafka writes the latter only for
// logs whose start is above their first segment).
func (m *Manager) WriteCheckpoints() error {
	m.ckptMu.Lock()
	defer m.ckptMu.Unlock()
	byDir := map[string][]*Log{}
	for _, l := range m.Logs() {
		d := filepath.Dir(l.dir)
		byDir[d] = append(byDir[d], l)
	}
	var errs []error
	for _, d := range m.cfg.Dirs {
		rps := map[topicPartition]int64{}
		starts := map[topicPartition]int64{}
		for _, l := range byDir[filepath.Clean(d)] {
			tp := topicPartition{l.topic, l.partition}
			rps[tp] = l.recoveryPoint.Load()
			if ls := l.logStartOffset.Load(); ls > l.segments()[0].base {
				starts[tp] = ls
			}
		}
		errs = append(errs,
			writeOffsetCheckpoint(filepath.Join(d, recoveryPointCheckpointFile), rps),
			writeOffsetCheckpoint(filepath.Join(d, logStartOffsetCheckpointFile), starts))
	}
	return errors.Join(errs...)
}

// Close flushes and closes every log, writes the checkpoints, writes
// .kafka_cleanshutdown in every dir (only if all of that succeeded) and
// releases the locks. Idempotent.
func (m *Manager) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(m.closeCh)
	// 1. Flush and close every log (recovery points become the log ends).
	errs := []error{m.closeLogs()}
	// 2. Checkpoints reflect the flushed state.
	errs = append(errs, m.WriteCheckpoints())
	// 3. The marker says: trust the files at next start.
	if errors.Join(errs...) == nil {
		for _, d := range m.cfg.Dirs {
			errs = append(errs, writeFileAtomic(filepath.Join(d, cleanShutdownFile), nil))
		}
	}
	// 4. Pending directory deletions finish before the locks go.
	m.wg.Wait()
	errs = append(errs, m.releaseLocks())
	return errors.Join(errs...)
}

// closeConcurrency bounds the logs closed at once (their index trimming and
// snapshot writes).
const closeConcurrency = 16

// closeLogs closes every log at shutdown and then makes them durable with
// one syncfs per log dir. Closing each log with its own chain of fsyncs
// (segment, indexes, producer snapshot, leader epochs, directory) took a
// broker leading a thousand partitions seconds on a shared disk; the
// clean-shutdown marker is still written only after everything is on disk.
func (m *Manager) closeLogs() error {
	logs := m.Logs()
	errs := make([]error, len(logs))
	sem := make(chan struct{}, closeConcurrency)
	var wg sync.WaitGroup
	for i, l := range logs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = l.close(true, false)
		}()
	}
	wg.Wait()
	for _, d := range m.cfg.Dirs {
		errs = append(errs, syncFS(d))
	}
	return errors.Join(errs...)
}

func (m *Manager) releaseLocks() error {
	var errs []error
	for _, f := range m.locks {
		errs = append(errs, unlockDir(f))
	}
	m.locks = nil
	return errors.Join(errs...)
}

// ReadMeta returns meta.properties from the dirs that have one; found is
// false if none has. Dirs that disagree are an error (Kafka refuses to start).
func (m *Manager) ReadMeta() (MetaProperties, bool, error) {
	var mp MetaProperties
	found := false
	for _, d := range m.cfg.Dirs {
		p, ok, err := readMetaProperties(d)
		if err != nil {
			return MetaProperties{}, false, err
		}
		if !ok {
			continue
		}
		if found && p != mp {
			return MetaProperties{}, false, fmt.Errorf("storage: meta.properties disagree across log dirs: %+v vs %+v in %s", mp, p, d)
		}
		mp, found = p, true
	}
	return mp, found, nil
}

// WriteMeta writes meta.properties atomically to every dir.
func (m *Manager) WriteMeta(mp MetaProperties) error {
	now := time.Now()
	var errs []error
	for _, d := range m.cfg.Dirs {
		errs = append(errs, writeFileAtomic(filepath.Join(d, metaPropertiesFile), encodeMetaProperties(mp, now)))
	}
	return errors.Join(errs...)
}

// GetOrCreate returns the log of a partition, creating it in the dir with the
// fewest logs. cfg (the topic's configuration) is applied to an existing log
// too, so logs loaded at start-up with the defaults pick up topic overrides.
func (m *Manager) GetOrCreate(topic string, partition int32, cfg LogConfig) (*Log, error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	if partition < 0 {
		return nil, fmt.Errorf("storage: invalid partition %d", partition)
	}
	tp := topicPartition{topic, partition}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil, ErrLogClosed
	}
	if l, ok := m.logs[tp]; ok {
		l.SetConfig(cfg)
		return l, nil
	}
	counts := map[string]int{}
	for _, l := range m.logs {
		counts[filepath.Dir(l.dir)]++
	}
	dir := filepath.Clean(m.cfg.Dirs[0])
	for _, d := range m.cfg.Dirs[1:] {
		if d = filepath.Clean(d); counts[d] < counts[dir] {
			dir = d
		}
	}
	l, err := openLog(filepath.Join(dir, tp.dirName()), topic, partition, logOpenOptions{
		cfg:              cfg,
		hadCleanShutdown: true,
		logStartOffset:   -1,
		logger:           m.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", tp.dirName(), err)
	}
	if err := syncDir(dir); err != nil {
		l.Close()
		return nil, err
	}
	m.logs[tp] = l
	m.logger.WithFields(logrus.Fields{"topic": topic, "partition": partition, "dir": dir}).Info("created log")
	return l, nil
}

// Get returns the log of a partition, or nil.
func (m *Manager) Get(topic string, partition int32) *Log {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.logs[topicPartition{topic, partition}]
}

// Delete closes a partition's log, renames its directory to
// <topic>-<partition>.<uuid>-delete and removes it asynchronously (Kafka's
// asyncDelete). Deleting an absent partition is a no-op.
func (m *Manager) Delete(topic string, partition int32) error {
	tp := topicPartition{topic, partition}
	m.mu.Lock()
	l, ok := m.logs[tp]
	delete(m.logs, tp)
	m.mu.Unlock()
	if !ok {
		return nil
	}
	if err := l.close(false, false); err != nil {
		l.logger.WithError(err).Warn("close deleted log")
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	to := l.dir + "." + hex.EncodeToString(id[:]) + deleteDirSuffix
	if err := os.Rename(l.dir, to); err != nil {
		return fmt.Errorf("delete log %s: %w", l.dir, err)
	}
	if err := syncDir(filepath.Dir(l.dir)); err != nil {
		return err
	}
	l.logger.WithField("dir", to).Info("deleting log")
	m.removeDirAsync(to)
	return nil
}

func (m *Manager) removeDirAsync(dir string) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := os.RemoveAll(dir); err != nil {
			m.logger.WithError(err).WithField("dir", dir).Warn("remove deleted log dir")
		}
	}()
}

// Logs returns every open log, sorted by topic and partition.
func (m *Manager) Logs() []*Log {
	m.mu.RLock()
	out := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		out = append(out, l)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}
