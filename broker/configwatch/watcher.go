// Package configwatch applies dynamic config changes on every broker, as
// Kafka's ZkConfigManager with ZkNodeChangeNotificationListener does: it
// watches the children of /config/changes, handles each
// config_change_N notification with a sequence number above the last one it
// handled by re-reading the entity it names (the notification is only a
// trigger), and deletes notifications older than 15 minutes. Topic changes
// reach the replica manager's live logs; broker changes (/config/brokers/<id>
// and <default>) replace the broker-level defaults. It does not write
// configs: coordinator.Admin does.
package configwatch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/zkpaths"
)

// NotificationExpiry is Kafka's ZkConfigManager changeExpirationMs: older
// notifications are deleted by any broker that sees them.
const NotificationExpiry = 15 * time.Minute

// Handler is told what changed; the Watcher calls it from one goroutine.
type Handler interface {
	// TopicConfigChanged: /config/topics/<topic> changed; re-read it.
	TopicConfigChanged(topic string)
	// BrokerConfigChanged: the cluster default and this broker's dynamic
	// configs, as now stored (empty maps when unset).
	BrokerConfigChanged(clusterDefault, perBroker map[string]string)
}

// Watcher follows /config/changes for one broker.
type Watcher struct {
	zk       *zkpaths.Client
	brokerID string
	handler  Handler
	log      *logrus.Entry
	lastSeq  int64 // highest notification handled; -1 before the first
	now      func() time.Time
}

// New returns a Watcher for broker brokerID.
func New(zkc *zkpaths.Client, brokerID int32, h Handler, log *logrus.Entry) *Watcher {
	return &Watcher{zk: zkc, brokerID: strconv.Itoa(int(brokerID)), handler: h, log: log, lastSeq: -1, now: time.Now}
}

// LoadBrokerConfigs reads the dynamic broker configs and hands them to the
// handler (Kafka's DynamicBrokerConfig.initialize at start-up).
func (w *Watcher) LoadBrokerConfigs() error {
	def, err := w.entity(zkpaths.ConfigTypeBroker, zkpaths.ConfigDefaultName)
	if err != nil {
		return err
	}
	per, err := w.entity(zkpaths.ConfigTypeBroker, w.brokerID)
	if err != nil {
		return err
	}
	w.handler.BrokerConfigChanged(def, per)
	return nil
}

func (w *Watcher) entity(entityType, name string) (map[string]string, error) {
	data, _, err := w.zk.Get(zkpaths.ConfigEntityPath(entityType, name))
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := zkpaths.DecodeEntityConfig(data)
	if err != nil {
		return nil, err
	}
	return c.Config, nil
}

// Run handles the notifications present now and every later one, until ctx
// is done. ZooKeeper errors are logged and retried on the next change or
// after a back-off.
func (w *Watcher) Run(ctx context.Context) error {
	ch := make(chan zkpaths.WatchEvent, 1)
	watch, err := w.zk.WatchChildren(zkpaths.ConfigChangesPath, zkpaths.WatchChan(ch))
	if err != nil {
		return fmt.Errorf("watch %s: %w", zkpaths.ConfigChangesPath, err)
	}
	defer watch.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		if err := w.processNotifications(); err != nil {
			w.log.WithError(err).Warn("process config change notifications; retrying")
			retry.Reset(time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-retry.C:
		}
	}
}

// processNotifications is ZkNodeChangeNotificationListener.processNotifications.
func (w *Watcher) processNotifications() error {
	children, _, err := w.zk.Children(zkpaths.ConfigChangesPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	prefix := strings.TrimPrefix(zkpaths.ConfigChangeNotificationPrefix, zkpaths.ConfigChangesPath+"/")
	type note struct {
		name string
		seq  int64
	}
	var notes []note
	for _, c := range children {
		seq, err := strconv.ParseInt(strings.TrimPrefix(c, prefix), 10, 64)
		if err != nil || !strings.HasPrefix(c, prefix) {
			continue
		}
		notes = append(notes, note{c, seq})
	}
	sort.Slice(notes, func(i, j int) bool { return notes[i].seq < notes[j].seq })
	now := w.now()
	for _, n := range notes {
		p := zkpaths.ConfigChangesPath + "/" + n.name
		if n.seq > w.lastSeq {
			data, _, err := w.zk.Get(p)
			switch {
			case errors.Is(err, zk.ErrNoNode):
			case err != nil:
				return err
			default:
				if err := w.apply(data); err != nil {
					return err
				}
			}
			w.lastSeq = n.seq
		}
		if ok, stat, err := w.zk.Exists(p); err == nil && ok && now.Sub(time.UnixMilli(stat.Ctime)) > NotificationExpiry {
			if err := w.zk.Delete(p, zkpaths.AnyVersion); err != nil && !errors.Is(err, zk.ErrNoNode) {
				w.log.WithError(err).WithField("znode", p).Warn("purge obsolete config change notification")
			}
		}
	}
	return nil
}

// apply handles one notification (ConfigChangedNotificationHandler): version
// 2 names "<type>/<name>", version 1 is read too.
func (w *Watcher) apply(data []byte) error {
	entityPath, err := zkpaths.DecodeConfigChangeNotification(data)
	if err != nil {
		w.log.WithError(err).Warn("ignoring malformed config change notification")
		return nil
	}
	entityType, name, ok := strings.Cut(entityPath, "/")
	if !ok || name == "" {
		w.log.WithField("entity_path", entityPath).Warn("ignoring config change notification without an entity name")
		return nil
	}
	switch entityType {
	case zkpaths.ConfigTypeTopic:
		w.log.WithField("topic", name).Info("topic config changed")
		w.handler.TopicConfigChanged(name)
	case zkpaths.ConfigTypeBroker:
		if name != zkpaths.ConfigDefaultName && name != w.brokerID {
			return nil
		}
		w.log.WithField("entity", name).Info("broker config changed")
		return w.LoadBrokerConfigs()
	}
	return nil
}
