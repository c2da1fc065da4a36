package group

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func commit(e *env, groupID, memberID string, gen int32, offsets map[TopicPartition]int64) []*kerr.Error {
	req := CommitRequest{GroupID: groupID, MemberID: memberID, Generation: gen, RetentionMs: -1}
	for tp, o := range offsets {
		md := "md-" + tp.Topic
		req.Offsets = append(req.Offsets, OffsetCommit{Topic: tp.Topic, Partition: tp.Partition, Offset: o, LeaderEpoch: 3, Metadata: &md, CommitTimestamp: -1})
	}
	return e.c.CommitOffsets(context.Background(), req)
}

func fetched(t *testing.T, e *env, groupID string, tp TopicPartition) int64 {
	t.Helper()
	err, out := e.c.FetchOffsets(groupID, false, []TopicPartition{tp})
	if err != nil || len(out) != 1 {
		t.Fatalf("fetch: %s, %d results", codeOf(err), len(out))
	}
	return out[0].Offset
}

// TestCommitAndFetch covers the member and generation checks of
// OffsetCommit and what OffsetFetch returns.
func TestCommitAndFetch(t *testing.T) {
	e := newEnv(t, testConfig())
	const g = "offsets"
	ids, gen := e.stableGroup(g, 2)
	tp := TopicPartition{"t", 0}
	for _, tc := range []struct {
		name   string
		member string
		gen    int32
		want   *kerr.Error
	}{
		{"member of the generation", ids[0], gen, nil},
		{"older generation", ids[0], gen - 1, kerr.IllegalGeneration},
		{"unknown member", "nobody", gen, kerr.UnknownMemberID},
		{"no member on a non-empty group", "", -1, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := commit(e, g, tc.member, tc.gen, map[TopicPartition]int64{tp: 42})
			wantErr(t, "commit", errs[0], tc.want)
		})
	}
	if o := fetched(t, e, g, tp); o != 42 {
		t.Fatalf("fetched %d, want 42", o)
	}
	err, all := e.c.FetchOffsets(g, true, nil)
	if err != nil || len(all) != 1 || all[0].Metadata != "md-t" || all[0].LeaderEpoch != 3 {
		t.Fatalf("fetch all: %s %+v", codeOf(err), all)
	}
	if o := fetched(t, e, g, TopicPartition{"t", 9}); o != -1 {
		t.Fatalf("uncommitted partition fetched %d, want -1", o)
	}
	if o := fetched(t, e, "no-such-group", tp); o != -1 {
		t.Fatalf("unknown group fetched %d, want -1", o)
	}
	// Metadata over offset.metadata.max.bytes.
	big := strings.Repeat("x", DefaultOffsetMetadataMaxBytes+1)
	errs := e.c.CommitOffsets(context.Background(), CommitRequest{GroupID: g, MemberID: ids[0], Generation: gen, RetentionMs: -1,
		Offsets: []OffsetCommit{{Topic: "t", Partition: 1, Offset: 1, Metadata: &big, CommitTimestamp: -1}}})
	wantErr(t, "large metadata", errs[0], kerr.OffsetMetadataTooLarge)
	// A group that only stores offsets (generation -1) is created on commit.
	errs = commit(e, "simple", "", -1, map[TopicPartition]int64{tp: 7})
	wantErr(t, "simple commit", errs[0], nil)
	if o := fetched(t, e, "simple", tp); o != 7 {
		t.Fatalf("simple group fetched %d, want 7", o)
	}
	wantErr(t, "commit of a vanished group's generation", commit(e, "vanished", "m", 4, map[TopicPartition]int64{tp: 1})[0], kerr.IllegalGeneration)
}

