package coordinator

import (
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// Batched partition state writes, Kafka's KafkaZkClient.updateLeaderAndIsr:
// the controller decides every partition from its cached state (the
// context holds each state znode's dataVersion), sends one epoch-fenced
// conditional write per partition, all of them at once on the one
// ZooKeeper connection (go-zookeeper pipelines requests from concurrent
// goroutines, and ZooKeeper group-commits them), and re-reads and decides
// again only the partitions whose write failed with BADVERSION. Moving the
// leaders of a thousand partitions thus takes a few pipelined round trips
// instead of two sequential round trips per partition.
//
// Fencing is unchanged: every write is a multi-op that first checks
// /controller_epoch's version, so a controller that lost its epoch (a
// zombie) has every write of the batch rejected and gets
// zkpaths.ErrControllerMoved (fault-matrix R11).

// maxStateRequestsInFlight bounds the requests of a batch waiting for
// ZooKeeper at once: enough to keep the connection busy, far below
// ZooKeeper's globalOutstandingLimit (1000).
const maxStateRequestsInFlight = 128

// stateUpdate is one partition of a batch. decide returns the state to
// write given the current one, or ok=false to write nothing; it runs on the
// event loop, first on the cached state and again on the re-read state
// after a BADVERSION, so it must not keep results of an earlier call.
type stateUpdate struct {
	p      tp
	decide func(cur zkpaths.PartitionState) (next zkpaths.PartitionState, ok bool)
}

// updateStates applies a batch of state changes and reports, per update,
// whether it wrote. Afterwards the context holds, for every partition of
// the batch, the state last written or read. A partition whose znode was
// last written by a newer controller is left alone (the write would fail
// the fence anyway). The error is the one to resign for: the fence failed
// (zkpaths.ErrControllerMoved), the session is gone, or another ZooKeeper
// error; the partitions written before it are reported and cached all the
// same.
func (c *Controller) updateStates(updates []stateUpdate) ([]bool, error) {
	wrote := make([]bool, len(updates))
	epoch := c.epoch.Load()
	// proposed and expected remember the last attempt per update, to
	// recognise our own write whose answer was lost (a retry after a
	// connection loss then sees BADVERSION).
	proposed := make([]*zkpaths.PartitionState, len(updates))
	expected := make([]int32, len(updates))
	todo := make([]int, len(updates))
	for i := range updates {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == maxStateRetries {
			u := updates[todo[0]]
			return wrote, fmt.Errorf("update state of %s-%d (and %d more): partition epoch kept changing", u.p.topic, u.p.partition, len(todo)-1)
		}
		// 1. Re-read what the context cannot answer: unknown states, and
		// every state after a BADVERSION.
		var reread []int
		for _, i := range todo {
			if attempt > 0 || c.cc.partition(updates[i].p).leadership == nil {
				reread = append(reread, i)
			}
		}
		reads := make([]stateRead, len(reread))
		pipelined(len(reread), func(k int) {
			p := updates[reread[k]].p
			reads[k].st, reads[k].stat, reads[k].err = c.zk.GetPartitionState(p.topic, p.partition)
		})
		for k, i := range reread {
			if err := reads[k].err; err != nil {
				return wrote, err
			}
			pi := c.cc.partition(updates[i].p)
			st := reads[k].st
			pi.leadership, pi.zkVersion = &st, reads[k].stat.Version
			if proposed[i] != nil && pi.zkVersion == expected[i]+1 && partitionStateEqual(st, *proposed[i]) {
				wrote[i] = true
			}
		}
		// 2. Decide.
		var writes []stateWrite
		for _, i := range todo {
			if wrote[i] {
				continue
			}
			u := updates[i]
			pi := c.cc.partition(u.p)
			cur := *pi.leadership
			if cur.ControllerEpoch > epoch {
				c.log.WithFields(logrus.Fields{"topic": u.p.topic, "partition": u.p.partition, "controller_epoch": cur.ControllerEpoch}).
					Warn("partition state written by a newer controller; aborting state change")
				continue
			}
			next, ok := u.decide(cur)
			if !ok {
				continue
			}
			next.ControllerEpoch = epoch
			proposed[i], expected[i] = &next, pi.zkVersion
			writes = append(writes, stateWrite{i: i, next: next, version: pi.zkVersion})
		}
		// 3. Write, all at once.
		pipelined(len(writes), func(k int) {
			w := &writes[k]
			p := updates[w.i].p
			res, err := c.zk.EpochFenced(c.epochZkVersion, zkpaths.SetDataOp(zkpaths.PartitionStatePath(p.topic, p.partition), w.next.Encode(), w.version))
			if err == nil {
				w.newVersion = res[0].Stat.Version
			}
			w.err = err
		})
		todo = todo[:0]
		var failed error
		for _, w := range writes {
			switch {
			case w.err == nil:
				pi := c.cc.partition(updates[w.i].p)
				next := w.next
				pi.leadership, pi.zkVersion = &next, w.newVersion
				wrote[w.i] = true
			case errors.Is(w.err, zk.ErrBadVersion):
				todo = append(todo, w.i) // changed meanwhile: re-read, decide again
			default:
				failed = worseZKError(failed, w.err)
			}
		}
		if failed != nil {
			return wrote, failed
		}
	}
	return wrote, nil
}

// stateRead is one pipelined read of a partition state znode.
type stateRead struct {
	st   zkpaths.PartitionState
	stat *zk.Stat
	err  error
}

// stateWrite is one pipelined conditional write of a partition state znode.
type stateWrite struct {
	i          int // index in the batch
	next       zkpaths.PartitionState
	version    int32 // expected dataVersion
	newVersion int32 // after a successful write
	err        error
}

// worseZKError keeps, of two errors of a batch, the one that says the
// controller lost its epoch or its session (handleError resigns for those
// without moving the controller), else the first.
func worseZKError(have, err error) error {
	if have == nil {
		return err
	}
	if !lostControllership(have) && lostControllership(err) {
		return err
	}
	return have
}

func lostControllership(err error) bool {
	return errors.Is(err, zkpaths.ErrControllerMoved) || isSessionLost(err)
}

// pipelined runs fn(0) … fn(n-1) with at most maxStateRequestsInFlight
// running at once and returns when all are done. fn does one ZooKeeper
// request: the calls are pipelined on the client's connection.
func pipelined(n int, fn func(k int)) {
	if n == 1 {
		fn(0)
		return
	}
	sem := make(chan struct{}, maxStateRequestsInFlight)
	var wg sync.WaitGroup
	for k := 0; k < n; k++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(k)
		}()
	}
	wg.Wait()
}

// readPartitionStates reads the state znodes of a topic's partitions into
// the context, pipelined (a controller failover reads thousands); a missing
// znode leaves its partition without leadership.
func (c *Controller) readPartitionStates(topic string, parts map[int32]*partitionInfo) error {
	ids := make([]int32, 0, len(parts))
	for p := range parts {
		ids = append(ids, p)
	}
	reads := make([]stateRead, len(ids))
	pipelined(len(ids), func(k int) {
		reads[k].st, reads[k].stat, reads[k].err = c.zk.GetPartitionState(topic, ids[k])
	})
	for k, p := range ids {
		switch r := reads[k]; {
		case r.err == nil:
			st := r.st
			parts[p].leadership, parts[p].zkVersion = &st, r.stat.Version
		case !errors.Is(r.err, zk.ErrNoNode):
			return r.err
		}
	}
	return nil
}

// updateState is updateStates for one partition.
func (c *Controller) updateState(p tp, decide func(cur zkpaths.PartitionState) (zkpaths.PartitionState, bool)) (bool, error) {
	wrote, err := c.updateStates([]stateUpdate{{p: p, decide: decide}})
	return wrote[0], err
}
