package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestJoinErrors covers the JoinGroup answers that come back at once.
func TestJoinErrors(t *testing.T) {
	e := newEnv(t, Config{
		BrokerID: 1, OffsetsTopicNumPartitions: 2, GroupInitialRebalanceDelay: 3 * time.Second,
		GroupMinSessionTimeout: time.Second, GroupMaxSessionTimeout: time.Minute, GroupMaxSize: 2,
	})
	g0 := groupInPartition("g", 0, 2)
	g1 := groupInPartition("g", 1, 2)      // not led by this broker
	full := groupInPartition("full", 0, 2) // two members: group.max.size
	// g0 has one member of protocol type consumer, full has two.
	first := e.c.JoinGroup(joinReq(g0, ""))
	f1, f2 := e.c.JoinGroup(joinReq(full, "")), e.c.JoinGroup(joinReq(full, ""))
	e.clock.Advance(6 * time.Second)
	for _, ch := range []<-chan JoinResult{first, f1, f2} {
		wantErr(t, "first members", recv(t, ch).Err, nil)
	}
	for _, tc := range []struct {
		name string
		req  func() JoinRequest
		want *kerr.Error
	}{
		{"empty group id", func() JoinRequest { return joinReq("", "") }, kerr.InvalidGroupID},
		{"not coordinator", func() JoinRequest { return joinReq(g1, "") }, kerr.NotCoordinator},
		{"session below min", func() JoinRequest { r := joinReq(g0, ""); r.SessionTimeout = 500 * time.Millisecond; return r }, kerr.InvalidSessionTimeout},
		{"session above max", func() JoinRequest { r := joinReq(g0, ""); r.SessionTimeout = 2 * time.Minute; return r }, kerr.InvalidSessionTimeout},
		{"unknown member of unknown group", func() JoinRequest { return joinReq("nobody-"+g0, "m-1") }, kerr.UnknownMemberID},
		{"unknown member of known group", func() JoinRequest { return joinReq(g0, "m-1") }, kerr.UnknownMemberID},
		{"other protocol type", func() JoinRequest { r := joinReq(g0, ""); r.ProtocolType = "connect"; return r }, kerr.InconsistentGroupProtocol},
		{"no common protocol", func() JoinRequest {
			r := joinReq(g0, "")
			r.Protocols = []Protocol{{Name: "roundrobin"}}
			return r
		}, kerr.InconsistentGroupProtocol},
		{"group full", func() JoinRequest { return joinReq(full, "") }, kerr.GroupMaxSizeReached},
		{"no protocols on an empty group", func() JoinRequest { r := joinReq(groupInPartition("fresh", 0, 2), ""); r.Protocols = nil; return r }, kerr.InconsistentGroupProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := recv(t, e.c.JoinGroup(tc.req()))
			wantErr(t, "join", r.Err, tc.want)
			if r.Generation != -1 {
				t.Errorf("generation %d on error, want -1", r.Generation)
			}
		})
	}
	// While its partition loads, a group answers COORDINATOR_LOAD_IN_PROGRESS.
	e.c.mu.Lock()
	e.c.partitions[1] = &offsetsPartition{loading: true, cancel: make(chan struct{})}
	e.c.mu.Unlock()
	wantErr(t, "join while loading", recv(t, e.c.JoinGroup(joinReq(g1, ""))).Err, kerr.CoordinatorLoadInProgress)
	wantErr(t, "heartbeat while loading", e.c.Heartbeat(g1, "m", "", 1), nil)
	wantErr(t, "sync while loading", recv(t, e.c.SyncGroup(SyncRequest{GroupID: g1, MemberID: "m"})).Err, kerr.RebalanceInProgress)
}

