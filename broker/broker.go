// Package broker wires one Gregor broker together: configuration, the
// ZooKeeper session and registration, the log manager, the metadata cache,
// the replica manager, the request handlers, the network server and the
// controller module. It holds no request handling of its own.
//
// Start-up follows Kafka's KafkaServer.startup (reference §1.1): connect to
// ZooKeeper and ensure the top-level paths, get or create the cluster id,
// check meta.properties, recover the logs, start serving, register
// /brokers/ids/<id> (its czxid is the broker epoch), write meta.properties,
// then start the controller module. Shutdown runs the other way round and
// closes the ZooKeeper session last, so the ephemeral registration disappears
// only after the data is safe.
package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"

	"github.com/gregor-broker/gregor/broker/config"
	"github.com/gregor-broker/gregor/broker/configwatch"
	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
	"github.com/gregor-broker/gregor/broker/storage"
	"github.com/gregor-broker/gregor/coordinator"
	"github.com/gregor-broker/gregor/zkpaths"
)

// errConfig marks start-up failures caused by configuration (exit code 2).
var errConfig = errors.New("configuration")

// Broker is one running broker process.
type Broker struct {
	cfg *config.Config
	log *logrus.Entry

	zk         *zkpaths.Client
	logs       *storage.Manager
	cache      *metadata.Cache
	replicas   *replica.Manager
	groups     *group.Coordinator
	server     *server.Server
	controller *coordinator.Controller
	configs    *configwatch.Watcher // dynamic config changes (/config/changes)

	clusterID   string
	metaCurrent bool       // meta.properties already names this broker and cluster
	steps       *stepTimer // start-up step durations, logged at info
	brokerEpoch atomic.Int64
	registerMu  sync.Mutex // serialises (re-)registration of /brokers/ids/<id>
	// dynamicDefaultsSet: a dynamic broker config has been applied, so an
	// empty one must restore server.properties (configwatch goroutine only).
	dynamicDefaultsSet bool
}

