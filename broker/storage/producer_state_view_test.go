package storage

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// ActiveProducers reports each producer's epoch and last sequence as the
// log has them, and survives a reopen (from the snapshot and replay).
func TestActiveProducers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openTestLog(t, dir, testConfig(), true)
	if got := l.ActiveProducers(); len(got) != 0 {
		t.Fatalf("empty log: %+v", got)
	}
	for _, s := range []struct {
		pid   int64
		epoch int16
		seq   int32
		n     int
	}{
		{9, 0, 0, 3}, {4, 2, 10, 1}, {9, 0, 3, 2}, {4, 3, 0, 4},
	} {
		if _, err := l.AppendAsLeader(idemBatch(t, s.pid, s.epoch, s.seq, s.n), 0, time.Now()); err != nil {
			t.Fatalf("append %+v: %v", s, err)
		}
	}
	check := func(what string, got []ProducerInfo) {
		t.Helper()
		type key struct {
			pid   int64
			epoch int16
			seq   int32
			txn   int64
			coord int32
		}
		var keys []key
		for _, p := range got {
			if p.LastTimestamp <= 0 {
				t.Fatalf("%s: producer %d has no last timestamp", what, p.ProducerID)
			}
			keys = append(keys, key{p.ProducerID, p.ProducerEpoch, p.LastSequence, p.CurrentTxnStartOffset, p.CoordinatorEpoch})
		}
		want := []key{{4, 3, 3, -1, -1}, {9, 0, 4, -1, -1}}
		if !slices.Equal(keys, want) {
			t.Fatalf("%s: %+v, want %+v", what, keys, want)
		}
	}
	check("open", l.ActiveProducers())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := l.ActiveProducers(); got != nil {
		t.Fatalf("closed log: %+v", got)
	}
	l = openTestLog(t, dir, testConfig(), true)
	check("reopened", l.ActiveProducers())
}
