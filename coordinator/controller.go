package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// Config is what the controller needs from the broker configuration.
type Config struct {
	BrokerID                    int32         // broker.id
	InterBrokerListener         string        // inter.broker.listener.name: the endpoint the controller dials
	DefaultNumPartitions        int32         // num.partitions
	DefaultReplicationFactor    int16         // default.replication.factor
	DeleteTopicEnable           bool          // delete.topic.enable
	UncleanLeaderElectionEnable bool          // unclean.leader.election.enable (topic configs override it)
	SocketTimeout               time.Duration // controller.socket.timeout.ms
	// LocalHost is the host of this broker's inter-broker listener when it
	// binds one address: the controller's connections to brokers leave from
	// it (see kconn.Options.LocalHost). Empty binds nothing.
	LocalHost string
	// Auto leader rebalance (auto_rebalance.go).
	AutoLeaderRebalanceEnable          bool          // auto.leader.rebalance.enable
	LeaderImbalancePerBrokerPercentage int           // leader.imbalance.per.broker.percentage
	LeaderImbalanceCheckInterval       time.Duration // leader.imbalance.check.interval.seconds
}

// Controller is KafkaController for one broker: it competes for /controller
// and, while active, runs the cluster.
//
// All fields below "owned by the event loop" are read and written only by
// the goroutine running Run, one event at a time, so they need no mutex
// (Kafka's ControllerEventManager has the same single-thread rule).
type Controller struct {
	cfg    Config
	zk     *controllerZK
	log    *logrus.Entry
	events eventQueue

	active atomic.Bool
	epoch  atomic.Int32

	startOnce sync.Once
	// stopping is closed when Run's context is done, so that a ZooKeeper
	// retry blocking the event loop gives up; runDone when Run returned.
	stopping chan struct{}
	runDone  chan struct{}

	// owned by the event loop
	epochZkVersion     int32
	electedSession     int64 // the ZooKeeper session the controller was elected in
	activeControllerID int32
	controllerWatch    *zkpaths.Watch
	watches            []*zkpaths.Watch
	cc                 *controllerContext
	channels           *channelManager
	batch              *requestBatch
	retryPending       map[string]bool
	shuttingDown       map[int32]bool // shuttingDownBrokerIds (controlled_shutdown.go)
	reassign           *reassignState // partitions being reassigned (reassign.go)
}

// New returns a controller for broker cfg.BrokerID; Run starts it.
func New(cfg Config, zk *zkpaths.Client, log *logrus.Entry) *Controller {
	c := &Controller{cfg: cfg, log: log, activeControllerID: -1, retryPending: map[string]bool{},
		stopping: make(chan struct{}), runDone: make(chan struct{})}
	c.zk = &controllerZK{Client: zk, ctl: c}
	c.events.init()
	return c
}

// IsActive reports whether this broker is the active controller.
func (c *Controller) IsActive() bool { return c.active.Load() }

// Epoch is the controller epoch this broker won with, or the last one it
// held (0 if it never was the controller).
func (c *Controller) Epoch() int32 { return c.epoch.Load() }

// Run takes part in the election and, when elected, acts as the controller
// until ctx is done; then it resigns (deleting /controller if it holds it,
// so another broker takes over at once) and returns ctx.Err().
func (c *Controller) Run(ctx context.Context) error {
	c.startOnce.Do(func() {
		c.zk.OnSession(func(ev zkpaths.SessionEvent) {
			switch ev {
			case zkpaths.SessionExpired:
				c.expire()
			case zkpaths.SessionNew:
				c.events.put(reelectEvent{})
			}
		})
	})
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() {
		select {
		case <-ctx.Done():
			close(c.stopping)
		case <-stopWatch:
		}
	}()
	defer close(c.runDone)
	c.events.put(startupEvent{})
	defer c.shutdown()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.events.signal:
		}
		for {
			ev, ok := c.events.pop()
			if !ok {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.process(ev)
		}
	}
}

// expireTimeout bounds how long a session expiry waits for the event loop
// to resign before the broker re-registers.
const expireTimeout = 30 * time.Second

