package coordinator

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gregor-broker/gregor/zkpaths"
)

// batchFixture is a controller (not running) holding controller epoch 3
// in a fresh chroot, with the state znodes of topic "b" as given, each
// written once by the controller (dataVersion 0) and cached.
type batchFixture struct {
	c     *Controller
	other *zkpaths.Client // a second session, for writes behind the controller's back
}

func newBatchFixture(t *testing.T, states []zkpaths.PartitionState) batchFixture {
	t.Helper()
	chroot := testChroot(t)
	zkc, other := connect(t, chroot), connect(t, chroot)
	if err := other.CreateRecursive(zkpaths.ControllerEpochPath, zkpaths.EncodeControllerEpoch(3)); err != nil {
		t.Fatal(err)
	}
	_, stat, err := other.Get(zkpaths.ControllerEpochPath)
	if err != nil {
		t.Fatal(err)
	}
	c := New(testConfig(1), zkc, testLog(t))
	c.cc = newControllerContext()
	c.epoch.Store(3)
	c.epochZkVersion = stat.Version
	ti := &topicInfo{partitions: map[int32]*partitionInfo{}}
	c.cc.topics["b"] = ti
	for p, st := range states {
		st.ControllerEpoch = 3
		if err := other.CreateRecursive(zkpaths.PartitionStatePath("b", int32(p)), st.Encode()); err != nil {
			t.Fatal(err)
		}
		ti.partitions[int32(p)] = &partitionInfo{replicas: []int32{1, 2, 3}, phase: partitionOnline, leadership: &st, zkVersion: 0}
	}
	return batchFixture{c: c, other: other}
}

func (f batchFixture) znode(t *testing.T, p int32) (zkpaths.PartitionState, int32) {
	t.Helper()
	st, stat, err := f.other.GetPartitionState("b", p)
	if err != nil {
		t.Fatal(err)
	}
	return st, stat.Version
}

// moveLeaderTo2 is a decide function of a leader move: leader 2, leader
// epoch + 1, the ISR kept; it counts its calls per partition.
func moveLeaderTo2(calls map[int32]int, p int32) func(zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
	return func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool) {
		calls[p]++
		if cur.Leader == 2 {
			return cur, false
		}
		return zkpaths.PartitionState{Leader: 2, LeaderEpoch: cur.LeaderEpoch + 1, ISR: cur.ISR}, true
	}
}

