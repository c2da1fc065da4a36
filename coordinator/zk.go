package coordinator

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gregor-broker/gregor/zkpaths"
)

// errSessionLost means the ZooKeeper session a controller operation depended
// on is gone (expired, or replaced by a new one): the controller resigns and
// competes again on the new session instead of retrying.
var errSessionLost = errors.New("coordinator: zookeeper session lost")

// zkRetryInterval is the pause between attempts while ZooKeeper is
// unreachable.
const zkRetryInterval = 200 * time.Millisecond

// controllerZK is the controller's view of ZooKeeper. Every operation is
// retried across connection loss for as long as the session it depends on
// lives, the way Kafka's KafkaZkClient.retryRequestsUntilConnected blocks
// the controller thread until ZooKeeper is reachable again: a disconnect
// (a ZooKeeper server restart, a lost quorum) is ridden out, not turned into
// a resignation. Only the loss of the session ends the retries, with
// errSessionLost (or zk.ErrSessionExpired from the client).
//
// The session an operation depends on is the one the controller was elected
// in while it is active, else the one current when the operation starts. So
// a controller whose session expired while it was paused never writes
// through the new session with its old context: its first operation fails.
//
// A retried write may have been applied by the attempt that lost its reply;
// every controller write is conditional (a version, a create, the epoch
// fence), so the retry fails with BADVERSION or NODEEXISTS and the callers
// re-read (updateState, registerControllerAndIncrementControllerEpoch,
// createFenced).
//
// Only the event loop uses it; it embeds the client for everything it does
// not need to wrap (SessionID, OnSession).
type controllerZK struct {
	*zkpaths.Client
	ctl *Controller
}

// retriableZK reports connection-level failures after which the session
// may still be alive.
func retriableZK(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionMoved)
}

// isSessionLost reports errors that mean the controller's session is gone.
func isSessionLost(err error) bool {
	return errors.Is(err, errSessionLost) || errors.Is(err, zk.ErrSessionExpired)
}

// reference is the session an operation starting now depends on.
func (z *controllerZK) reference() int64 {
	if z.ctl.active.Load() {
		return z.ctl.electedSession
	}
	return z.Client.SessionID()
}

func (z *controllerZK) retry(what string, op func() error) error {
	ref := z.reference()
	warned := false
	started := time.Now()
	for {
		if sid := z.Client.SessionID(); sid != ref {
			return fmt.Errorf("%w: %s: session 0x%x is now 0x%x", errSessionLost, what, ref, sid)
		}
		err := op()
		if err == nil || !retriableZK(err) {
			if warned && err == nil {
				z.ctl.log.WithField("after", time.Since(started).Round(time.Millisecond).String()).Info("zookeeper reachable again")
			}
			return err
		}
		if !warned {
			z.ctl.log.WithError(err).WithField("op", what).Warn("zookeeper unreachable; retrying while the session lives")
			warned = true
		}
		select {
		case <-z.ctl.stopping:
			return err
		case <-time.After(zkRetryInterval):
		}
	}
}

// Get is zkpaths.Client.Get, retried.
func (z *controllerZK) Get(p string) (data []byte, stat *zk.Stat, err error) {
	err = z.retry("get "+p, func() (err error) { data, stat, err = z.Client.Get(p); return err })
	return data, stat, err
}

// Exists is zkpaths.Client.Exists, retried.
func (z *controllerZK) Exists(p string) (ok bool, stat *zk.Stat, err error) {
	err = z.retry("exists "+p, func() (err error) { ok, stat, err = z.Client.Exists(p); return err })
	return ok, stat, err
}

// Children is zkpaths.Client.Children, retried.
func (z *controllerZK) Children(p string) (children []string, stat *zk.Stat, err error) {
	err = z.retry("children "+p, func() (err error) { children, stat, err = z.Client.Children(p); return err })
	return children, stat, err
}

// Create is zkpaths.Client.Create, retried (a repeat sees NODEEXISTS).
func (z *controllerZK) Create(p string, data []byte, mode int32) (created string, err error) {
	err = z.retry("create "+p, func() (err error) { created, err = z.Client.Create(p, data, mode); return err })
	return created, err
}

