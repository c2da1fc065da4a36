package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
)

// Producer state: what an idempotent producer has written to this
// partition, so that a retried batch is written once and a gap in its
// sequence numbers is refused. Kafka's ProducerStateManager,
// ProducerStateEntry, ProducerAppendInfo and BatchMetadata, without the
// transaction parts (the transaction fields are kept in the snapshot
// format, always "none").
//
// The state belongs to a Log and is guarded by its mu: it changes only with
// an append, a truncation or a log start move, and a leader validates a
// batch against it under the same lock that writes the batch.

const (
	// numBatchesToRetain is how many of a producer's latest batches are
	// remembered for de-duplication (ProducerStateEntry.NUM_BATCHES_TO_RETAIN):
	// the most a client may have in flight per partition.
	numBatchesToRetain = 5

	noProducerID    = -1
	noProducerEpoch = -1
	noSequence      = -1

	producerSnapshotVersion = 1
	// producerSnapshotEntriesOffset is where the CRC-covered bytes begin:
	// after int16 version and uint32 crc.
	producerSnapshotEntriesOffset = 6
	producerSnapshotEntrySize     = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8
)

// batchMetadata is one remembered batch (Kafka's BatchMetadata).
type batchMetadata struct {
	lastSeq     int32
	lastOffset  int64
	offsetDelta int32
	timestamp   int64 // the batch's max timestamp
}

func (b batchMetadata) firstSeq() int32    { return decrementSequence(b.lastSeq, b.offsetDelta) }
func (b batchMetadata) firstOffset() int64 { return b.lastOffset - int64(b.offsetDelta) }

// producerStateEntry is one producer id's state (Kafka's ProducerStateEntry).
type producerStateEntry struct {
	producerID            int64
	epoch                 int16
	coordinatorEpoch      int32
	lastTimestamp         int64
	currentTxnFirstOffset int64           // -1: no transaction (always, until transactions exist)
	batches               []batchMetadata // oldest first, at most numBatchesToRetain
}

func newProducerStateEntry(pid int64) *producerStateEntry {
	return &producerStateEntry{producerID: pid, epoch: noProducerEpoch, coordinatorEpoch: -1, lastTimestamp: -1, currentTxnFirstOffset: -1}
}

func (e *producerStateEntry) clone() *producerStateEntry {
	c := *e
	c.batches = append(make([]batchMetadata, 0, numBatchesToRetain), e.batches...)
	return &c
}

func (e *producerStateEntry) lastSeq() int32 {
	if len(e.batches) == 0 {
		return noSequence
	}
	return e.batches[len(e.batches)-1].lastSeq
}

// maybeUpdateEpoch moves to epoch, forgetting the batches of the old one.
func (e *producerStateEntry) maybeUpdateEpoch(epoch int16) {
	if e.epoch != epoch {
		e.batches = e.batches[:0]
		e.epoch = epoch
	}
}

func (e *producerStateEntry) addBatch(epoch int16, lastSeq int32, lastOffset int64, offsetDelta int32, ts int64) {
	e.maybeUpdateEpoch(epoch)
	if len(e.batches) == numBatchesToRetain {
		e.batches = append(e.batches[:0], e.batches[1:]...)
	}
	e.batches = append(e.batches, batchMetadata{lastSeq: lastSeq, lastOffset: lastOffset, offsetDelta: offsetDelta, timestamp: ts})
	e.lastTimestamp = ts
}

// findDuplicate returns the remembered batch with exactly this epoch and
// sequence range (ProducerStateEntry.findDuplicateBatch).
func (e *producerStateEntry) findDuplicate(epoch int16, firstSeq, lastSeq int32) (batchMetadata, bool) {
	if epoch != e.epoch {
		return batchMetadata{}, false
	}
	for _, b := range e.batches {
		if b.firstSeq() == firstSeq && b.lastSeq == lastSeq {
			return b, true
		}
	}
	return batchMetadata{}, false
}

// incrementSequence is DefaultRecordBatch.incrementSequence: sequences wrap
// from math.MaxInt32 to 0.
func incrementSequence(seq, inc int32) int32 {
	if seq > math.MaxInt32-inc {
		return inc - (math.MaxInt32 - seq) - 1
	}
	return seq + inc
}

// decrementSequence is DefaultRecordBatch.decrementSequence.
func decrementSequence(seq, dec int32) int32 {
	if seq < dec {
		return math.MaxInt32 - (dec - seq) + 1
	}
	return seq - dec
}