// TestLoadAfterFailover: unloading on losing leadership answers
// NOT_COORDINATOR (waiting joins too); leading again reloads the groups,
// assignments and offsets from the log.
func TestLoadAfterFailover(t *testing.T) {
	e := newEnv(t, testConfig())
	const g = "failover"
	ids, gen := e.stableGroup(g, 2)
	tp := TopicPartition{"t", 3}
	wantErr(t, "commit", commit(e, g, ids[0], gen, map[TopicPartition]int64{tp: 100})[0], nil)
	wantErr(t, "commit", commit(e, g, ids[0], gen, map[TopicPartition]int64{tp: 150})[0], nil)
	wantErr(t, "simple commit", commit(e, "simple", "", -1, map[TopicPartition]int64{tp: 5})[0], nil)

	// A join waiting in a rebalance when the partition moves away.
	join := e.c.JoinGroup(joinReq(g, ids[0]))
	pending(t, join)
	e.become(2, 0) // another broker leads __consumer_offsets-0 now
	wantErr(t, "waiting join", recv(t, join).Err, kerr.NotCoordinator)
	wantErr(t, "heartbeat", e.c.Heartbeat(g, ids[1], "", gen), kerr.NotCoordinator)
	if err, _ := e.c.FetchOffsets(g, false, nil); err != kerr.NotCoordinator {
		t.Fatalf("fetch after unload: %s", codeOf(err))
	}

	e.lead(0)
	if o := fetched(t, e, g, tp); o != 150 {
		t.Fatalf("reloaded offset %d, want 150", o)
	}
	if o := fetched(t, e, "simple", tp); o != 5 {
		t.Fatalf("reloaded simple offset %d, want 5", o)
	}
	// The group is back Stable at its generation with its assignments
	// (the rebalance in flight at the move was not stored).
	err, s := e.c.DescribeGroup(g)
	if err != nil || s.State != "Stable" || len(s.Members) != 2 || s.Protocol != "range" {
		t.Fatalf("describe after reload: %s %+v", codeOf(err), s)
	}
	for _, m := range s.Members {
		if string(m.Assignment) != "assignment-of-"+m.MemberID {
			t.Fatalf("member %s assignment %q", m.MemberID, m.Assignment)
		}
	}
	wantErr(t, "heartbeat of a reloaded member", e.c.Heartbeat(g, ids[1], "", gen), nil)
	// Members that do not heartbeat the new coordinator expire.
	e.clock.Advance(6 * time.Second)
	wantErr(t, "heartbeat", e.c.Heartbeat(g, ids[1], "", gen), nil)
	e.clock.Advance(5 * time.Second)
	wantErr(t, "silent member expired", e.c.Heartbeat(g, ids[0], "", gen), kerr.UnknownMemberID)
	if st := e.state(g); st != PreparingRebalance {
		t.Fatalf("state %s after the reloaded members' sessions, want PreparingRebalance", st)
	}
}

// TestExpireAndDelete covers offset retention, DeleteGroups and
// OffsetDelete, and that their tombstones survive a reload.
func TestExpireAndDelete(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	cfg.OffsetsRetentionCheckInterval = 10 * time.Minute
	e := newEnv(t, cfg)
	tp := TopicPartition{"t", 0}
	wantErr(t, "old", commit(e, "old", "", -1, map[TopicPartition]int64{tp: 1})[0], nil)
	e.clock.Advance(50 * time.Minute)
	wantErr(t, "new", commit(e, "new", "", -1, map[TopicPartition]int64{tp: 2})[0], nil)
	e.clock.Advance(20 * time.Minute) // the check at 60 min expires "old" only
	if o := fetched(t, e, "old", tp); o != -1 {
		t.Fatalf("expired offset still fetched: %d", o)
	}
	if o := fetched(t, e, "new", tp); o != 2 {
		t.Fatalf("young offset fetched %d, want 2", o)
	}

	ids, _ := e.stableGroup("busy", 1)
	wantErr(t, "delete", e.c.DeleteGroups([]string{"new", "busy", "never"})[0], nil)
	errs := e.c.DeleteGroups([]string{"busy", "never"})
	wantErr(t, "delete busy", errs[0], kerr.NonEmptyGroup)
	wantErr(t, "delete unknown", errs[1], kerr.GroupIDNotFound)

	// OffsetDelete: a subscribed topic of a consumer group is refused.
	gen := int32(1)
	wantErr(t, "busy commit", commit(e, "busy", ids[0], gen, map[TopicPartition]int64{tp: 9, {"other", 0}: 4})[0], nil)
	top, perr := e.c.DeleteOffsets("busy", []TopicPartition{tp, {"other", 0}})
	wantErr(t, "offset delete", top, nil)
	wantErr(t, "subscribed topic", perr[0], kerr.GroupSubscribedToTopic)
	wantErr(t, "unsubscribed topic", perr[1], nil)
	if top, _ := e.c.DeleteOffsets("never", []TopicPartition{tp}); top != kerr.GroupIDNotFound {
		t.Fatalf("offset delete of unknown group: %s", codeOf(top))
	}

	err, groups := e.c.ListGroups(nil)
	if err != nil || len(groups) != 1 || groups[0].GroupID != "busy" || groups[0].State != "Stable" {
		t.Fatalf("list: %s %+v", codeOf(err), groups)
	}
	if _, groups := e.c.ListGroups([]string{"empty"}); len(groups) != 0 {
		t.Fatalf("list Empty groups: %+v", groups)
	}

	// Reload: the tombstones hold.
	e.become(2, 0)
	e.lead(0)
	for _, g := range []string{"old", "new"} {
		if o := fetched(t, e, g, tp); o != -1 {
			t.Fatalf("%s: offset %d came back after reload", g, o)
		}
	}
	if o := fetched(t, e, "busy", TopicPartition{"other", 0}); o != -1 {
		t.Fatalf("deleted offset came back: %d", o)
	}
	if o := fetched(t, e, "busy", tp); o != 9 {
		t.Fatalf("kept offset %d, want 9", o)
	}
}
