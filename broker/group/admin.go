package group

import (
	"slices"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
)

// MemberSummary is one member in DescribeGroups.
type MemberSummary struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// GroupSummary is GroupCoordinator's GroupSummary.
type GroupSummary struct {
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberSummary
}

// DescribeGroup is GroupCoordinator.handleDescribeGroup: an unknown group
// is described as Dead with no members; members' metadata and assignments
// are shown only when the group is Stable.
func (c *Coordinator) DescribeGroup(groupID string) (*kerr.Error, GroupSummary) {
	g, err := c.lookupGroup(groupID, apiDescribe, false)
	if err != nil {
		return err, GroupSummary{}
	}
	if g == nil {
		return nil, GroupSummary{State: Dead.String()}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := GroupSummary{State: g.state.String(), ProtocolType: g.protocolType}
	stable := g.state == Stable
	if stable {
		s.Protocol = g.protocol
	}
	for _, m := range g.allMembers() {
		ms := MemberSummary{MemberID: m.id, InstanceID: m.instancePtr(), ClientID: m.clientID, ClientHost: m.clientHost, Metadata: []byte{}, Assignment: []byte{}}
		if stable {
			ms.Metadata, ms.Assignment = orEmpty(m.metadata(g.protocol)), orEmpty(m.assignment)
		}
		s.Members = append(s.Members, ms)
	}
	return nil, s
}

// GroupOverview is one group in ListGroups.
type GroupOverview struct {
	GroupID      string
	ProtocolType string
	State        string
}

// ListGroups is GroupCoordinator.handleListGroups: the loaded groups,
// filtered by state name (case-insensitive; empty: all), with
// COORDINATOR_LOAD_IN_PROGRESS while any partition is loading.
func (c *Coordinator) ListGroups(states []string) (*kerr.Error, []GroupOverview) {
	if !c.active.Load() {
		return errCoordinatorNotAvailable, nil
	}
	c.mu.Lock()
	var code *kerr.Error
	for _, op := range c.partitions {
		if op.loading {
			code = errLoadInProgress
		}
	}
	gs := make([]*groupMeta, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	c.mu.Unlock()
	var out []GroupOverview
	for _, g := range gs {
		g.mu.Lock()
		o := GroupOverview{GroupID: g.id, ProtocolType: g.protocolType, State: g.state.String()}
		g.mu.Unlock()
		if o.State == Dead.String() {
			continue
		}
		if len(states) > 0 && !slices.ContainsFunc(states, func(s string) bool { return strings.EqualFold(s, o.State) }) {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return code, out
}

// DeleteGroups is GroupCoordinator.handleDeleteGroups: Empty groups are
// deleted with their offsets; groups with members answer NON_EMPTY_GROUP;
// unknown ones GROUP_ID_NOT_FOUND. It returns one error per id (nil: deleted).
func (c *Coordinator) DeleteGroups(ids []string) []*kerr.Error {
	errs := make([]*kerr.Error, len(ids))
	for i, id := range ids {
		g, err := c.lookupGroup(id, apiDelete, false)
		switch {
		case err != nil:
			errs[i] = err
			continue
		case g == nil:
			errs[i] = kerr.GroupIDNotFound
			continue
		}
		g.mu.Lock()
		switch g.state {
		case Dead:
			errs[i] = kerr.GroupIDNotFound
			g.mu.Unlock()
			continue
		case Empty:
			g.transitionTo(Dead, c.clock.Now())
			c.stopTimersLocked(g)
		default:
			errs[i] = kerr.NonEmptyGroup
			g.mu.Unlock()
			continue
		}
		g.mu.Unlock()
		n := c.cleanupGroupMetadata(g, func(g *groupMeta) []TopicPartition {
			var removed []TopicPartition
			for tp := range g.offsets {
				removed = append(removed, tp)
			}
			g.offsets = map[TopicPartition]*offsetEntry{}
			return removed
		})
		c.log.WithFields(logrus.Fields{"group": id, "offsets": n}).Info("group deleted")
	}
	return errs
}
