package group

import (
	"bytes"
	"time"
)

// Protocol is one of a member's assignment protocols (for consumers: an
// assignor such as "range" or "cooperative-sticky") with its metadata, in
// the member's order of preference.
type Protocol struct {
	Name     string
	Metadata []byte
}

// member is Kafka's MemberMetadata. It is guarded by its group's lock.
type member struct {
	id               string
	instanceID       string // group.instance.id; "" for a dynamic member
	clientID         string
	clientHost       string
	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	protocolType     string
	protocols        []Protocol
	assignment       []byte

	// joinCh is the waiting JoinGroup (awaitingJoinCallback); syncCh the
	// waiting SyncGroup (awaitingSyncCallback). Both have a buffer of one.
	joinCh chan JoinResult
	syncCh chan SyncResult

	// isNew: joined for the first time and not yet through a completed
	// join; it is expired by the new-member join timeout, not the session.
	isNew              bool
	heartbeatSatisfied bool
	hbTimer            Timer
	hbSeq              uint64 // identifies the current heartbeat timer
}

func (m *member) isStatic() bool       { return m.instanceID != "" }
func (m *member) isAwaitingJoin() bool { return m.joinCh != nil }
func (m *member) isAwaitingSync() bool { return m.syncCh != nil }
func (m *member) instancePtr() *string { return strPtr(m.instanceID) }

// hasSatisfiedHeartbeat is MemberMetadata.hasSatisfiedHeartbeat: members
// waiting in a rebalance need no heartbeat, except new ones.
func (m *member) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return m.heartbeatSatisfied
	}
	if m.isAwaitingJoin() || m.isAwaitingSync() {
		return true
	}
	return m.heartbeatSatisfied
}

// metadata returns the member's metadata for protocol.
func (m *member) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equals the member's (same names and
// metadata in the same order).
func (m *member) matches(protocols []Protocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// vote is the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
