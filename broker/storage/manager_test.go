package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTestManager(tb testing.TB, dirs []string) *Manager {
	tb.Helper()
	cfg := ManagerConfig{Dirs: dirs, RecoveryThreadsPerDir: 2, DefaultLog: testConfig()}
	m, err := OpenManager(cfg, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func TestManager(t *testing.T) {
	withFsync(t)
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b")}
	m := openTestManager(t, dirs)

	// A second manager on the same dirs is refused while the first holds .lock.
	if _, err := OpenManager(ManagerConfig{Dirs: dirs[:1]}, nil); !errors.Is(err, ErrLogDirLocked) {
		t.Fatalf("second open: %v", err)
	}
	if _, ok, err := m.ReadMeta(); ok || err != nil {
		t.Fatalf("meta before write: %v %v", ok, err)
	}
	if err := m.WriteMeta(MetaProperties{BrokerID: 3, ClusterID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if mp, ok, err := m.ReadMeta(); !ok || err != nil || mp != (MetaProperties{3, "c1"}) {
		t.Fatalf("meta %+v %v %v", mp, ok, err)
	}

	// Partitions spread over the dirs with the fewest logs.
	for p := int32(0); p < 4; p++ {
		l, err := m.GetOrCreate("orders", p, testConfig())
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 3, 2, 50)
	}
	if _, err := m.GetOrCreate("bad/name", 0, testConfig()); err == nil {
		t.Fatal("accepted a bad topic name")
	}
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		n := 0
		for _, e := range ents {
			if e.IsDir() {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%s holds %d logs, want 2", d, n)
		}
	}
	if m.Get("orders", 9) != nil || m.Get("orders", 1) == nil || len(m.Logs()) != 4 {
		t.Fatal("Get/Logs")
	}
	// Delete renames then removes asynchronously.
	dir3 := m.Get("orders", 3).Dir()
	if err := m.Delete("orders", 3); err != nil {
		t.Fatal(err)
	}
	if m.Get("orders", 3) != nil {
		t.Fatal("deleted log still present")
	}
	if _, err := os.Stat(dir3); !os.IsNotExist(err) {
		t.Fatalf("deleted dir still there: %v", err)
	}
	if err := m.DeleteRecordsBeforeForTest("orders", 0, 2); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, cleanShutdownFile)); err != nil {
			t.Fatal("no clean shutdown marker:", err)
		}
		rp, err := readOffsetCheckpoint(filepath.Join(d, recoveryPointCheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		for tp, off := range rp {
			if off != 6 || tp.topic != "orders" {
				t.Fatalf("recovery point %v = %d", tp, off)
			}
		}
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), deleteDirSuffix) {
				t.Fatalf("%s left behind", e.Name())
			}
		}
	}

	// Reopen: logs, log start offsets from the checkpoint, marker deleted.
	m2 := openTestManager(t, dirs)
	if len(m2.Logs()) != 3 {
		t.Fatalf("%d logs after reopen", len(m2.Logs()))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, cleanShutdownFile)); !os.IsNotExist(err) {
			t.Fatal("clean shutdown marker not deleted at start-up")
		}
	}
	l0 := m2.Get("orders", 0)
	if l0.LogEndOffset() != 6 || l0.LogStartOffset() != 2 {
		t.Fatalf("orders-0: start %d end %d", l0.LogStartOffset(), l0.LogEndOffset())
	}
	// Run stops with its context.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m2.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}

	// Dirs that disagree about meta.properties.
	os.WriteFile(filepath.Join(dirs[1], metaPropertiesFile), encodeMetaProperties(MetaProperties{BrokerID: 4}, time.Now()), 0o644)
	m3 := openTestManager(t, dirs)
	if _, _, err := m3.ReadMeta(); err == nil {
		t.Fatal("disagreeing meta.properties accepted")
	}
}

// DeleteRecordsBeforeForTest is a test shortcut.
func (m *Manager) DeleteRecordsBeforeForTest(topic string, p int32, off int64) error {
	return m.Get(topic, p).DeleteRecordsBefore(off)
}

func TestManagerUncleanRestart(t *testing.T) {
	dir := t.TempDir()
	m := openTestManager(t, []string{dir})
	l, _ := m.GetOrCreate("t", 0, testConfig())
	appendN(t, l, 10, 2, 100)
	path := filepath.Join(l.Dir(), segmentFileName(0, logFileSuffix))
	size := l.Size()
	m.Close()
	// Simulate a crash: no marker, and a torn batch at the end.
	os.Remove(filepath.Join(dir, cleanShutdownFile))
	os.Truncate(path, size-5)
	m2 := openTestManager(t, []string{dir})
	l2 := m2.Get("t", 0)
	if l2.LogEndOffset() != 18 {
		t.Fatalf("leo %d, want 18", l2.LogEndOffset())
	}
	readAll(t, l2)
}
