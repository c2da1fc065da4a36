package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/zkpaths"
)

// Admin writes topic creations and deletions to ZooKeeper the way Kafka's
// ZkAdminManager + AdminZkClient do; the controller acts on the znodes.
// It is safe for concurrent use (it keeps no state).
type Admin struct {
	zk  *zkpaths.Client
	cfg Config
	log *logrus.Entry
	// static is server.properties as given (SetStaticBrokerConfig), read
	// only after start-up.
	static map[string]string
}

var _ handlers.TopicAdmin = (*Admin)(nil)

// NewAdmin returns an Admin writing through zk.
func NewAdmin(zk *zkpaths.Client, cfg Config, log *logrus.Entry) *Admin {
	return &Admin{zk: zk, cfg: cfg, log: log}
}

// maxTopicNameLength is Topic.MAX_NAME_LENGTH.
const maxTopicNameLength = 249

// ValidateTopicName is Kafka's Topic.validate, with its messages
// (INVALID_TOPIC_EXCEPTION).
func ValidateTopicName(topic string) error {
	bad := func(msg string) error { return apierr.New(kerr.InvalidTopicException, msg) }
	if topic == "" {
		return bad("Topic name is illegal, it can't be empty")
	}
	if topic == "." || topic == ".." {
		return bad(`Topic name cannot be "." or ".."`)
	}
	if len(topic) > maxTopicNameLength {
		return bad(fmt.Sprintf("Topic name is illegal, it can't be longer than %d characters, Topic name: %s", maxTopicNameLength, topic))
	}
	for i := 0; i < len(topic); i++ {
		ch := topic[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return bad(fmt.Sprintf(`Topic name "%s" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`, topic))
		}
	}
	return nil
}

// hasCollision is Topic.hasCollision: names equal once '.' is read as '_'.
func hasCollision(a, b string) bool {
	return strings.ReplaceAll(a, ".", "_") == strings.ReplaceAll(b, ".", "_")
}

// CreateTopic validates t and, unless t.ValidateOnly, writes
// /config/topics/<t> then /brokers/topics/<t> with a new topic id
// (AdminZkClient.createTopicWithAssignment). It returns once the znodes are
// written; the controller elects the leaders afterwards.
func (a *Admin) CreateTopic(ctx context.Context, t handlers.NewTopic) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTopicName(t.Name); err != nil {
		return err
	}
	assignment, err := a.assignment(t)
	if err != nil {
		return err
	}
	// LogConfig.validate: unknown names and invalid values are both
	// INVALID_CONFIG on creation (ZkAdminManager.createTopics).
	if unknown, bad := validateTopicConfig(t.Configs); unknown != "" || bad != "" {
		return apierr.New(kerr.InvalidConfig, unknown+bad)
	}
	if err := a.validateCreate(t.Name); err != nil {
		return err
	}
	if t.ValidateOnly {
		return nil
	}
	if err := a.writeTopicConfig(t.Name, t.Configs); err != nil {
		return fmt.Errorf("write config of topic %s: %w", t.Name, err)
	}
	ta := zkpaths.TopicAssignment{TopicID: zkpaths.NewUUID(), Partitions: assignment}
	if err := a.zk.CreateRecursive(zkpaths.TopicPath(t.Name), ta.Encode()); err != nil {
		if errors.Is(err, zk.ErrNodeExists) {
			return apierr.New(kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", t.Name))
		}
		return fmt.Errorf("create topic %s: %w", t.Name, err)
	}
	a.log.WithFields(logrus.Fields{"topic": t.Name, "topic_id": zkpaths.UUIDString(ta.TopicID), "partitions": len(assignment)}).Info("topic created")
	return nil
}