// TestUpdateStatesBatch: the batch writes from the cached state, and only
// the partitions whose cache was stale (BADVERSION) are re-read and decided
// again; an unknown state is read first; a write of ours whose answer was
// lost (the znode already holds exactly it, one version later) counts as
// written without a second write.
func TestUpdateStatesBatch(t *testing.T) {
	base := zkpaths.PartitionState{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2, 3}}
	tests := []struct {
		name        string
		prepare     func(t *testing.T, f batchFixture, p int32) // behind the cache's back
		wantCalls   int                                         // decide calls
		wantISR     []int32
		wantEpoch   int32 // leader epoch written
		wantVersion int32 // dataVersion after the batch
	}{
		{"cache current: one write", nil, 1, []int32{1, 2, 3}, 5, 1},
		{"cache stale: re-read and decided again", func(t *testing.T, f batchFixture, p int32) {
			st := base
			st.ISR, st.ControllerEpoch = []int32{1, 2}, 3
			if _, err := f.other.Set(zkpaths.PartitionStatePath("b", p), st.Encode(), 0); err != nil {
				t.Fatal(err)
			}
		}, 2, []int32{1, 2}, 5, 2},
		{"state unknown: read first", func(t *testing.T, f batchFixture, p int32) {
			f.c.cc.partition(tp{"b", p}).leadership = nil
		}, 1, []int32{1, 2, 3}, 5, 1},
		{"own write with a lost answer", func(t *testing.T, f batchFixture, p int32) {
			st := zkpaths.PartitionState{Leader: 2, LeaderEpoch: 5, ISR: []int32{1, 2, 3}, ControllerEpoch: 3}
			if _, err := f.other.Set(zkpaths.PartitionStatePath("b", p), st.Encode(), 0); err != nil {
				t.Fatal(err)
			}
		}, 1, []int32{1, 2, 3}, 5, 1},
	}
	// All cases in one batch, so that each shows what happens to its
	// partition while the others are written alongside.
	states := make([]zkpaths.PartitionState, len(tests))
	for i := range states {
		states[i] = base
	}
	f := newBatchFixture(t, states)
	calls := map[int32]int{}
	var updates []stateUpdate
	for i, tc := range tests {
		p := int32(i)
		if tc.prepare != nil {
			tc.prepare(t, f, p)
		}
		updates = append(updates, stateUpdate{p: tp{"b", p}, decide: moveLeaderTo2(calls, p)})
	}
	wrote, err := f.c.updateStates(updates)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		p := int32(i)
		t.Run(tc.name, func(t *testing.T) {
			if !wrote[i] {
				t.Errorf("not reported written")
			}
			if calls[p] != tc.wantCalls {
				t.Errorf("decided %d times, want %d", calls[p], tc.wantCalls)
			}
			st, version := f.znode(t, p)
			want := zkpaths.PartitionState{Leader: 2, LeaderEpoch: tc.wantEpoch, ISR: tc.wantISR, ControllerEpoch: 3}
			if !partitionStateEqual(st, want) || version != tc.wantVersion {
				t.Errorf("znode %+v version %d, want %+v version %d", st, version, want, tc.wantVersion)
			}
			pi := f.c.cc.partition(tp{"b", p})
			if !reflect.DeepEqual(*pi.leadership, st) || pi.zkVersion != version {
				t.Errorf("cache %+v version %d, znode %+v version %d", *pi.leadership, pi.zkVersion, st, version)
			}
		})
	}
}

// TestUpdateStatesNothingToWrite: a decide that declines writes nothing
// and reports so.
func TestUpdateStatesNothingToWrite(t *testing.T) {
	f := newBatchFixture(t, []zkpaths.PartitionState{{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}}})
	calls := map[int32]int{}
	wrote, err := f.c.updateStates([]stateUpdate{{p: tp{"b", 0}, decide: moveLeaderTo2(calls, 0)}})
	if err != nil || wrote[0] {
		t.Fatalf("wrote %v, err %v", wrote, err)
	}
	if _, version := f.znode(t, 0); version != 0 {
		t.Fatalf("znode version %d, want 0", version)
	}
}

// TestUpdateStatesFenced: once /controller_epoch moved on (another
// controller was elected), every write of the batch is rejected, nothing
// changes in ZooKeeper and the error says the controller moved.
func TestUpdateStatesFenced(t *testing.T) {
	const n = 300 // more than maxStateRequestsInFlight
	states := make([]zkpaths.PartitionState, n)
	for i := range states {
		states[i] = zkpaths.PartitionState{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 2, 3}}
	}
	f := newBatchFixture(t, states)
	if _, err := f.other.Set(zkpaths.ControllerEpochPath, zkpaths.EncodeControllerEpoch(4), zkpaths.AnyVersion); err != nil {
		t.Fatal(err)
	}
	calls := map[int32]int{}
	updates := make([]stateUpdate, n)
	for i := range updates {
		updates[i] = stateUpdate{p: tp{"b", int32(i)}, decide: moveLeaderTo2(calls, int32(i))}
	}
	wrote, err := f.c.updateStates(updates)
	if !errors.Is(err, zkpaths.ErrControllerMoved) {
		t.Fatalf("err %v, want ErrControllerMoved", err)
	}
	for i := range n {
		if wrote[i] {
			t.Fatalf("partition %d reported written", i)
		}
		if st, version := f.znode(t, int32(i)); version != 0 || st.Leader != 1 {
			t.Fatalf("partition %d: znode %+v version %d written by a fenced controller", i, st, version)
		}
	}
}