// TestMemberIDRequiredAndInitialDelay: KIP-394's first join, then the
// initial rebalance delay, extended while new members arrive, up to the
// rebalance timeout.
func TestMemberIDRequiredAndInitialDelay(t *testing.T) {
	e := newEnv(t, testConfig())
	const g = "kip394"
	req := joinReq(g, "")
	req.RequireKnownMemberID = true
	r := recv(t, e.c.JoinGroup(req))
	wantErr(t, "first join", r.Err, kerr.MemberIDRequired)
	if r.MemberID == "" || r.MemberID[:7] != "client-" {
		t.Fatalf("member id %q, want client-<uuid>", r.MemberID)
	}
	a := e.c.JoinGroup(joinReq(g, r.MemberID))
	e.clock.Advance(2 * time.Second)
	pending(t, a)
	b := e.c.JoinGroup(joinReq(g, "")) // arrives during the initial delay
	e.clock.Advance(time.Second)       // t=3s: a new member came; wait another delay
	pending(t, a)
	pending(t, b)
	if s := e.state(g); s != PreparingRebalance {
		t.Fatalf("state %s, want PreparingRebalance", s)
	}
	e.clock.Advance(3 * time.Second) // t=6s
	ra, rb := recv(t, a), recv(t, b)
	if ra.Err != nil || rb.Err != nil || ra.Generation != 1 || rb.Generation != 1 {
		t.Fatalf("joins: %+v %+v", ra, rb)
	}
	if ra.LeaderID != r.MemberID || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("leader %q (want %q), leader sees %d members, follower %d", ra.LeaderID, r.MemberID, len(ra.Members), len(rb.Members))
	}
	if *ra.Protocol != "range" || *ra.ProtocolType != "consumer" {
		t.Fatalf("protocol %v/%v", *ra.ProtocolType, *ra.Protocol)
	}
	if s := e.state(g); s != CompletingRebalance {
		t.Fatalf("state %s, want CompletingRebalance", s)
	}
	// A pending member id that never rejoins expires after the session.
	req.GroupID = "kip394-pending"
	r = recv(t, e.c.JoinGroup(req))
	e.clock.Advance(11 * time.Second)
	wantErr(t, "rejoin of an expired pending member", recv(t, e.c.JoinGroup(joinReq("kip394-pending", r.MemberID))).Err, kerr.UnknownMemberID)
}

// TestRebalances drives a group through member arrival, heartbeats,
// session expiry, leave and the rebalance timeout.
func TestRebalances(t *testing.T) {
	e := newEnv(t, testConfig())
	const g = "rebalances"
	ids, gen := e.stableGroup(g, 2)
	a, b := ids[0], ids[1]

	// Heartbeats of the current generation succeed; others do not.
	wantErr(t, "heartbeat", e.c.Heartbeat(g, a, "", gen), nil)
	wantErr(t, "old generation", e.c.Heartbeat(g, a, "", gen-1), kerr.IllegalGeneration)
	wantErr(t, "unknown member", e.c.Heartbeat(g, "nobody", "", gen), kerr.UnknownMemberID)
	wantErr(t, "unknown group", e.c.Heartbeat("no-such-group", a, "", gen), kerr.UnknownMemberID)

	// A third member joins: rebalance; the others learn it by heartbeat.
	c := e.c.JoinGroup(joinReq(g, ""))
	wantErr(t, "heartbeat during rebalance", e.c.Heartbeat(g, a, "", gen), kerr.RebalanceInProgress)
	ja := e.c.JoinGroup(joinReq(g, a))
	pending(t, ja)
	jb := e.c.JoinGroup(joinReq(g, b)) // everyone is in: completes at once
	ra, rb, rc := recv(t, ja), recv(t, jb), recv(t, c)
	if ra.Generation != gen+1 || rb.Generation != gen+1 || rc.Generation != gen+1 || len(ra.Members) != 3 {
		t.Fatalf("generation %d/%d/%d (want %d), leader sees %d members", ra.Generation, rb.Generation, rc.Generation, gen+1, len(ra.Members))
	}
	gen++
	cid := rc.MemberID
	// Sync: the leader's assignment reaches everyone.
	sb := e.c.SyncGroup(SyncRequest{GroupID: g, Generation: gen, MemberID: b})
	pending(t, sb)
	sa := e.c.SyncGroup(SyncRequest{GroupID: g, Generation: gen, MemberID: a, Assignments: map[string][]byte{a: []byte("A"), b: []byte("B")}})
	sc := e.c.SyncGroup(SyncRequest{GroupID: g, Generation: gen, MemberID: cid})
	if r := recv(t, sb); string(r.Assignment) != "B" {
		t.Fatalf("b got %q", r.Assignment)
	}
	if r := recv(t, sa); string(r.Assignment) != "A" {
		t.Fatalf("a got %q", r.Assignment)
	}
	if r := recv(t, sc); r.Err != nil || len(r.Assignment) != 0 {
		t.Fatalf("c (left out by the leader) got %s %q, want an empty assignment", codeOf(r.Err), r.Assignment)
	}
	waitFor(t, func() bool { return e.state(g) == Stable })

	// b stops heartbeating: its session (10s from the sync at t=6s) expires.
	for i := 0; i < 3; i++ { // t = 9, 12, 15
		e.clock.Advance(3 * time.Second)
		wantErr(t, "a heartbeat", e.c.Heartbeat(g, a, "", gen), nil)
		wantErr(t, "c heartbeat", e.c.Heartbeat(g, cid, "", gen), nil)
	}
	if s := e.state(g); s != Stable {
		t.Fatalf("state %s at t=15s, want Stable", s)
	}
	e.clock.Advance(3 * time.Second) // t=18
	wantErr(t, "b expired", e.c.Heartbeat(g, b, "", gen), kerr.UnknownMemberID)
	if s := e.state(g); s != PreparingRebalance {
		t.Fatalf("state %s after b's session expired, want PreparingRebalance", s)
	}

	// a rejoins; c keeps heartbeating but does not rejoin: the rebalance
	// timeout (20s from t=16s) completes the join without c.
	ja = e.c.JoinGroup(joinReq(g, a))
	for i := 0; i < 4; i++ { // t = 22 .. 34
		e.clock.Advance(4 * time.Second)
		wantErr(t, "c heartbeat during the rebalance", e.c.Heartbeat(g, cid, "", gen), kerr.RebalanceInProgress)
		pending(t, ja)
	}
	e.clock.Advance(2 * time.Second) // t=36
	ra = recv(t, ja)
	if ra.Err != nil || ra.Generation != gen+1 || len(ra.Members) != 1 || ra.LeaderID != a {
		t.Fatalf("after the rebalance timeout: %s gen %d members %d leader %q", codeOf(ra.Err), ra.Generation, len(ra.Members), ra.LeaderID)
	}
	gen++
	wantErr(t, "c dropped", e.c.Heartbeat(g, cid, "", gen), kerr.UnknownMemberID)

	// a leaves: the group becomes Empty with a new generation.
	recv(t, e.c.SyncGroup(SyncRequest{GroupID: g, Generation: gen, MemberID: a, Assignments: map[string][]byte{a: []byte("A")}}))
	top, errs := e.c.LeaveGroup(g, []LeaveMember{{MemberID: a}, {MemberID: "nobody"}})
	wantErr(t, "leave", top, nil)
	wantErr(t, "leave a", errs[0], nil)
	wantErr(t, "leave nobody", errs[1], kerr.UnknownMemberID)
	// Nobody is left to wait for: the rebalance completes at once.
	if s := e.state(g); s != Empty {
		t.Fatalf("state %s after the last member left, want Empty", s)
	}
}

