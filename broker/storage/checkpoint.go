package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Data-dir checkpoint file names (Kafka's LogManager).
const (
	recoveryPointCheckpointFile  = "recovery-point-offset-checkpoint"
	logStartOffsetCheckpointFile = "log-start-offset-checkpoint"
	leaderEpochCheckpointFile    = "leader-epoch-checkpoint"
	checkpointVersion            = 0
)

// topicPartition names a partition.
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) dirName() string { return tp.topic + "-" + strconv.Itoa(int(tp.partition)) }

// writeFileAtomic writes data to path via path.tmp: write, fsync, rename,
// fsync of the directory (Kafka's CheckpointFile / Utils.atomicMoveWithFallback).
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := fsync(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return fsync(d)
}

// syncEnabled turns fsync off in unit tests, where durability against power
// loss is not what is tested and a shared disk makes fsync slow. Production
// code never changes it.
var syncEnabled = true

func fsync(f *os.File) error {
	if !syncEnabled {
		return nil
	}
	return f.Sync()
}

// encodeCheckpoint renders Kafka's checkpoint text: version line, entry
// count line, one line per entry, each newline-terminated.
func encodeCheckpoint(lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// decodeCheckpoint parses Kafka's checkpoint text into entry lines split on
// whitespace, each with want fields.
func decodeCheckpoint(data []byte, want int) ([][]string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil // Kafka creates checkpoint files empty
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	v, ok := next()
	if !ok {
		return nil, fmt.Errorf("checkpoint: missing version")
	}
	if strings.TrimSpace(v) != strconv.Itoa(checkpointVersion) {
		return nil, fmt.Errorf("checkpoint: unknown version %q", v)
	}
	c, ok := next()
	if !ok {
		return nil, fmt.Errorf("checkpoint: missing entry count")
	}
	n, err := strconv.Atoi(strings.TrimSpace(c))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("checkpoint: bad entry count %q", c)
	}
	out := make([][]string, 0, min(n, 1<<16))
	for i := 0; i < n; i++ {
		line, ok := next()
		if !ok {
			return nil, fmt.Errorf("checkpoint: %d entries, want %d", i, n)
		}
		f := strings.Fields(line)
		if len(f) != want {
			return nil, fmt.Errorf("checkpoint: malformed line %q", line)
		}
		out = append(out, f)
	}
	if line, ok := next(); ok && strings.TrimSpace(line) != "" {
		return nil, fmt.Errorf("checkpoint: more than %d entries", n)
	}
	return out, sc.Err()
}

// writeOffsetCheckpoint writes an offset checkpoint (recovery points, log
// start offsets): "topic partition offset" lines, sorted for stable output.
func writeOffsetCheckpoint(path string, offsets map[topicPartition]int64) error {
	tps := make([]topicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
	lines := make([]string, len(tps))
	for i, tp := range tps {
		lines[i] = tp.topic + " " + strconv.Itoa(int(tp.partition)) + " " + strconv.FormatInt(offsets[tp], 10)
	}
	return writeFileAtomic(path, encodeCheckpoint(lines))
}

// readOffsetCheckpoint reads an offset checkpoint; a missing file is empty.
func readOffsetCheckpoint(path string) (map[topicPartition]int64, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[topicPartition]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := decodeCheckpoint(data, 3)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[topicPartition]int64, len(entries))
	for _, e := range entries {
		p, err1 := strconv.ParseInt(e[1], 10, 32)
		o, err2 := strconv.ParseInt(e[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: malformed entry %q", path, strings.Join(e, " "))
		}
		out[topicPartition{e[0], int32(p)}] = o
	}
	return out, nil
}

// epochEntry is one leader-epoch-checkpoint line.
type epochEntry struct {
	epoch       int32
	startOffset int64
}

// leaderEpochCache is Kafka's LeaderEpochFileCache: (epoch, start offset)
// entries, strictly increasing in both, written to leader-epoch-checkpoint
// on every change. Safe for concurrent use.
//
// A new epoch (assign: a LeaderAndIsr making this broker leader, or the
// first batch of a new epoch on a follower) writes the file without fsync,
// as Kafka does since KAFKA-15046: a broker taking over a thousand
// partitions would otherwise wait for a thousand fsyncs before answering.
// The file is fsynced before the log's recovery point passes the new
// entries (Log.flushUpTo, Log.close: sync), and after a crash openLog
// rebuilds the entries of everything past the recovery point from the
// batches themselves (and of the whole log when the file is unreadable), so
// a lost or torn write loses no entry a batch carries. Truncations are
// rare and fsync at once.
type leaderEpochCache struct {
	path    string
	mu      sync.RWMutex
	entries []epochEntry
	written uint64 // versions of the file written so far
	synced  uint64 // the last of them known to be on disk
}

func encodeEpochs(entries []epochEntry) []byte {
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = strconv.Itoa(int(e.epoch)) + " " + strconv.FormatInt(e.startOffset, 10)
	}
	return encodeCheckpoint(lines)
}