// inSequence is ProducerAppendInfo.inSequence.
func inSequence(lastSeq, nextSeq int32) bool {
	return int64(nextSeq) == int64(lastSeq)+1 || (nextSeq == 0 && lastSeq == math.MaxInt32)
}

// producerBatch is what producer state needs of a batch header.
type producerBatch struct {
	producerID  int64
	epoch       int16
	firstSeq    int32
	lastSeq     int32
	lastOffset  int64
	offsetDelta int32
	maxTs       int64
	control     bool
}

// readProducerBatch reads the producer fields of the batch header b.
func readProducerBatch(b []byte) producerBatch {
	be := binary.BigEndian
	lod := batchLastOffsetDelta(b)
	first := int32(be.Uint32(b[batchOffBaseSequence:]))
	return producerBatch{
		producerID:  int64(be.Uint64(b[batchOffProducerID:])),
		epoch:       int16(be.Uint16(b[batchOffProducerEpoch:])),
		firstSeq:    first,
		lastSeq:     incrementSequence(first, lod),
		lastOffset:  batchBaseOffset(b) + int64(lod),
		offsetDelta: lod,
		maxTs:       batchMaxTimestamp(b),
		control:     batchAttributes(b)&attrControl != 0,
	}
}

// producerStateManager holds a partition's producers and its .snapshot
// files (Kafka's ProducerStateManager). Guarded by Log.mu.
type producerStateManager struct {
	dir       string
	logger    *logrus.Entry
	producers map[int64]*producerStateEntry
	snapshots []int64 // offsets of the .snapshot files in dir, ascending

	// pending is the scratch of a leader append: the producers' entries
	// as they will be once the batches are written.
	pending []*producerStateEntry
}

func newProducerStateManager(dir string, logger *logrus.Entry) (*producerStateManager, error) {
	ps := &producerStateManager{dir: dir, logger: logger, producers: map[int64]*producerStateEntry{}}
	snaps, err := listProducerSnapshots(dir)
	if err != nil {
		return nil, err
	}
	ps.snapshots = snaps
	return ps, nil
}

// producerDuplicate is the answer to a resent batch: the offsets it was
// written at the first time.
type producerDuplicate struct {
	firstOffset, lastOffset int64
	timestamp               int64
}

// prepareLeader validates the producer batches of a client append whose
// offsets are already assigned (UnifiedLog.analyzeAndValidateProducerState
// with AppendOrigin.CLIENT). A batch equal to one of the producer's last
// five (same epoch, same first and last sequence) makes the whole append a
// duplicate: dup is set and nothing must be written. Otherwise the error is
// ErrInvalidProducerEpoch or ErrOutOfOrderSequence, or nil with the updated
// entries kept in ps.pending for commitLeader.
func (ps *producerStateManager) prepareLeader(records []byte, metas []batchMeta) (dup *producerDuplicate, err error) {
	ps.pending = ps.pending[:0]
	for i := range metas {
		b := records[metas[i].pos:]
		if int64(binary.BigEndian.Uint64(b[batchOffProducerID:])) < 0 {
			continue
		}
		pb := readProducerBatch(b)
		cur := ps.producers[pb.producerID]
		if cur != nil {
			if d, ok := cur.findDuplicate(pb.epoch, pb.firstSeq, pb.lastSeq); ok {
				ps.pending = ps.pending[:0]
				return &producerDuplicate{firstOffset: d.firstOffset(), lastOffset: d.lastOffset, timestamp: d.timestamp}, nil
			}
		}
		upd := ps.pendingEntry(pb.producerID, cur)
		known := cur != nil && cur.epoch != noProducerEpoch
		if err := checkProducerBatch(upd, known, pb, metas[i].base); err != nil {
			ps.pending = ps.pending[:0]
			return nil, err
		}
		upd.addBatch(pb.epoch, pb.lastSeq, pb.lastOffset, pb.offsetDelta, pb.maxTs)
	}
	return nil, nil
}

func (ps *producerStateManager) pendingEntry(pid int64, cur *producerStateEntry) *producerStateEntry {
	for _, e := range ps.pending {
		if e.producerID == pid {
			return e
		}
	}
	var e *producerStateEntry
	if cur != nil {
		e = cur.clone()
	} else {
		e = newProducerStateEntry(pid)
	}
	ps.pending = append(ps.pending, e)
	return e
}