// TestPendingSyncExpiry: a member that never sends SyncGroup is removed
// after the rebalance timeout and the group rebalances.
func TestPendingSyncExpiry(t *testing.T) {
	e := newEnv(t, testConfig())
	const g = "pending-sync"
	a := e.c.JoinGroup(joinReq(g, ""))
	b := e.c.JoinGroup(joinReq(g, ""))
	e.clock.Advance(6 * time.Second) // the initial delay, extended once
	ra, rb := recv(t, a), recv(t, b)
	leader := ra.MemberID
	if ra.LeaderID != leader {
		ra, rb = rb, ra
		leader = ra.MemberID
	}
	recv(t, e.c.SyncGroup(SyncRequest{GroupID: g, Generation: 1, MemberID: leader, Assignments: map[string][]byte{}}))
	waitFor(t, func() bool { return e.state(g) == Stable })
	// The follower heartbeats but never syncs; the pending sync expires
	// one rebalance timeout (20s) after the join completed (t=26s).
	for i := 0; i < 4; i++ { // t = 11, 16, 21, 26
		e.clock.Advance(5 * time.Second)
		if i < 3 {
			wantErr(t, "leader heartbeat", e.c.Heartbeat(g, leader, "", 1), nil)
			wantErr(t, "follower heartbeat", e.c.Heartbeat(g, rb.MemberID, "", 1), nil)
		}
	}
	if st := e.state(g); st != PreparingRebalance {
		t.Fatalf("state %s, want PreparingRebalance", st)
	}
	wantErr(t, "follower removed", e.c.Heartbeat(g, rb.MemberID, "", 1), kerr.UnknownMemberID)
	wantErr(t, "leader told to rejoin", e.c.Heartbeat(g, leader, "", 1), kerr.RebalanceInProgress)
}

