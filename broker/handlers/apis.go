package handlers

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// handlerFunc serves one API. It returns nil, nil to send nothing (Produce
// acks=0) and an error only when the connection must be closed.
type handlerFunc func(h *Handlers, ctx context.Context, r *server.Request) (kmsg.Response, error)

// api is one row of the table: the versions served and the handler.
type api struct {
	key      int16
	min, max int16
	handle   handlerFunc
}

const apiKeyApiVersions = 18

// apiTable is the one table of served APIs. ApiVersions advertises exactly
// these ranges. The ranges cover what sarama (Config.Version V0_11_0_0 to
// newest), franz-go and librdkafka send; see each file's contract.
func apiTable() []api {
	return []api{
		{key: 0, min: 3, max: 11, handle: (*Handlers).handleProduce},
		{key: 1, min: 4, max: 12, handle: (*Handlers).handleFetch},
		{key: 2, min: 1, max: 6, handle: (*Handlers).handleListOffsets},
		{key: 3, min: 0, max: 12, handle: (*Handlers).handleMetadata},
		{key: 4, min: 0, max: 7, handle: (*Handlers).handleLeaderAndIsr},
		{key: 5, min: 0, max: 4, handle: (*Handlers).handleStopReplica},
		{key: 6, min: 0, max: 8, handle: (*Handlers).handleUpdateMetadata},
		{key: 7, min: 1, max: 3, handle: (*Handlers).handleControlledShutdown},
		{key: 8, min: 1, max: 8, handle: (*Handlers).handleOffsetCommit},
		{key: 9, min: 1, max: 8, handle: (*Handlers).handleOffsetFetch},
		{key: 10, min: 0, max: 4, handle: (*Handlers).handleFindCoordinator},
		{key: 11, min: 0, max: 9, handle: (*Handlers).handleJoinGroup},
		{key: 12, min: 0, max: 4, handle: (*Handlers).handleHeartbeat},
		{key: 13, min: 0, max: 5, handle: (*Handlers).handleLeaveGroup},
		{key: 14, min: 0, max: 5, handle: (*Handlers).handleSyncGroup},
		{key: 15, min: 0, max: 5, handle: (*Handlers).handleDescribeGroups},
		{key: 16, min: 0, max: 5, handle: (*Handlers).handleListGroups},
		{key: 18, min: 0, max: 3, handle: (*Handlers).handleApiVersions},
		{key: 19, min: 0, max: 7, handle: (*Handlers).handleCreateTopics},
		{key: 20, min: 0, max: 6, handle: (*Handlers).handleDeleteTopics},
		{key: 21, min: 0, max: 2, handle: (*Handlers).handleDeleteRecords},
		{key: 22, min: 0, max: 4, handle: (*Handlers).handleInitProducerID},
		{key: 23, min: 0, max: 4, handle: (*Handlers).handleOffsetForLeaderEpoch},
		{key: 32, min: 0, max: 4, handle: (*Handlers).handleDescribeConfigs},
		{key: 33, min: 0, max: 2, handle: (*Handlers).handleAlterConfigs},
		{key: 35, min: 0, max: 4, handle: (*Handlers).handleDescribeLogDirs},
		{key: 37, min: 0, max: 3, handle: (*Handlers).handleCreatePartitions},
		{key: 42, min: 0, max: 2, handle: (*Handlers).handleDeleteGroups},
		{key: 43, min: 0, max: 2, handle: (*Handlers).handleElectLeaders},
		{key: 44, min: 0, max: 1, handle: (*Handlers).handleIncrementalAlterConfigs},
		{key: 45, min: 0, max: 0, handle: (*Handlers).handleAlterPartitionReassignments},
		{key: 46, min: 0, max: 0, handle: (*Handlers).handleListPartitionReassignments},
		{key: 47, min: 0, max: 0, handle: (*Handlers).handleOffsetDelete},
		{key: 60, min: 0, max: 1, handle: (*Handlers).handleDescribeCluster},
		{key: 56, min: 0, max: 2, handle: (*Handlers).handleAlterPartition},
		{key: 61, min: 0, max: 0, handle: (*Handlers).handleDescribeProducers},
	}
}

// apiIndex is the table sorted by key and indexed. It panics on a double
// registration (a programmer error, caught by the tests).
type apiIndex struct {
	sorted []api
	byKey  map[int16]*api
}

func newAPIIndex(table []api) *apiIndex {
	ix := &apiIndex{sorted: table, byKey: make(map[int16]*api, len(table))}
	sort.Slice(ix.sorted, func(i, j int) bool { return ix.sorted[i].key < ix.sorted[j].key })
	for i := range ix.sorted {
		a := &ix.sorted[i]
		if _, dup := ix.byKey[a.key]; dup {
			panic(fmt.Sprintf("handlers: api key %d registered twice", a.key))
		}
		ix.byKey[a.key] = a
	}
	return ix
}

func (ix *apiIndex) lookup(key int16) (*api, bool) {
	a, ok := ix.byKey[key]
	return a, ok
}