// checkProducerBatch is ProducerAppendInfo.checkProducerEpoch and
// checkSequence for a client's batch: upd is the producer's entry with the
// earlier batches of this append applied; known is whether the producer had
// any state before it.
//
// Kafka 2.5+ (KIP-360): a producer id this partition does not know (never
// seen, expired, or its records gone with retention or DeleteRecords) is
// accepted at any sequence; the broker no longer answers
// UNKNOWN_PRODUCER_ID for it.
func checkProducerBatch(upd *producerStateEntry, known bool, pb producerBatch, offset int64) error {
	if pb.epoch < upd.epoch {
		return fmt.Errorf("%w: epoch of producer %d at offset %d is %d, which is smaller than the last seen epoch %d",
			ErrInvalidProducerEpoch, pb.producerID, offset, pb.epoch, upd.epoch)
	}
	if pb.epoch != upd.epoch {
		if pb.firstSeq != 0 && upd.epoch != noProducerEpoch {
			return fmt.Errorf("%w: invalid sequence number for new epoch of producer %d at offset %d: %d (request epoch), %d (seq. number), %d (current producer epoch)",
				ErrOutOfOrderSequence, pb.producerID, offset, pb.epoch, pb.firstSeq, upd.epoch)
		}
		return nil
	}
	if known && !inSequence(upd.lastSeq(), pb.firstSeq) {
		return fmt.Errorf("%w: out of order sequence number for producer %d at offset %d: %d (incoming seq. number), %d (current end sequence number)",
			ErrOutOfOrderSequence, pb.producerID, offset, pb.firstSeq, upd.lastSeq())
	}
	return nil
}

// commitLeader applies the entries prepareLeader validated, once the
// batches are in the log.
func (ps *producerStateManager) commitLeader() {
	for _, e := range ps.pending {
		ps.producers[e.producerID] = e
	}
	ps.pending = ps.pending[:0]
}

// applyBatch updates the state from a batch already in the log, without
// validation: a follower's append and the replay after a load
// (AppendOrigin.REPLICATION; a lower epoch is taken as it is, as Kafka only
// warns). Control batches (transaction markers) only move the epoch.
func (ps *producerStateManager) applyBatch(hdr []byte) {
	if int64(binary.BigEndian.Uint64(hdr[batchOffProducerID:])) < 0 {
		return
	}
	pb := readProducerBatch(hdr)
	e := ps.producers[pb.producerID]
	if e == nil {
		e = newProducerStateEntry(pb.producerID)
		ps.producers[pb.producerID] = e
	}
	if pb.control {
		e.maybeUpdateEpoch(pb.epoch)
		e.lastTimestamp = pb.maxTs
		return
	}
	e.addBatch(pb.epoch, pb.lastSeq, pb.lastOffset, pb.offsetDelta, pb.maxTs)
}

// applyFollower applies every batch of a follower append.
func (ps *producerStateManager) applyFollower(records []byte, metas []batchMeta) {
	for i := range metas {
		ps.applyBatch(records[metas[i].pos:])
	}
}

// removeExpired forgets producers whose last write is expirationMs old
// (ProducerStateManager.removeExpiredProducers; the timestamp is the
// batch's max timestamp, as in Kafka).
func (ps *producerStateManager) removeExpired(nowMs, expirationMs int64) int {
	n := 0
	for pid, e := range ps.producers {
		if e.currentTxnFirstOffset < 0 && nowMs-e.lastTimestamp >= expirationMs {
			delete(ps.producers, pid)
			n++
		}
	}
	return n
}

// load rebuilds the state for a log whose offsets run to leo: it deletes
// the snapshots above leo (their offsets are gone), loads the latest
// readable snapshot at or below it (deleting corrupt ones), and replays the
// batch headers from the snapshot's offset, or from replayFrom when there
// is none, up to leo (Kafka's UnifiedLog.rebuildProducerState). Producers
// expired by nowMs are left out of a loaded snapshot.
func (ps *producerStateManager) load(segs []*segment, replayFrom, leo, nowMs, expirationMs int64) error {
	ps.producers = map[int64]*producerStateEntry{}
	ps.pending = ps.pending[:0]
	if err := ps.deleteSnapshotsAbove(leo); err != nil {
		return err
	}
	from := replayFrom
	for len(ps.snapshots) > 0 {
		off := ps.snapshots[len(ps.snapshots)-1]
		entries, err := readProducerSnapshot(ps.snapshotPath(off))
		if err == nil {
			for _, e := range entries {
				if e.currentTxnFirstOffset >= 0 || nowMs-e.lastTimestamp < expirationMs {
					ps.producers[e.producerID] = e
				}
			}
			from = off
			break
		}
		ps.logger.WithError(err).WithField("offset", off).Warn("unreadable producer snapshot; deleting it")
		if err := ps.deleteSnapshot(off); err != nil {
			return err
		}
	}
	return ps.replay(segs, from, leo)
}