// TestStaticMembership: KIP-345 — a restart with the same instance id in a
// Stable group gets a new member id without a rebalance, and the old id is
// fenced; a leave by instance id removes the member.
func TestStaticMembership(t *testing.T) {
	e := newEnv(t, testConfig())
	const g = "static"
	static := func(memberID, instance string) JoinRequest {
		r := joinReq(g, memberID)
		r.InstanceID = instance
		return r
	}
	j1 := e.c.JoinGroup(static("", "i1"))
	j2 := e.c.JoinGroup(static("", "i2"))
	e.clock.Advance(6 * time.Second)
	r1, r2 := recv(t, j1), recv(t, j2)
	if r1.MemberID[:3] != "i1-" {
		t.Fatalf("static member id %q, want i1-<uuid>", r1.MemberID)
	}
	leader := r1.LeaderID
	recv(t, e.c.SyncGroup(SyncRequest{GroupID: g, Generation: 1, MemberID: leader, Assignments: map[string][]byte{r1.MemberID: []byte("one"), r2.MemberID: []byte("two")}}))
	recv(t, e.c.SyncGroup(SyncRequest{GroupID: g, Generation: 1, MemberID: other(leader, r1.MemberID, r2.MemberID), InstanceID: ""}))
	waitFor(t, func() bool { return e.state(g) == Stable })

	// i2 restarts (unknown member id, same instance): no rebalance.
	j := recv(t, e.c.JoinGroup(static("", "i2")))
	if j.Err != nil || j.Generation != 1 || j.MemberID == r2.MemberID {
		t.Fatalf("static rejoin: %s gen %d member %q", codeOf(j.Err), j.Generation, j.MemberID)
	}
	if st := e.state(g); st != Stable {
		t.Fatalf("state %s after a static restart, want Stable", st)
	}
	sr := recv(t, e.c.SyncGroup(SyncRequest{GroupID: g, Generation: 1, MemberID: j.MemberID, InstanceID: "i2"}))
	if sr.Err != nil || string(sr.Assignment) != "two" {
		t.Fatalf("restarted static member's sync: %s %q, want its old assignment", codeOf(sr.Err), sr.Assignment)
	}
	wantErr(t, "old member id of i2", e.c.Heartbeat(g, r2.MemberID, "i2", 1), kerr.FencedInstanceID)
	wantErr(t, "old member id rejoins", recv(t, e.c.JoinGroup(static(r2.MemberID, "i2"))).Err, kerr.FencedInstanceID)
	wantErr(t, "new member id", e.c.Heartbeat(g, j.MemberID, "i2", 1), nil)
	wantErr(t, "unknown instance", e.c.Heartbeat(g, j.MemberID, "i9", 1), kerr.UnknownMemberID)

	// A static member that did not rejoin is kept through a rebalance
	// (only its session timeout removes it).
	ids := []string{r1.MemberID, j.MemberID}
	for _, id := range ids {
		wantErr(t, "heartbeat", e.c.Heartbeat(g, id, map[string]string{r1.MemberID: "i1", j.MemberID: "i2"}[id], 1), nil)
	}
	// Administrative leave by instance id.
	top, errs := e.c.LeaveGroup(g, []LeaveMember{{InstanceID: "i2"}, {InstanceID: "i7"}})
	wantErr(t, "leave", top, nil)
	wantErr(t, "leave i2", errs[0], nil)
	wantErr(t, "leave i7", errs[1], kerr.UnknownMemberID)
	if st := e.state(g); st != PreparingRebalance {
		t.Fatalf("state %s after i2 left, want PreparingRebalance", st)
	}
}

func other(leader, a, b string) string {
	if leader == a {
		return b
	}
	return a
}

// TestSelectProtocol: every member votes for its most preferred protocol
// among those all members support.
func TestSelectProtocol(t *testing.T) {
	p := func(names ...string) []Protocol {
		var out []Protocol
		for _, n := range names {
			out = append(out, Protocol{Name: n})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		members [][]Protocol
		want    string
	}{
		{"one member", [][]Protocol{p("range", "roundrobin")}, "range"},
		{"majority", [][]Protocol{p("range", "sticky"), p("sticky", "range"), p("sticky", "range")}, "sticky"},
		{"only common one", [][]Protocol{p("cooperative-sticky", "range"), p("range")}, "range"},
		{"tie goes to the first member", [][]Protocol{p("roundrobin", "range"), p("range", "roundrobin")}, "roundrobin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroupMeta("g", 0, time.Now())
			for i, ps := range tc.members {
				g.add(&member{id: string(rune('a' + i)), protocolType: "consumer", protocols: ps}, nil)
			}
			if got := g.selectProtocol(); got != tc.want {
				t.Fatalf("selected %q, want %q", got, tc.want)
			}
		})
	}
}
