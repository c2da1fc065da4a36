package configwatch

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/coordinator"
	"github.com/gregor-broker/gregor/zkpaths"
	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

var testZK *zktest.Cluster

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "configwatch-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testZK, err = zktest.StartCluster(dir, 1, zktest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "zktest:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	testZK.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

type logWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLog(t *testing.T) *logrus.Entry {
	w := &logWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	l := logrus.New()
	l.SetOutput(w)
	return logrus.NewEntry(l)
}

// recorder is a Handler that records what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) TopicConfigChanged(topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "topic "+topic)
}

func (r *recorder) BrokerConfigChanged(def, per map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("broker default=%v per=%v", def, per))
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func waitEvents(t *testing.T, r *recorder, want ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.snapshot()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatcherAppliesChanges(t *testing.T) {
	chroot := fmt.Sprintf("/configwatch/%d", time.Now().UnixNano())
	zkc, err := zkpaths.Connect(testZK.ConnectString()+chroot, 8*time.Second, testLog(t), zkpaths.WithConnectionTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zkc.Close)
	if err := zkc.CreateTopLevelPaths(); err != nil {
		t.Fatal(err)
	}
	admin := coordinator.NewAdmin(zkc, coordinator.Config{BrokerID: 1}, testLog(t))
	ctx := context.Background()
	if err := admin.CreateTopic(ctx, handlers.NewTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {1}}}); err != nil {
		t.Fatal(err)
	}
	set := func(typ kmsg.ConfigResourceType, name, k, v string) {
		t.Helper()
		err := admin.IncrementalAlterConfigs(ctx, handlers.ConfigResource{Type: typ, Name: name},
			[]handlers.ConfigOp{{Name: k, Value: &v, Op: kmsg.IncrementalAlterConfigOpSet}}, false)
		if err != nil {
			t.Fatal(err)
		}
	}
	// A notification from before the watcher starts is handled too (Kafka
	// processes every notification it finds at start-up).
	set(kmsg.ConfigResourceTypeTopic, "t", "retention.ms", "1000")

	rec := &recorder{}
	w := New(zkc, 1, rec, testLog(t))
	if err := w.LoadBrokerConfigs(); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitEvents(t, rec, "broker default=map[] per=map[]", "topic t")

	// The watcher re-reads the entity a notification names, so wait for
	// each change before the next.
	set(kmsg.ConfigResourceTypeBroker, "", "log.retention.ms", "5000")
	waitEvents(t, rec, "broker default=map[] per=map[]", "topic t",
		"broker default=map[log.retention.ms:5000] per=map[]")
	set(kmsg.ConfigResourceTypeBroker, "1", "min.insync.replicas", "2")
	waitEvents(t, rec, "broker default=map[] per=map[]", "topic t",
		"broker default=map[log.retention.ms:5000] per=map[]",
		"broker default=map[log.retention.ms:5000] per=map[min.insync.replicas:2]")
	// Another broker's config is not this broker's business.
	if _, err := zkc.Create(zkpaths.ConfigChangeNotificationPrefix, zkpaths.EncodeConfigChangeNotification("brokers/7"), zk.FlagSequence); err != nil {
		t.Fatal(err)
	}
	set(kmsg.ConfigResourceTypeTopic, "t", "segment.bytes", "1000")
	waitEvents(t, rec, "broker default=map[] per=map[]", "topic t",
		"broker default=map[log.retention.ms:5000] per=map[]",
		"broker default=map[log.retention.ms:5000] per=map[min.insync.replicas:2]",
		"topic t")

	// Notifications older than 15 minutes are purged by whoever sees them.
	children, _, err := zkc.Children(zkpaths.ConfigChangesPath)
	if err != nil || len(children) != 5 {
		t.Fatalf("notifications %v (%v), want 5", children, err)
	}
	w.now = func() time.Time { return time.Now().Add(NotificationExpiry + time.Minute) }
	if err := w.processNotifications(); err != nil {
		t.Fatal(err)
	}
	if children, _, err = zkc.Children(zkpaths.ConfigChangesPath); err != nil || len(children) != 0 {
		t.Fatalf("after purge: %v (%v)", children, err)
	}
	if got := rec.snapshot(); len(got) != 5 {
		t.Fatalf("purge re-applied notifications: %q", got)
	}
}