// replay applies the headers of the batches with offsets in [from, to).
func (ps *producerStateManager) replay(segs []*segment, from, to int64) error {
	return forEachBatchHeader(segs, from, to, "replay producer state", func(hdr []byte) { ps.applyBatch(hdr) })
}

// truncateFully forgets every producer and snapshot (the log restarts
// empty at some offset: ProducerStateManager.truncateFullyAndStartAt).
func (ps *producerStateManager) truncateFully() error {
	ps.producers = map[int64]*producerStateEntry{}
	ps.pending = ps.pending[:0]
	return ps.deleteSnapshotsAbove(-1)
}

func (ps *producerStateManager) snapshotPath(offset int64) string {
	return filepath.Join(ps.dir, segmentFileName(offset, snapshotFileSuffix))
}

// takeSnapshot writes the state as <offset>.snapshot (offset: the log end
// offset the state is complete up to), unless that snapshot exists. With
// sync the file and the directory are fsynced before it returns; without,
// the caller fsyncs with syncSnapshot later (a roll does it in the
// background). The file is written to a .tmp name and renamed, so a reader
// sees either nothing or a whole file; a crash before the fsync can leave a
// torn one, which the CRC catches at load.
func (ps *producerStateManager) takeSnapshot(offset int64, sync bool) (bool, error) {
	if n := len(ps.snapshots); n > 0 && ps.snapshots[n-1] == offset {
		return false, nil
	}
	data := encodeProducerSnapshot(ps.producers)
	path := ps.snapshotPath(offset)
	var err error
	if sync {
		err = writeFileAtomic(path, data)
	} else {
		err = writeFileNoSync(path, data)
	}
	if err != nil {
		return false, fmt.Errorf("write producer snapshot %s: %w", path, err)
	}
	i := sort.Search(len(ps.snapshots), func(i int) bool { return ps.snapshots[i] >= offset })
	if i == len(ps.snapshots) || ps.snapshots[i] != offset {
		ps.snapshots = append(ps.snapshots, 0)
		copy(ps.snapshots[i+1:], ps.snapshots[i:])
		ps.snapshots[i] = offset
	}
	return true, nil
}