func decodeEpochs(data []byte) ([]epochEntry, error) {
	lines, err := decodeCheckpoint(data, 2)
	if err != nil {
		return nil, err
	}
	out := make([]epochEntry, 0, len(lines))
	for _, l := range lines {
		e, err1 := strconv.ParseInt(l[0], 10, 32)
		o, err2 := strconv.ParseInt(l[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 {
			return nil, fmt.Errorf("leader epoch checkpoint: malformed entry %q", strings.Join(l, " "))
		}
		out = append(out, epochEntry{int32(e), o})
	}
	return out, nil
}

// loadLeaderEpochCache reads dir/leader-epoch-checkpoint (missing = empty).
// Non-monotonic entries are dropped the way assign would drop them.
func loadLeaderEpochCache(dir string) (*leaderEpochCache, error) {
	c := &leaderEpochCache{path: filepath.Join(dir, leaderEpochCheckpointFile)}
	data, err := os.ReadFile(c.path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := decodeEpochs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	for _, e := range entries {
		c.assignLocked(e)
	}
	return c, nil
}

// flushLocked writes the file and fsyncs it.
func (c *leaderEpochCache) flushLocked() error {
	if err := writeFileAtomic(c.path, encodeEpochs(c.entries)); err != nil {
		return err
	}
	c.written++
	c.synced = c.written
	return nil
}

// writeLocked writes the file without fsync; sync makes it durable.
func (c *leaderEpochCache) writeLocked() error {
	if err := writeFileNoSync(c.path, encodeEpochs(c.entries)); err != nil {
		return err
	}
	c.written++
	return nil
}

// sync fsyncs the file (and its directory) if a write since the last fsync
// skipped it. It does not hold the lock during the fsync, so appends go on.
func (c *leaderEpochCache) sync() error {
	c.mu.RLock()
	gen, done := c.written, c.synced >= c.written
	c.mu.RUnlock()
	if done {
		return nil
	}
	// The file now holds version gen or a later one: fsync that.
	if err := syncSnapshot(c.path); err != nil {
		return fmt.Errorf("fsync %s: %w", c.path, err)
	}
	c.mu.Lock()
	c.synced = max(c.synced, gen)
	c.mu.Unlock()
	return nil
}

// assignLocked appends e after dropping trailing entries with epoch >= e.epoch
// or start >= e.startOffset. It reports whether anything changed.
func (c *leaderEpochCache) assignLocked(e epochEntry) bool {
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if e.epoch == last.epoch && e.startOffset >= last.startOffset {
			return false
		}
	}
	i := len(c.entries)
	for i > 0 && (c.entries[i-1].epoch >= e.epoch || c.entries[i-1].startOffset >= e.startOffset) {
		i--
	}
	c.entries = append(c.entries[:i], e)
	return true
}

// assign records that epoch starts at startOffset (Kafka's assign).
func (c *leaderEpochCache) assign(epoch int32, startOffset int64) error {
	if epoch < 0 || startOffset < 0 {
		return fmt.Errorf("storage: assign epoch %d at offset %d: both must be >= 0", epoch, startOffset)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.assignLocked(epochEntry{epoch, startOffset}) {
		return nil
	}
	return c.writeLocked()
}

// maybeAssign is the append path: a batch carries a newer epoch.
func (c *leaderEpochCache) maybeAssign(epoch int32, startOffset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.RLock()
	newer := len(c.entries) == 0 || c.entries[len(c.entries)-1].epoch < epoch
	c.mu.RUnlock()
	if !newer {
		return nil
	}
	return c.assign(epoch, startOffset)
}

func (c *leaderEpochCache) latestEpoch() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// endOffsetFor is Kafka's LeaderEpochFileCache.endOffsetFor.
func (c *leaderEpochCache) endOffsetFor(requested int32, logEndOffset int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if requested < 0 {
		return -1, -1
	}
	n := len(c.entries)
	if n > 0 && c.entries[n-1].epoch == requested {
		return requested, logEndOffset
	}
	// first entry with epoch > requested
	hi := sort.Search(n, func(i int) bool { return c.entries[i].epoch > requested })
	if hi == n {
		return -1, -1
	}
	if hi == 0 {
		return requested, c.entries[0].startOffset
	}
	return c.entries[hi-1].epoch, c.entries[hi].startOffset
}

// truncateFromEnd drops entries starting at or after endOffset (log
// truncation; done even when endOffset >= LEO, KAFKA-10706).
func (c *leaderEpochCache) truncateFromEnd(endOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	if endOffset < 0 || n == 0 || c.entries[n-1].startOffset < endOffset {
		return nil
	}
	i := n
	for i > 0 && c.entries[i-1].startOffset >= endOffset {
		i--
	}
	c.entries = c.entries[:i]
	return c.flushLocked()
}

// truncateFromStart drops entries before startOffset, keeping the last of
// them moved up to startOffset (log start offset advanced).
func (c *leaderEpochCache) truncateFromStart(startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.entries) && c.entries[i].startOffset <= startOffset {
		i++
	}
	if i == 0 {
		return nil
	}
	first := epochEntry{c.entries[i-1].epoch, startOffset}
	if i == 1 && c.entries[0] == first {
		return nil
	}
	c.entries = append([]epochEntry{first}, c.entries[i:]...)
	return c.flushLocked()
}

// clear empties the cache and the file (truncate fully).
func (c *leaderEpochCache) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	return c.flushLocked()
}

func (c *leaderEpochCache) snapshot() []epochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]epochEntry(nil), c.entries...)
}