// New connects to ZooKeeper, recovers the logs and binds the listeners. The
// broker is not registered (not visible to the cluster) until Run.
func New(cfg *config.Config, logger *logrus.Logger) (_ *Broker, err error) {
	b := &Broker{cfg: cfg, log: logger.WithField("broker_id", cfg.BrokerID)}
	b.brokerEpoch.Store(-1)
	defer func() {
		if err != nil {
			b.closeAll()
		}
	}()
	started := time.Now()
	steps := newStepTimer(b.log, started)
	openLogs := openLogsAsync(cfg, b.log.WithField("component", "storage"))
	defer func() {
		if err != nil && b.logs == nil {
			b.logs, _ = openLogs() // so that closeAll closes them
		}
	}()

	b.zk, err = zkpaths.Connect(cfg.ZookeeperConnect, cfg.ZookeeperSessionTimeout, b.log.WithField("component", "zk"),
		zkpaths.WithConnectionTimeout(cfg.ZookeeperConnectionTimeout), zkpaths.WithLocalHost(cfg.InterBrokerBindHost()))
	if err != nil {
		return nil, fmt.Errorf("connect to zookeeper %s: %w", cfg.ZookeeperConnect, err)
	}
	steps.done("zookeeper session")
	if b.clusterID, err = ensureZKLayout(b.zk); err != nil {
		return nil, err
	}
	steps.done("top-level znodes and cluster id")

	b.logs, err = openLogs()
	if err != nil {
		return nil, fmt.Errorf("open log dirs: %w", err)
	}
	steps.done("log dirs open (overlapped with zookeeper)")
	if meta, ok, err := b.logs.ReadMeta(); err != nil {
		return nil, fmt.Errorf("read meta.properties: %w", err)
	} else if ok {
		if meta.ClusterID != "" && meta.ClusterID != b.clusterID {
			return nil, fmt.Errorf("%w: the cluster id %s in meta.properties does not match the cluster id %s in ZooKeeper (/cluster/id); the log dirs belong to another cluster", errConfig, meta.ClusterID, b.clusterID)
		}
		if meta.BrokerID != cfg.BrokerID {
			return nil, fmt.Errorf("%w: broker.id %d does not match broker.id %d stored in meta.properties", errConfig, cfg.BrokerID, meta.BrokerID)
		}
		b.metaCurrent = meta.ClusterID == b.clusterID && metaInEveryDir(cfg.LogDirs)
	}

	b.cache = metadata.New()
	b.replicas = replica.NewManager(replica.Config{
		BrokerID:                        cfg.BrokerID,
		DefaultLogConfig:                defaultLogConfig(cfg),
		MinInsyncReplicas:               cfg.MinInsyncReplicas,
		ReplicaLagTimeMax:               cfg.ReplicaLagTimeMax,
		FetchMaxBytes:                   cfg.ReplicaFetchMaxBytes,
		FetchResponseMaxBytes:           cfg.ReplicaFetchResponseMaxBytes,
		FetchWaitMax:                    cfg.ReplicaFetchWaitMax,
		FetchMinBytes:                   cfg.ReplicaFetchMinBytes,
		FetchBackoff:                    cfg.ReplicaFetchBackoff,
		SocketTimeout:                   cfg.ReplicaSocketTimeout,
		NumFetchers:                     cfg.NumReplicaFetchers,
		HighWatermarkCheckpointInterval: cfg.ReplicaHighWatermarkCheckpointInterval,
		InterBrokerListener:             cfg.InterBrokerListenerName,
		LocalHost:                       cfg.InterBrokerBindHost(),
		Metadata:                        b.cache,
		BrokerEpoch:                     b.brokerEpoch.Load,
		TopicConfig:                     b.topicConfig,
	}, b.logs, b.log.WithField("component", "replica"))
	// Dynamic broker configs (/config/brokers) replace the static log
	// defaults before any log is configured (DynamicBrokerConfig.initialize).
	b.configs = configwatch.New(b.zk, cfg.BrokerID, configApplier{b}, b.log.WithField("component", "configs"))
	if err := b.configs.LoadBrokerConfigs(); err != nil {
		b.log.WithError(err).Warn("read dynamic broker configs; using server.properties")
	}
	// Kafka's LogManager applies topic overrides to the logs it loads, so
	// retention never treats a compacted topic with the default policy.
	b.replicas.LoadTopicConfigs()
	// The group coordinator listens for leadership of __consumer_offsets
	// partitions from now on, before any LeaderAndIsr can arrive.
	b.groups = group.New(group.Config{
		BrokerID:                      cfg.BrokerID,
		OffsetsTopicNumPartitions:     cfg.OffsetsTopicNumPartitions,
		OffsetsTopicReplicationFactor: cfg.OffsetsTopicReplicationFactor,
		OffsetsTopicSegmentBytes:      cfg.OffsetsTopicSegmentBytes,
		OffsetsRetention:              cfg.OffsetsRetention,
		OffsetsRetentionCheckInterval: cfg.OffsetsRetentionCheckInterval,
		OffsetCommitTimeout:           cfg.OffsetsCommitTimeout,
		OffsetsLoadBufferSize:         cfg.OffsetsLoadBufferSize,
		GroupInitialRebalanceDelay:    cfg.GroupInitialRebalanceDelay,
		GroupMinSessionTimeout:        cfg.GroupMinSessionTimeout,
		GroupMaxSessionTimeout:        cfg.GroupMaxSessionTimeout,
		GroupMaxSize:                  cfg.GroupMaxSize,
	}, b.replicas, b.logs, b.cache, b.log.WithField("component", "group"))
	b.groups.Start()
	b.controller = coordinator.New(b.controllerConfig(), b.zk, b.log.WithField("component", "controller"))
	admin := coordinator.NewAdmin(b.zk, b.controllerConfig(), b.log.WithField("component", "admin")).SetStaticBrokerConfig(cfg.Raw)
	h := handlers.New(handlers.Deps{
		BrokerID:  cfg.BrokerID,
		ClusterID: b.clusterID,
		Config: handlers.Config{
			AutoCreateTopicsEnable:   cfg.AutoCreateTopicsEnable,
			DefaultNumPartitions:     cfg.NumPartitions,
			DefaultReplicationFactor: cfg.DefaultReplicationFactor,
			MessageMaxBytes:          cfg.MessageMaxBytes,
			InterBrokerListener:      cfg.InterBrokerListenerName,
			LogDirs:                  cfg.LogDirs,
		},
		Metadata:     b.cache,
		Replicas:     b.replicas,
		Admin:        admin,
		BrokerEpoch:  b.brokerEpoch.Load,
		IsController: b.controller.IsActive,
		Groups:       b.groups,
		Controller:   b.controller,
		ClusterAdmin: admin,
		ProducerIDs:  zkpaths.NewProducerIDManager(b.zk, cfg.BrokerID, b.log.WithField("component", "producer-ids")),
		Log:          b.log.WithField("component", "handlers"),
	})

	var listeners []server.ListenerConfig
	for _, l := range cfg.Listeners {
		listeners = append(listeners, server.ListenerConfig{Name: l.Name, Addr: net.JoinHostPort(l.Host, strconv.Itoa(l.Port))})
	}
	b.server = server.New(server.Config{
		Listeners:             listeners,
		SocketRequestMaxBytes: cfg.SocketRequestMaxBytes,
		SendBufferBytes:       int(cfg.SocketSendBufferBytes),
		ReceiveBufferBytes:    int(cfg.SocketReceiveBufferBytes),
		ConnectionsMaxIdle:    cfg.ConnectionsMaxIdle,
		FrameTimeout:          cfg.RequestTimeout,
	}, h, b.log.WithField("component", "server"))
	if err := b.server.Start(); err != nil {
		return nil, fmt.Errorf("bind listeners: %w", err)
	}
	steps.done("listeners bound")
	b.steps = steps
	b.log.WithField("elapsed", time.Since(started).String()).Info("broker started; registering")
	return b, nil
}