// syncSnapshot fsyncs a snapshot written without sync, and its directory.
// A snapshot deleted meanwhile is not an error.
func syncSnapshot(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := fsync(f); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeFileNoSync(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// deleteSnapshotsAbove deletes the snapshots at offsets > offset.
func (ps *producerStateManager) deleteSnapshotsAbove(offset int64) error {
	for len(ps.snapshots) > 0 && ps.snapshots[len(ps.snapshots)-1] > offset {
		if err := ps.deleteSnapshot(ps.snapshots[len(ps.snapshots)-1]); err != nil {
			return err
		}
	}
	return nil
}

// deleteSnapshotsBefore deletes the snapshots at offsets < offset (their
// segments are gone: ProducerStateManager.deleteSnapshotsBefore).
func (ps *producerStateManager) deleteSnapshotsBefore(offset int64) error {
	for len(ps.snapshots) > 0 && ps.snapshots[0] < offset {
		if err := ps.deleteSnapshot(ps.snapshots[0]); err != nil {
			return err
		}
	}
	return nil
}

func (ps *producerStateManager) deleteSnapshot(offset int64) error {
	if i := sort.Search(len(ps.snapshots), func(i int) bool { return ps.snapshots[i] >= offset }); i < len(ps.snapshots) && ps.snapshots[i] == offset {
		ps.snapshots = append(ps.snapshots[:i], ps.snapshots[i+1:]...)
	}
	if err := os.Remove(ps.snapshotPath(offset)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete producer snapshot: %w", err)
	}
	return nil
}

// listProducerSnapshots returns the offsets of the .snapshot files in dir.
func listProducerSnapshots(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var offs []int64
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), snapshotFileSuffix) {
			continue
		}
		if off, ok := parseSegmentBase(e.Name(), snapshotFileSuffix); ok {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs, nil
}

// encodeProducerSnapshot is Kafka's ProducerStateManager.writeSnapshot
// (ProducerSnapshot.json, version 1): int16 version, uint32 CRC-32C of
// everything after it, int32 entry count, then per producer: int64
// producerId, int16 epoch, int32 lastSequence, int64 lastOffset, int32
// offsetDelta, int64 timestamp, int32 coordinatorEpoch, int64
// currentTxnFirstOffset. Only the last remembered batch is stored, as in
// Kafka. Entries are sorted by producer id so equal states give equal files.
func encodeProducerSnapshot(producers map[int64]*producerStateEntry) []byte {
	pids := make([]int64, 0, len(producers))
	for pid := range producers {
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	be := binary.BigEndian
	b := make([]byte, producerSnapshotEntriesOffset+4, producerSnapshotEntriesOffset+4+len(pids)*producerSnapshotEntrySize)
	be.PutUint16(b, producerSnapshotVersion)
	be.PutUint32(b[producerSnapshotEntriesOffset:], uint32(len(pids)))
	for _, pid := range pids {
		e := producers[pid]
		lastSeq, lastOffset, delta := int32(noSequence), int64(-1), int32(0)
		if n := len(e.batches); n > 0 {
			last := e.batches[n-1]
			lastSeq, lastOffset, delta = last.lastSeq, last.lastOffset, last.offsetDelta
		}
		b = be.AppendUint64(b, uint64(pid))
		b = be.AppendUint16(b, uint16(e.epoch))
		b = be.AppendUint32(b, uint32(lastSeq))
		b = be.AppendUint64(b, uint64(lastOffset))
		b = be.AppendUint32(b, uint32(delta))
		b = be.AppendUint64(b, uint64(e.lastTimestamp))
		b = be.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = be.AppendUint64(b, uint64(e.currentTxnFirstOffset))
	}
	be.PutUint32(b[2:], crc32.Checksum(b[producerSnapshotEntriesOffset:], castagnoli))
	return b
}

// errCorruptSnapshot: a .snapshot file that fails its checks (Kafka's
// CorruptSnapshotException); the loader deletes it and falls back.
var errCorruptSnapshot = errors.New("storage: corrupt producer snapshot")

// readProducerSnapshot is Kafka's ProducerStateManager.readSnapshot.
func readProducerSnapshot(path string) ([]*producerStateEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeProducerSnapshot(b)
}

func decodeProducerSnapshot(b []byte) ([]*producerStateEntry, error) {
	be := binary.BigEndian
	if len(b) < producerSnapshotEntriesOffset+4 {
		return nil, fmt.Errorf("%w: %d bytes", errCorruptSnapshot, len(b))
	}
	if v := int16(be.Uint16(b)); v != producerSnapshotVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errCorruptSnapshot, v)
	}
	if stored, computed := be.Uint32(b[2:]), crc32.Checksum(b[producerSnapshotEntriesOffset:], castagnoli); stored != computed {
		return nil, fmt.Errorf("%w: stored crc %d, computed %d", errCorruptSnapshot, stored, computed)
	}
	n := int32(be.Uint32(b[producerSnapshotEntriesOffset:]))
	body := b[producerSnapshotEntriesOffset+4:]
	if n < 0 || int64(len(body)) != int64(n)*producerSnapshotEntrySize {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", errCorruptSnapshot, n, len(body))
	}
	entries := make([]*producerStateEntry, 0, n)
	for p := 0; p < len(body); p += producerSnapshotEntrySize {
		r := body[p:]
		e := &producerStateEntry{
			producerID:            int64(be.Uint64(r[0:])),
			epoch:                 int16(be.Uint16(r[8:])),
			lastTimestamp:         int64(be.Uint64(r[26:])),
			coordinatorEpoch:      int32(be.Uint32(r[34:])),
			currentTxnFirstOffset: int64(be.Uint64(r[38:])),
		}
		lastSeq, lastOffset, delta := int32(be.Uint32(r[10:])), int64(be.Uint64(r[14:])), int32(be.Uint32(r[22:]))
		if lastOffset >= 0 {
			e.batches = []batchMetadata{{lastSeq: lastSeq, lastOffset: lastOffset, offsetDelta: delta, timestamp: e.lastTimestamp}}
		}
		if e.currentTxnFirstOffset < 0 {
			e.currentTxnFirstOffset = -1
		}
		entries = append(entries, e)
	}
	return entries, nil
}