// assignment checks the requested shape and returns the replica assignment.
func (a *Admin) assignment(t handlers.NewTopic) (map[int32][]int32, error) {
	if t.Assignment != nil {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			return nil, apierr.New(kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
		}
		return t.Assignment, validateAssignment(t.Assignment)
	}
	n, rf := t.NumPartitions, t.ReplicationFactor
	if n == -1 {
		n = a.cfg.DefaultNumPartitions
	}
	if rf == -1 {
		rf = a.cfg.DefaultReplicationFactor
	}
	if n <= 0 {
		return nil, apierr.New(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	if rf <= 0 {
		return nil, apierr.New(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0.")
	}
	brokers, err := a.zk.GetAllBrokers()
	if err != nil {
		return nil, fmt.Errorf("read live brokers: %w", err)
	}
	meta := make([]BrokerMetadata, len(brokers))
	for i, b := range brokers {
		meta[i] = BrokerMetadata{ID: b.Info.ID, Rack: b.Info.Rack}
	}
	return assignReplicasToBrokers(meta, n, rf, -1, -1)
}

// validateAssignment is the explicit-assignment part of
// AdminZkClient.validateTopicCreate.
func validateAssignment(as map[int32][]int32) error {
	bad := func(msg string) error { return apierr.New(kerr.InvalidReplicaAssignment, msg) }
	if len(as) == 0 {
		return apierr.New(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	ps := make([]int32, 0, len(as))
	for p := range as {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for i, p := range ps {
		if p != int32(i) {
			return bad("partitions should be a consecutive 0-based integer sequence")
		}
	}
	size := -1
	for _, p := range ps {
		rs := as[p]
		if len(rs) == 0 {
			return bad(fmt.Sprintf("Replica assignment for partition %d is empty.", p))
		}
		seen := map[int32]bool{}
		for _, r := range rs {
			if seen[r] {
				return bad(fmt.Sprintf("Duplicate replica assignment found: %v", as))
			}
			seen[r] = true
		}
		if size >= 0 && len(rs) != size {
			return bad("All partitions should have the same number of replicas")
		}
		size = len(rs)
	}
	return nil
}

// validateCreate: not marked for deletion, not existing, no '.'/'_'
// collision.
func (a *Admin) validateCreate(topic string) error {
	if ok, _, err := a.zk.Exists(zkpaths.DeleteTopicPath(topic)); err != nil {
		return err
	} else if ok {
		return apierr.New(kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' is marked for deletion.", topic))
	}
	if ok, _, err := a.zk.Exists(zkpaths.TopicPath(topic)); err != nil {
		return err
	} else if ok {
		return apierr.New(kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", topic))
	}
	if strings.ContainsAny(topic, "._") {
		all, _, err := a.zk.Children(zkpaths.TopicsPath)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		var colliding []string
		for _, t := range all {
			if hasCollision(topic, t) {
				colliding = append(colliding, t)
			}
		}
		if len(colliding) > 0 {
			sort.Strings(colliding)
			return apierr.New(kerr.InvalidTopicException, fmt.Sprintf("Topic '%s' collides with existing topics: %s", topic, strings.Join(colliding, ", ")))
		}
	}
	return nil
}

// writeTopicConfig is setOrCreateEntityConfigs: setData, on NoNode create.
func (a *Admin) writeTopicConfig(topic string, cfg map[string]string) error {
	data := zkpaths.EntityConfig{Config: cfg}.Encode()
	p := zkpaths.ConfigTopicPath(topic)
	_, err := a.zk.Set(p, data, zkpaths.AnyVersion)
	if errors.Is(err, zk.ErrNoNode) {
		err = a.zk.CreateRecursive(p, data)
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = a.zk.Set(p, data, zkpaths.AnyVersion)
		}
	}
	return err
}

// DeleteTopic marks a topic for deletion by creating
// /admin/delete_topics/<t> (AdminZkClient.deleteTopic); an existing marker
// is fine. With delete.topic.enable=false it answers TOPIC_DELETION_DISABLED
// as KafkaApis does (handlers map it to INVALID_REQUEST for DeleteTopics < v3).
func (a *Admin) DeleteTopic(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !a.cfg.DeleteTopicEnable {
		return apierr.New(kerr.TopicDeletionDisabled, "")
	}
	if ok, _, err := a.zk.Exists(zkpaths.TopicPath(topic)); err != nil {
		return err
	} else if !ok {
		return apierr.New(kerr.UnknownTopicOrPartition, "")
	}
	err := a.zk.CreateRecursive(zkpaths.DeleteTopicPath(topic), nil)
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("mark topic %s for deletion: %w", topic, err)
	}
	a.log.WithField("topic", topic).Info("topic marked for deletion")
	return nil
}
