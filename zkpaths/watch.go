package zkpaths

import (
	"errors"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// WatchEvent is one firing of a Watch.
type WatchEvent struct {
	Path string       // relative to the chroot
	Type zk.EventType // EventNodeCreated, EventNodeDeleted, EventNodeDataChanged, EventNodeChildrenChanged
	// Restored is true when the watch was lost (session expiry) or could not
	// be re-armed for a while, and has now been re-armed: changes may have
	// been missed, so re-read everything. Type is zk.EventNotWatching then.
	Restored bool
}

// Watch is a persistent watch: unlike a ZooKeeper watch it re-arms itself
// after every firing, before the callback runs (so a read made by the
// callback's consumer can miss nothing), across reconnections (go-zookeeper
// re-sends watches with SetWatches) and across session expiry (re-armed on
// the new session, then fired with Restored).
type Watch struct {
	c    *Client
	kind watchKind
	path string
	fn   func(WatchEvent)
	stop chan struct{}
	once sync.Once
}

type watchKind int

const (
	watchData watchKind = iota
	watchChildren
	watchExists
)

// WatchChildren watches the children of path (a getChildren watch; while
// path does not exist, an exists watch that fires when it is created).
func (c *Client) WatchChildren(path string, fn func(WatchEvent)) (*Watch, error) {
	return c.watch(watchChildren, path, fn)
}

// WatchData watches path's data: changes, creation and deletion (an exists
// watch, so a missing node can be watched too).
func (c *Client) WatchData(path string, fn func(WatchEvent)) (*Watch, error) {
	return c.watch(watchData, path, fn)
}

// WatchExists watches path's creation, deletion and data changes.
func (c *Client) WatchExists(path string, fn func(WatchEvent)) (*Watch, error) {
	return c.watch(watchExists, path, fn)
}

// WatchChan is like the Watch* functions but delivers to a channel; events
// are dropped, never blocked on, when ch is full (a full channel already
// holds a pending "re-read" signal).
func WatchChan(ch chan<- WatchEvent) func(WatchEvent) {
	return func(ev WatchEvent) {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (c *Client) watch(kind watchKind, path string, fn func(WatchEvent)) (*Watch, error) {
	w := &Watch{c: c, kind: kind, path: path, fn: fn, stop: make(chan struct{})}
	ch, err := w.arm()
	if err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go w.run(ch)
	return w, nil
}

// Stop ends the watch. It does not wait: a callback already running may
// still complete, so consumers must tolerate one late event.
func (w *Watch) Stop() { w.once.Do(func() { close(w.stop) }) }

func (w *Watch) arm() (<-chan zk.Event, error) {
	abs := w.c.abs(w.path)
	if w.kind == watchChildren {
		_, _, ch, err := w.c.conn.ChildrenW(abs)
		if err == nil {
			return ch, nil
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return nil, err
		}
	}
	_, _, ch, err := w.c.conn.ExistsW(abs)
	return ch, err
}

func (w *Watch) stopped() bool {
	select {
	case <-w.stop:
		return true
	case <-w.c.closed:
		return true
	default:
		return false
	}
}

func (w *Watch) run(ch <-chan zk.Event) {
	defer w.c.wg.Done()
	for {
		var ev zk.Event
		select {
		case <-w.stop:
			return
		case <-w.c.closed:
			return
		case ev = <-ch:
		}
		restored := ev.Type == zk.EventNotWatching
		if restored && errors.Is(ev.Err, zk.ErrClosing) {
			return
		}
		// Re-arm before delivering.
		for failures := 0; ; failures++ {
			if restored {
				select {
				case <-w.stop:
					return
				case <-w.c.closed:
					return
				case <-w.c.waitSession():
				}
			}
			var err error
			if ch, err = w.arm(); err == nil {
				break
			}
			restored = true
			select {
			case <-w.stop:
				return
			case <-w.c.closed:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		if w.stopped() {
			return
		}
		if restored {
			w.fn(WatchEvent{Path: w.path, Type: zk.EventNotWatching, Restored: true})
		} else {
			w.fn(WatchEvent{Path: w.c.rel(ev.Path), Type: ev.Type})
		}
	}
}