func (b *Broker) controllerConfig() coordinator.Config {
	return coordinator.Config{
		BrokerID:                    b.cfg.BrokerID,
		InterBrokerListener:         b.cfg.InterBrokerListenerName,
		DefaultNumPartitions:        b.cfg.NumPartitions,
		DefaultReplicationFactor:    b.cfg.DefaultReplicationFactor,
		DeleteTopicEnable:           b.cfg.DeleteTopicEnable,
		UncleanLeaderElectionEnable: b.cfg.UncleanLeaderElectionEnable,
		SocketTimeout:               b.cfg.ControllerSocketTimeout,
		LocalHost:                   b.cfg.InterBrokerBindHost(),

		AutoLeaderRebalanceEnable:          b.cfg.AutoLeaderRebalanceEnable,
		LeaderImbalancePerBrokerPercentage: b.cfg.LeaderImbalancePerBrokerPercentage,
		LeaderImbalanceCheckInterval:       b.cfg.LeaderImbalanceCheckInterval,
	}
}

// Run registers the broker, starts the controller module and background log
// tasks, and serves until ctx is done; then it shuts down in order.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.register(); err != nil {
		b.closeAll()
		return err
	}
	b.steps.done("registered")
	// A restart whose meta.properties already holds this broker and cluster
	// skips the rewrite (and its fsyncs) on the way to ready.
	if !b.metaCurrent {
		if err := b.logs.WriteMeta(storage.MetaProperties{BrokerID: b.cfg.BrokerID, ClusterID: b.clusterID}); err != nil {
			b.closeAll()
			return fmt.Errorf("write meta.properties: %w", err)
		}
		b.steps.done("meta.properties written")
	}
	// A new ZooKeeper session (after expiry) needs a new registration and so
	// a new broker epoch; the controller module handles its own resignation
	// and re-election.
	b.zk.OnSession(func(ev zkpaths.SessionEvent) {
		if ev != zkpaths.SessionNew {
			return
		}
		if err := b.register(); err != nil {
			b.log.WithError(err).Error("re-register after session expiry")
		}
	})

	// Follower fetchers start with LeaderAndIsr; the ISR expiration, the
	// AlterPartition sender and the high watermark checkpoint start here.
	b.replicas.Start()
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); b.logs.Run(runCtx) }()
	go func() {
		defer wg.Done()
		if err := b.configs.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			b.log.WithError(err).Error("dynamic config watcher stopped")
		}
	}()
	go func() {
		defer wg.Done()
		if err := b.controller.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			b.log.WithError(err).Error("controller module stopped")
		}
	}()
	b.log.WithFields(logrus.Fields{"cluster_id": b.clusterID, "broker_epoch": b.brokerEpoch.Load()}).Info("broker ready")

	<-ctx.Done()
	b.log.Info("shutting down")
	// 0. Controlled shutdown: leaderships move off this broker while it
	// still serves (the controller's LeaderAndIsr/StopReplica arrive here).
	b.controlledShutdown()
	// 1. Stop accepting requests and close client connections.
	_ = b.server.Close()
	// Unload the groups (waiting joins answer NOT_COORDINATOR) and wait for
	// the coordinator's appends, before the replicas stop.
	b.groups.Close()
	// 2. Stop the controller module (resign) and the background log tasks.
	cancel()
	wg.Wait()
	// 3. Stop replicas, 4. flush logs and write checkpoints + clean-shutdown
	// marker, 5. close the ZooKeeper session last.
	b.closeAll()
	b.log.Info("shut down")
	return nil
}

