package broker

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
	"github.com/gregor-broker/gregor/zkpaths/zktest"
)

// TestEnsureZKLayout runs the start-up ZooKeeper steps against a real
// ZooKeeper: brokers starting at the same time on a fresh chroot (the
// concurrent creates race on shared parents) all end with every top-level
// path and agree on one cluster id; a restart (paths present, checked in one
// multi) keeps that id.
func TestEnsureZKLayout(t *testing.T) {
	zkc := zktest.Start(t, 1)
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetLevel(logrus.WarnLevel)
	for _, tc := range []struct {
		name    string
		present []string // created before the brokers start
	}{
		{"fresh chroot", nil},
		{"partly created", []string{"/config/topics", "/brokers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chroot := "/layout-" + strings.ReplaceAll(tc.name, " ", "-")
			testEnsureZKLayout(t, func() *zkpaths.Client {
				t.Helper()
				c, err := zkpaths.Connect(zkc.ConnectString()+chroot, 10*time.Second, log)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.Close)
				return c
			}, tc.present)
		})
	}
}

func testEnsureZKLayout(t *testing.T, connect func() *zkpaths.Client, present []string) {
	for _, p := range present {
		if err := connect().CreateRecursive(p, nil); err != nil {
			t.Fatal(err)
		}
	}
	const brokers = 3
	ids := make([]string, brokers)
	errs := make([]error, brokers)
	var wg sync.WaitGroup
	for i := range brokers {
		c := connect()
		wg.Go(func() { ids[i], errs[i] = ensureZKLayout(c) })
	}
	wg.Wait()
	for i := range brokers {
		if errs[i] != nil {
			t.Fatalf("broker %d: %v", i, errs[i])
		}
		if ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("cluster ids differ or are empty: %q", ids)
		}
	}
	c := connect()
	for _, p := range zkpaths.PersistentPaths() {
		if ok, _, err := c.Exists(p); err != nil || !ok {
			t.Fatalf("%s: exists %v, %v", p, ok, err)
		}
	}
	again, err := ensureZKLayout(c)
	if err != nil || again != ids[0] {
		t.Fatalf("restart: cluster id %q (%v), want %q", again, err, ids[0])
	}
}

func TestWithParents(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, nil},
		{[]string{"/a"}, []string{"/a"}},
		{[]string{"/config/topics", "/config/clients", "/brokers/ids"}, []string{"/config", "/config/topics", "/config/clients", "/brokers", "/brokers/ids"}},
		{[]string{"/a/b/c", "/a"}, []string{"/a", "/a/b", "/a/b/c"}},
	}
	for _, tc := range tests {
		if got := withParents(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("withParents(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
