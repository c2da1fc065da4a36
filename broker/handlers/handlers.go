package handlers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/group"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
)

// Config holds the broker settings the handlers need, with Kafka's key
// names in the comments.
type Config struct {
	AutoCreateTopicsEnable   bool   // auto.create.topics.enable
	DefaultNumPartitions     int32  // num.partitions (auto-created topics)
	DefaultReplicationFactor int16  // default.replication.factor (auto-created topics)
	MessageMaxBytes          int32  // message.max.bytes (the log enforces it per topic)
	InterBrokerListener      string // inter.broker.listener.name; control APIs are accepted only on it ("" accepts any)
	FetchMaxBytes            int32  // fetch.max.bytes; 0 means Kafka's default, 57671680
	// ZeroCopyMinBytes: a fetched record set at least this large is sent
	// from the segment file with sendfile, a smaller one is copied; 0 means
	// the default (32 KiB), negative means always sendfile. Not a Kafka key.
	ZeroCopyMinBytes int32
	// LogDirs is log.dirs, listed by DescribeLogDirs even when empty.
	LogDirs []string
}

// defaultFetchMaxBytes is Kafka's fetch.max.bytes default (55 MiB).
const defaultFetchMaxBytes = 57671680

// Deps is everything the handlers use. Every field is required except Log
// (a discarding logger is used when nil).
type Deps struct {
	BrokerID  int32
	ClusterID string
	Config    Config
	Metadata  *metadata.Cache
	Replicas  *replica.Manager
	Admin     TopicAdmin
	// BrokerEpoch returns this broker's current epoch (the czxid of
	// /brokers/ids/<id>), -1 before registration.
	BrokerEpoch func() int64
	// IsController reports whether this broker is the active controller.
	IsController func() bool
	// Groups is the group coordinator (FindCoordinator, JoinGroup, ...,
	// OffsetCommit/Fetch); nil answers COORDINATOR_NOT_AVAILABLE.
	Groups *group.Coordinator
	// Controller serves the controller-side APIs (AlterPartition); nil
	// answers NOT_CONTROLLER.
	Controller Controller
	// ClusterAdmin serves the dynamic-config APIs and CreatePartitions
	// (coordinator.Admin); nil answers those with UNKNOWN_SERVER_ERROR.
	ClusterAdmin ClusterAdmin
	// ProducerIDs serves InitProducerId (zkpaths.ProducerIDManager); nil
	// answers COORDINATOR_NOT_AVAILABLE.
	ProducerIDs ProducerIDs
	Log         *logrus.Entry
}

// Controller is what the handlers need of this broker's controller module
// (coordinator.Controller), for the APIs the active controller serves.
type Controller interface {
	// AlterPartition decides an ISR change proposed by a partition leader
	// and returns the answer (version of req), waiting as long as ctx and
	// the controller allow.
	AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse
}

// Handlers serves every API of the table in apis.go. It is safe for
// concurrent use: the server calls Handle from one goroutine per connection.
type Handlers struct {
	Deps
	log  *logrus.Entry
	apis *apiIndex

	unknownMu   sync.Mutex
	unknownLast time.Time // rate limit of UNKNOWN_SERVER_ERROR logs
	unknownSkip int
}

var _ server.Dispatcher = (*Handlers)(nil)

// New returns the handlers for deps.
func New(deps Deps) *Handlers {
	log := deps.Log
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		log = logrus.NewEntry(l)
	}
	if deps.BrokerEpoch == nil {
		deps.BrokerEpoch = func() int64 { return -1 }
	}
	if deps.IsController == nil {
		deps.IsController = func() bool { return false }
	}
	if deps.Config.FetchMaxBytes <= 0 {
		deps.Config.FetchMaxBytes = defaultFetchMaxBytes
	}
	return &Handlers{Deps: deps, log: log, apis: newAPIIndex(apiTable())}
}

// Versions implements server.Dispatcher from the table in apis.go.
func (h *Handlers) Versions(key int16) (minV, maxV int16, ok bool) {
	a, ok := h.apis.lookup(key)
	if !ok {
		return 0, 0, false
	}
	return a.min, a.max, true
}

// Handle implements server.Dispatcher: it dispatches by API key. An unknown
// key, a version outside the table's range (except ApiVersions, which
// answers UNSUPPORTED_VERSION itself) or a body of the wrong type is a
// broken connection.
func (h *Handlers) Handle(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	a, ok := h.apis.lookup(r.APIKey)
	if !ok {
		return nil, fmt.Errorf("unsupported api key %d", r.APIKey)
	}
	if r.Body == nil || r.Body.Key() != r.APIKey {
		return nil, fmt.Errorf("api key %d: request body of the wrong type %T", r.APIKey, r.Body)
	}
	if r.APIKey != apiKeyApiVersions && (r.APIVersion < a.min || r.APIVersion > a.max) {
		return nil, fmt.Errorf("api key %d: unsupported version %d (serving %d-%d)", r.APIKey, r.APIVersion, a.min, a.max)
	}
	if h.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		h.log.WithFields(logrus.Fields{"api_key": r.APIKey, "api_version": r.APIVersion, "correlation_id": r.CorrelationID, "client_id": clientID(r), "remote": r.Remote}).Debug("request")
	}
	return a.handle(h, ctx, r)
}

func clientID(r *server.Request) string {
	if r.ClientID == nil {
		return ""
	}
	return *r.ClientID
}