// topicConfig reads a topic's overrides from /config/topics/<topic>
// (Kafka's {"version":1,"config":{...}}); a missing znode means none.
func (b *Broker) topicConfig(topic string) (map[string]string, error) {
	data, _, err := b.zk.Get(zkpaths.ConfigTopicPath(topic))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := zkpaths.DecodeEntityConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", zkpaths.ConfigTopicPath(topic), err)
	}
	return c.Config, nil
}

// register writes /brokers/ids/<id> and records the new broker epoch.
func (b *Broker) register() error {
	b.registerMu.Lock()
	defer b.registerMu.Unlock()
	info := zkpaths.BrokerInfo{
		ID:                          b.cfg.BrokerID,
		ListenerSecurityProtocolMap: b.protocolMap(),
		Rack:                        b.cfg.BrokerRack,
		JmxPort:                     -1,
	}
	for _, l := range b.cfg.AdvertisedListeners {
		host, port := l.Host, l.Port
		if host == "" {
			host, _ = os.Hostname()
		}
		if port == 0 {
			if a, ok := b.server.Addr(l.Name).(*net.TCPAddr); ok {
				port = a.Port
			}
		}
		info.Endpoints = append(info.Endpoints, zkpaths.Endpoint{Listener: l.Name, Host: host, Port: port, SecurityProtocol: b.cfg.ListenerSecurityProtocolMap[l.Name]})
	}
	epoch, err := b.zk.RegisterBroker(info)
	if err != nil {
		if errors.Is(err, zkpaths.ErrBrokerIDInUse) {
			return fmt.Errorf("%w: broker.id %d is already registered in ZooKeeper by a live broker: %v", errConfig, b.cfg.BrokerID, err)
		}
		return fmt.Errorf("register broker: %w", err)
	}
	b.brokerEpoch.Store(epoch)
	b.log.WithField("broker_epoch", epoch).Info("registered in zookeeper")
	return nil
}