// expire runs on the ZooKeeper session dispatcher when the session expired:
// it queues the resignation ahead of everything else and waits until the
// event loop has done it (Kafka's clearAndPut(Expire) +
// waitUntilProcessingStarted), so the broker resigns controllership before
// it re-registers with a new broker epoch on the new session (the
// dispatcher delivers SessionNew only after this returns). A retry blocked
// on the lost session notices the new session id and gives up, so the wait
// is short.
func (c *Controller) expire() {
	done := make(chan struct{})
	c.events.putFront(expireEvent{done: done})
	select {
	case <-done:
	case <-c.runDone:
	case <-time.After(expireTimeout):
		c.log.Warn("controller did not resign within the expiry timeout")
	}
}

func (c *Controller) shutdown() {
	if c.controllerWatch != nil {
		c.controllerWatch.Stop()
		c.controllerWatch = nil
	}
	if c.active.Load() {
		ver := c.epochZkVersion
		c.onControllerResignation()
		if _, err := c.zk.EpochFenced(ver, zkpaths.DeleteOp(zkpaths.ControllerPath, zkpaths.AnyVersion)); err != nil && !errors.Is(err, zk.ErrNoNode) {
			c.log.WithError(err).Warn("delete /controller on shutdown")
		}
	}
}

func (c *Controller) process(ev event) {
	if r, ok := ev.(retryEvent); ok {
		delete(c.retryPending, r.key)
		ev = r.ev
	}
	if c.active.Load() && c.zk.Client.SessionID() != c.electedSession {
		// The session we were elected in is gone (we may have been paused
		// past the session timeout): nothing of our context may be written
		// or sent. The /controller znode went with the session.
		c.log.WithFields(logrus.Fields{"controller_epoch": c.epoch.Load(), "elected_session": fmt.Sprintf("0x%x", c.electedSession)}).
			Warn("zookeeper session of this controller is gone; resigning")
		c.activeControllerID = -1
		c.onControllerResignation()
		c.retryLater(reelectEvent{}, time.Second)
	}
	var err error
	switch e := ev.(type) {
	case startupEvent:
		if err := c.watchController(); err != nil {
			c.log.WithError(err).Warn("watch /controller; retrying")
			c.retryLater(startupEvent{}, time.Second)
			return
		}
		err = c.elect()
	case controllerChangeEvent:
		err = c.maybeResign()
	case reelectEvent:
		if err = c.maybeResign(); err == nil {
			err = c.elect()
		}
	case expireEvent:
		c.activeControllerID = -1
		if c.active.Load() {
			c.log.Info("zookeeper session expired; resigning as controller")
			c.onControllerResignation()
		}
		if e.done != nil {
			close(e.done)
		}
	case alterPartitionEvent:
		// Answered even when not active (NOT_CONTROLLER).
		var resp *kmsg.AlterPartitionResponse
		resp, err = c.processAlterPartition(e.req)
		e.reply <- resp
	case controlledShutdownEvent:
		err = c.processControlledShutdown(e) // answered even when not active
	case electLeadersEvent:
		err = c.processElectLeaders(e) // answered even when not active
	case alterReassignmentsEvent:
		err = c.processAlterReassignments(e) // answered even when not active
	case listReassignmentsEvent:
		c.processListReassignments(e) // answered even when not active
	default:
		if !c.active.Load() {
			return // Kafka: every handler returns early on a non-controller
		}
		err = c.processActive(ev)
	}
	if err != nil {
		c.handleError(ev, err)
	}
}

func (c *Controller) processActive(ev event) error {
	switch e := ev.(type) {
	case brokerChangeEvent:
		return c.processBrokerChange()
	case brokerModificationEvent:
		return c.processBrokerModification(e.id)
	case topicChangeEvent:
		return c.processTopicChange()
	case partitionModificationsEvent:
		return c.processPartitionModifications(e.topic)
	case topicDeletionEvent:
		return c.processTopicDeletion()
	case stopReplicaResponseEvent:
		return c.processStopReplicaResponse(e)
	case zkReassignmentEvent:
		return c.processZkReassignmentEvent()
	case preferredReplicaElectionEvent:
		return c.processPreferredReplicaElection()
	case autoRebalanceEvent:
		return c.processAutoRebalance(e)
	}
	return nil
}

