package storage

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLeaderEpochsSurviveLostCheckpoint: a new epoch writes
// leader-epoch-checkpoint without fsync, so a crash may leave the file
// missing, stale (an older version) or torn. Reopening after the crash must
// still know every epoch a batch carries: the entries past the recovery
// point come from the batches, all of them when the file is unreadable.
// The file is fsynced before the recovery point moves past its entries
// (Flush), which is what makes a stale file below the recovery point safe.
func TestLeaderEpochsSurviveLostCheckpoint(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 8 << 10
	tmpl := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, tmpl, cfg, true)
	var staleCheckpoint []byte // the file as fsynced by the Flush below
	var flushedTo int64
	for i, epoch := range []int32{0, 2, 5} {
		l.bg.Wait() // the flushes after rolls, which fsync the file too
		if err := l.AssignEpoch(epoch, l.LogEndOffset()); err != nil {
			t.Fatal(err)
		}
		l.epochs.mu.RLock()
		unsynced := l.epochs.synced < l.epochs.written
		l.epochs.mu.RUnlock()
		if !unsynced {
			t.Fatalf("AssignEpoch(%d) fsynced the checkpoint", epoch)
		}
		for j := range 20 {
			b := makeBatch(t, batchSpec{records: 3, valueSize: 200, firstTs: testNow.UnixMilli() + int64(j)})
			if _, err := l.AppendAsLeader(b, epoch, testNow); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1 {
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			l.epochs.mu.RLock()
			synced := l.epochs.synced == l.epochs.written
			l.epochs.mu.RUnlock()
			if !synced {
				t.Fatal("Flush left the leader epoch checkpoint unsynced")
			}
			data, err := os.ReadFile(filepath.Join(tmpl, leaderEpochCheckpointFile))
			if err != nil {
				t.Fatal(err)
			}
			staleCheckpoint, flushedTo = data, l.RecoveryPoint()
		}
	}
	want := l.epochs.snapshot()
	if len(want) != 3 || l.NumSegments() < 4 {
		t.Fatalf("setup: epochs %+v, %d segments", want, l.NumSegments())
	}

	tests := []struct {
		name          string
		checkpoint    []byte // nil: no file
		recoveryPoint int64
	}{
		{"missing, nothing flushed", nil, 0},
		{"stale, flushed up to before the last epoch", staleCheckpoint, flushedTo},
		{"torn, everything flushed", []byte("0\n3\n0 0\n2 6"), l.LogEndOffset()},
		{"empty file", []byte{}, flushedTo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "t-0")
			copyDir(t, tmpl, dir) // the files as a crash would leave them
			path := filepath.Join(dir, leaderEpochCheckpointFile)
			os.Remove(path)
			if tc.checkpoint != nil {
				if err := os.WriteFile(path, tc.checkpoint, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l2, err := openLog(dir, "t", 0, logOpenOptions{cfg: cfg, recoveryPoint: tc.recoveryPoint, logStartOffset: -1, logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			if got := l2.epochs.snapshot(); !reflect.DeepEqual(got, want) {
				t.Fatalf("epochs after recovery %+v, want %+v", got, want)
			}
			// And durably: a second crash right away finds them in the file.
			reloaded, err := loadLeaderEpochCache(dir)
			if err != nil || !reflect.DeepEqual(reloaded.snapshot(), want) {
				t.Fatalf("checkpoint after recovery %+v (%v), want %+v", reloaded.snapshot(), err, want)
			}
		})
	}
}