// protocolMap lists listener → security protocol for the registration JSON,
// in listener order.
func (b *Broker) protocolMap() []zkpaths.ListenerProtocol {
	var out []zkpaths.ListenerProtocol
	seen := map[string]bool{}
	for _, l := range b.cfg.AdvertisedListeners {
		if !seen[l.Name] {
			seen[l.Name] = true
			out = append(out, zkpaths.ListenerProtocol{Listener: l.Name, Protocol: b.cfg.ListenerSecurityProtocolMap[l.Name]})
		}
	}
	return out
}

// closeAll releases everything New acquired; it is safe on a partly built
// broker and idempotent.
func (b *Broker) closeAll() {
	if b.server != nil {
		_ = b.server.Close()
	}
	if b.groups != nil {
		b.groups.Close()
	}
	if b.replicas != nil {
		b.replicas.Close()
		b.replicas = nil
	}
	if b.logs != nil {
		if err := b.logs.Close(); err != nil {
			b.log.WithError(err).Error("close logs")
		}
		b.logs = nil
	}
	if b.zk != nil {
		b.zk.Close()
		b.zk = nil
	}
}

func defaultLogConfig(cfg *config.Config) storage.LogConfig {
	lc := storage.DefaultLogConfig()
	lc.SegmentBytes = cfg.LogSegmentBytes
	lc.SegmentMs = cfg.LogRollMs
	lc.SegmentJitterMs = cfg.LogRollJitterMs
	lc.IndexMaxBytes = cfg.LogIndexSizeMaxBytes
	lc.IndexIntervalBytes = cfg.LogIndexIntervalBytes
	lc.MaxMessageBytes = cfg.MessageMaxBytes
	lc.RetentionMs = cfg.LogRetentionMs
	lc.RetentionBytes = cfg.LogRetentionBytes
	lc.FlushIntervalMessages = cfg.LogFlushIntervalMessages
	lc.FlushIntervalMs = cfg.LogFlushIntervalMs
	lc.MessageTimestampType = cfg.LogMessageTimestampType
	lc.FileDeleteDelayMs = cfg.LogSegmentDeleteDelayMs
	lc.CleanupPolicy = cfg.LogCleanupPolicy
	lc.ProducerIDExpirationMs = cfg.ProducerIDExpiration.Milliseconds()
	return lc
}

// configApplier applies dynamic config changes (configwatch.Handler) to the
// replica manager's logs.
type configApplier struct{ b *Broker }

func (a configApplier) TopicConfigChanged(topic string) { a.b.replicas.ReloadTopicConfig(topic) }

// BrokerConfigChanged re-parses server.properties with the dynamic keys
// Gregor applies live laid over it (cluster default, then this broker's),
// as Kafka builds a new KafkaConfig, and hands the resulting log defaults
// to the replica manager. Other keys found in ZooKeeper are ignored; an
// invalid result keeps the current defaults.
func (a configApplier) BrokerConfigChanged(clusterDefault, perBroker map[string]string) {
	b := a.b
	// Replication throttle rates are read from ZooKeeper only (they are not
	// server.properties keys), so they apply before the early return.
	b.replicas.SetReplicationThrottleRates(replica.ThrottleRatesFromConfigs(clusterDefault, perBroker))
	if len(clusterDefault) == 0 && len(perBroker) == 0 && !b.dynamicDefaultsSet {
		return
	}
	props := maps.Clone(b.cfg.Raw)
	if props == nil {
		props = map[string]string{}
	}
	for _, m := range []map[string]string{clusterDefault, perBroker} {
		for k, v := range m {
			if coordinator.IsDynamicBrokerConfig(k) {
				props[k] = v
			}
		}
	}
	cfg, _, err := config.Parse(props)
	if err != nil {
		b.log.WithError(err).Warn("invalid dynamic broker config; keeping the current log defaults")
		return
	}
	b.dynamicDefaultsSet = true
	b.replicas.SetBrokerDefaults(defaultLogConfig(cfg), cfg.MinInsyncReplicas)
	b.log.WithFields(logrus.Fields{"cluster_default": clusterDefault, "per_broker": perBroker}).Info("dynamic broker config applied")
}