// handleError: a failed epoch check means another controller exists
// (resign); anything else while active moves the controller
// (triggerControllerMove) so the cluster is not left half-initialised.
func (c *Controller) handleError(ev event, err error) {
	l := c.log.WithError(err).WithField("event", fmt.Sprintf("%T", ev))
	if isSessionLost(err) {
		// Not a reason to move the controller: /controller went with the
		// session. Resign; the new session's re-election follows.
		l.Warn("zookeeper session lost; resigning")
		c.activeControllerID = -1
		if c.active.Load() {
			c.onControllerResignation()
		}
		c.retryLater(reelectEvent{}, time.Second)
		return
	}
	if errors.Is(err, zkpaths.ErrControllerMoved) {
		l.Warn("controller moved; resigning")
		if c.active.Load() {
			c.onControllerResignation()
		}
		c.retryLater(controllerChangeEvent{}, 0)
		return
	}
	if !c.active.Load() {
		l.Warn("controller election failed; retrying")
		c.retryLater(reelectEvent{}, time.Second)
		return
	}
	// The context may be half-updated: resign and let the next failover
	// (probably this broker again, after a pause) rebuild it from ZooKeeper.
	l.Error("controller failure; moving the controller")
	c.triggerControllerMove()
}

// retryLater enqueues ev after d (one pending retry per event type).
func (c *Controller) retryLater(ev event, d time.Duration) {
	key := fmt.Sprintf("%T%v", ev, ev)
	if c.retryPending[key] {
		return
	}
	c.retryPending[key] = true
	time.AfterFunc(d, func() { c.events.put(retryEvent{key: key, ev: ev}) })
}

// triggerControllerMove resigns and deletes /controller (fenced) so that
// some broker, maybe this one, is elected again from a clean state.
func (c *Controller) triggerControllerMove() {
	ver := c.epochZkVersion
	c.onControllerResignation()
	if _, err := c.zk.EpochFenced(ver, zkpaths.DeleteOp(zkpaths.ControllerPath, zkpaths.AnyVersion)); err != nil {
		c.log.WithError(err).Warn("delete /controller")
	}
	c.retryLater(reelectEvent{}, time.Second)
}

// watchController registers the existence watch on /controller that lives
// as long as Run: creation and data changes → ControllerChange, deletion
// (or a watch restored after session expiry) → Reelect.
func (c *Controller) watchController() error {
	if c.controllerWatch != nil {
		return nil
	}
	w, err := c.zk.WatchExists(zkpaths.ControllerPath, func(ev zkpaths.WatchEvent) {
		if ev.Type == zk.EventNodeDeleted || ev.Restored {
			c.events.put(reelectEvent{})
		} else {
			c.events.put(controllerChangeEvent{})
		}
	})
	if err != nil {
		return err
	}
	c.controllerWatch = w
	return nil
}

// maybeResign re-reads /controller and resigns if it no longer names us.
func (c *Controller) maybeResign() error {
	id, ok, err := c.zk.GetControllerID()
	if err != nil {
		return err
	}
	if !ok {
		id = -1
	}
	c.activeControllerID = id
	if c.active.Load() && id != c.cfg.BrokerID {
		c.log.WithField("controller_id", id).Info("controller moved to another broker; resigning")
		c.onControllerResignation()
	}
	return nil
}

// elect is KafkaController.elect (reference §2.1).
func (c *Controller) elect() error {
	if c.active.Load() {
		return nil
	}
	data, stat, err := c.zk.Get(zkpaths.ControllerPath)
	switch {
	case err == nil:
		ci, derr := zkpaths.DecodeControllerInfo(data)
		if derr != nil {
			return derr
		}
		if ci.BrokerID == c.cfg.BrokerID && stat.EphemeralOwner == c.zk.SessionID() {
			// Our own node from a failover that did not complete: give the
			// election back.
			c.log.Info("deleting stale /controller of this session")
			if err := c.zk.Delete(zkpaths.ControllerPath, stat.Version); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
		} else {
			c.activeControllerID = ci.BrokerID
			c.log.WithField("controller_id", ci.BrokerID).Debug("a controller exists; not electing")
			return nil
		}
	case !errors.Is(err, zk.ErrNoNode):
		return err
	}

	epoch, epochZkVersion, err := c.registerControllerAndIncrementControllerEpoch()
	if errors.Is(err, zkpaths.ErrControllerMoved) {
		c.log.WithField("controller_id", c.activeControllerID).Info("another broker won the controller election")
		return c.maybeResign()
	}
	if err != nil {
		return err
	}
	c.activeControllerID = c.cfg.BrokerID
	c.epochZkVersion = epochZkVersion
	c.electedSession = c.zk.Client.SessionID()
	c.epoch.Store(epoch)
	c.active.Store(true)
	c.log.WithFields(logrus.Fields{"controller_epoch": epoch, "epoch_zk_version": epochZkVersion}).Info("elected as controller")
	if err := c.onControllerFailover(); err != nil {
		return err
	}
	if err := c.initializePartitionReassignments(); err != nil {
		return err
	}
	return c.onFailoverElections()
}