// Delete is zkpaths.Client.Delete, retried (a repeat sees NONODE).
func (z *controllerZK) Delete(p string, version int32) error {
	return z.retry("delete "+p, func() error { return z.Client.Delete(p, version) })
}

// Multi is zkpaths.Client.Multi, retried.
func (z *controllerZK) Multi(ops ...zkpaths.Op) (res []zk.MultiResponse, err error) {
	err = z.retry("multi", func() (err error) { res, err = z.Client.Multi(ops...); return err })
	return res, err
}

// EpochFenced is zkpaths.Client.EpochFenced, retried.
func (z *controllerZK) EpochFenced(epochZkVersion int32, ops ...zkpaths.Op) (res []zk.MultiResponse, err error) {
	what := "fenced multi"
	if len(ops) > 0 {
		what += " " + ops[0].Path()
	}
	err = z.retry(what, func() (err error) { res, err = z.Client.EpochFenced(epochZkVersion, ops...); return err })
	return res, err
}

// DeleteRecursive is zkpaths.Client.DeleteRecursive, retried as a whole
// (it ignores nodes already gone).
func (z *controllerZK) DeleteRecursive(p string, epochZkVersion int32) error {
	return z.retry("delete recursive "+p, func() error { return z.Client.DeleteRecursive(p, epochZkVersion) })
}

// GetAllBrokers is zkpaths.Client.GetAllBrokers, retried.
func (z *controllerZK) GetAllBrokers() (out []zkpaths.RegisteredBroker, err error) {
	err = z.retry("get brokers", func() (err error) { out, err = z.Client.GetAllBrokers(); return err })
	return out, err
}

// GetTopicAssignment is zkpaths.Client.GetTopicAssignment, retried.
func (z *controllerZK) GetTopicAssignment(topic string) (ta zkpaths.TopicAssignment, stat *zk.Stat, err error) {
	err = z.retry("get topic "+topic, func() (err error) { ta, stat, err = z.Client.GetTopicAssignment(topic); return err })
	return ta, stat, err
}

// GetPartitionState is zkpaths.Client.GetPartitionState, retried.
func (z *controllerZK) GetPartitionState(topic string, partition int32) (st zkpaths.PartitionState, stat *zk.Stat, err error) {
	err = z.retry(fmt.Sprintf("get state %s-%d", topic, partition), func() (err error) {
		st, stat, err = z.Client.GetPartitionState(topic, partition)
		return err
	})
	return st, stat, err
}

// GetControllerID is zkpaths.Client.GetControllerID, retried.
func (z *controllerZK) GetControllerID() (id int32, ok bool, err error) {
	err = z.retry("get controller", func() (err error) { id, ok, err = z.Client.GetControllerID(); return err })
	return id, ok, err
}

// GetControllerEpoch is zkpaths.Client.GetControllerEpoch, retried.
func (z *controllerZK) GetControllerEpoch() (epoch, zkVersion int32, ok bool, err error) {
	err = z.retry("get controller epoch", func() (err error) {
		epoch, zkVersion, ok, err = z.Client.GetControllerEpoch()
		return err
	})
	return epoch, zkVersion, ok, err
}

// WatchChildren is zkpaths.Client.WatchChildren, its arming retried.
func (z *controllerZK) WatchChildren(p string, fn func(zkpaths.WatchEvent)) (w *zkpaths.Watch, err error) {
	err = z.retry("watch children "+p, func() (err error) { w, err = z.Client.WatchChildren(p, fn); return err })
	return w, err
}

// WatchData is zkpaths.Client.WatchData, its arming retried.
func (z *controllerZK) WatchData(p string, fn func(zkpaths.WatchEvent)) (w *zkpaths.Watch, err error) {
	err = z.retry("watch data "+p, func() (err error) { w, err = z.Client.WatchData(p, fn); return err })
	return w, err
}

// WatchExists is zkpaths.Client.WatchExists, its arming retried.
func (z *controllerZK) WatchExists(p string, fn func(zkpaths.WatchEvent)) (w *zkpaths.Watch, err error) {
	err = z.retry("watch exists "+p, func() (err error) { w, err = z.Client.WatchExists(p, fn); return err })
	return w, err
}