// registerControllerAndIncrementControllerEpoch is the multi-op
// create(/controller, ephemeral) + setData(/controller_epoch, epoch+1,
// expected version), with the lost-reply check (checkControllerAndEpoch).
func (c *Controller) registerControllerAndIncrementControllerEpoch() (int32, int32, error) {
	epoch, ver, ok, err := c.zk.GetControllerEpoch()
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		_, err := c.zk.Create(zkpaths.ControllerEpochPath, zkpaths.EncodeControllerEpoch(0), zkpaths.Persistent)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return 0, 0, err
		}
		if epoch, ver, ok, err = c.zk.GetControllerEpoch(); err != nil || !ok {
			return 0, 0, fmt.Errorf("read /controller_epoch after create: %v", err)
		}
	}
	newEpoch := epoch + 1
	res, err := c.zk.Multi(
		zkpaths.CreateOp(zkpaths.ControllerPath, zkpaths.ControllerInfo{BrokerID: c.cfg.BrokerID}.Encode(), zkpaths.Ephemeral),
		zkpaths.SetDataOp(zkpaths.ControllerEpochPath, zkpaths.EncodeControllerEpoch(newEpoch), ver))
	if err == nil {
		return newEpoch, res[1].Stat.Version, nil
	}
	// NODEEXISTS, BADVERSION or a lost reply: did our multi-op commit?
	id, ok, rerr := c.zk.GetControllerID()
	if rerr != nil {
		return 0, 0, fmt.Errorf("%w (then: %v)", err, rerr)
	}
	if ok {
		c.activeControllerID = id
	}
	if ok && id == c.cfg.BrokerID {
		e, v, eok, eerr := c.zk.GetControllerEpoch()
		if eerr == nil && eok && e == newEpoch {
			return newEpoch, v, nil
		}
	}
	if errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrBadVersion) {
		return 0, 0, fmt.Errorf("%w: %v", zkpaths.ErrControllerMoved, err)
	}
	return 0, 0, err
}

// onControllerResignation unregisters the watches, closes the channels and
// clears the context.
func (c *Controller) onControllerResignation() {
	wasActive := c.active.Swap(false)
	for _, w := range c.watches {
		w.Stop()
	}
	c.watches = nil
	if c.cc != nil {
		for _, b := range c.cc.brokers {
			if b.watch != nil {
				b.watch.Stop()
			}
		}
		for _, t := range c.cc.topics {
			if t.watch != nil {
				t.watch.Stop()
			}
		}
	}
	if c.channels != nil {
		c.channels.shutdown()
	}
	c.channels = nil
	c.cc = nil
	c.batch = nil
	if wasActive {
		c.log.WithField("controller_epoch", c.epoch.Load()).Info("resigned as controller")
	}
}

// eventQueue is an unbounded FIFO: producers (watch callbacks, session
// handlers, sender goroutines) never block.
type eventQueue struct {
	mu     sync.Mutex
	items  []event
	signal chan struct{}
}

func (q *eventQueue) init() { q.signal = make(chan struct{}, 1) }

func (q *eventQueue) put(ev event) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// putFront queues ev ahead of every queued event.
func (q *eventQueue) putFront(ev event) {
	q.mu.Lock()
	q.items = append([]event{ev}, q.items...)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) pop() (event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	ev := q.items[0]
	q.items = q.items[1:]
	return ev, true
}
