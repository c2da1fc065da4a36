package zkpaths

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// CreateTopLevelPaths ensures the persistent paths of PersistentPaths, each
// with null data (KafkaZkClient.createTopLevelPaths).
func (c *Client) CreateTopLevelPaths() error {
	for _, p := range PersistentPaths() {
		if err := c.ensurePath(p); err != nil {
			return err
		}
	}
	return nil
}

// GetClusterID reads /cluster/id; ok is false when it does not exist.
func (c *Client) GetClusterID() (id string, ok bool, err error) {
	data, _, err := c.Get(ClusterIDPath)
	if errors.Is(err, zk.ErrNoNode) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	id, err = DecodeClusterID(data)
	return id, err == nil, err
}

// GetOrCreateClusterID returns the cluster id, creating /cluster/id with
// candidate when it is absent (KafkaZkClient.createOrGetClusterId: a
// NodeExists race means another broker won, so re-read).
func (c *Client) GetOrCreateClusterID(candidate string) (string, error) {
	if id, ok, err := c.GetClusterID(); err != nil || ok {
		return id, err
	}
	// A retried create after a lost reply sees NodeExists and re-reads.
	err := c.read(func() error { return c.CreateRecursive(ClusterIDPath, EncodeClusterID(candidate)) })
	if err == nil {
		return candidate, nil
	}
	if !errors.Is(err, zk.ErrNodeExists) {
		return "", err
	}
	id, ok, err := c.GetClusterID()
	if err == nil && !ok {
		err = fmt.Errorf("zkpaths: %s vanished after NodeExists", ClusterIDPath)
	}
	return id, err
}

// RegisterBroker writes /brokers/ids/<id> the way KafkaZkClient.registerBroker
// does: one multi-op, create(ephemeral, null data) + setData(json, version 0),
// so the znode ends at dataVersion 1. It returns the broker epoch, the
// znode's czxid.
//
// On NodeExists it applies Kafka's CheckedEphemeral rules (KAFKA-6584,
// KAFKA-7165): a node owned by the current session is accepted; a node owned
// by one of this client's previous (expired) sessions is deleted and
// re-created; a node owned by any other session is an error wrapping
// ErrBrokerIDInUse.
func (c *Client) RegisterBroker(info BrokerInfo) (brokerEpoch int64, err error) {
	p := BrokerIDPath(info.ID)
	data := info.Encode()
	for attempt := 0; attempt < 3; attempt++ {
		// A retried multi after a lost reply sees NodeExists owned by this
		// session, which is accepted below.
		var res []zk.MultiResponse
		err := c.read(func() (err error) {
			res, err = c.Multi(CreateOp(p, nil, Ephemeral), SetDataOp(p, data, 0))
			return err
		})
		if err == nil {
			return res[1].Stat.Czxid, nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return 0, fmt.Errorf("register broker %d: %w", info.ID, err)
		}
		_, stat, gerr := c.Get(p)
		if errors.Is(gerr, zk.ErrNoNode) {
			continue // the old node just expired: try again
		}
		if gerr != nil {
			return 0, fmt.Errorf("register broker %d: %w", info.ID, gerr)
		}
		owner := stat.EphemeralOwner
		current := c.SessionID()
		c.mu.Lock()
		ours := c.sessions[owner]
		c.mu.Unlock()
		switch {
		case owner == current:
			c.log.WithField("broker_id", info.ID).Info("broker registration already owned by this session")
			return stat.Czxid, nil
		case ours:
			// ZOOKEEPER-2985: the node of our expired session can outlive it.
			c.log.WithFields(map[string]interface{}{"broker_id": info.ID, "owner": fmt.Sprintf("0x%x", owner)}).Info("deleting registration left by our previous session")
			if err := c.Delete(p, stat.Version); err != nil && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, zk.ErrBadVersion) {
				return 0, fmt.Errorf("register broker %d: %w", info.ID, err)
			}
		default:
			return 0, fmt.Errorf("%w: /brokers/ids/%d is held by live session 0x%x (this session is 0x%x): another broker is running with broker.id %d",
				ErrBrokerIDInUse, info.ID, owner, current, info.ID)
		}
	}
	return 0, fmt.Errorf("register broker %d: %w", info.ID, zk.ErrNodeExists)
}

// RegisteredBroker is a live broker: its registration and its broker epoch
// (the czxid of /brokers/ids/<id>).
type RegisteredBroker struct {
	Info  BrokerInfo
	Epoch int64
}

// GetAllBrokers reads every /brokers/ids/<id> with its epoch, sorted by id
// (KafkaZkClient.getAllBrokerAndEpochsInCluster). Nodes that vanish while
// being read are skipped.
func (c *Client) GetAllBrokers() ([]RegisteredBroker, error) {
	ids, _, err := c.Children(BrokerIDsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RegisteredBroker
	for _, s := range ids {
		id, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			continue
		}
		data, stat, err := c.Get(BrokerIDPath(int32(id)))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		info, err := DecodeBrokerInfo(int32(id), data)
		if err != nil {
			return nil, err
		}
		out = append(out, RegisteredBroker{Info: info, Epoch: stat.Czxid})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.ID < out[j].Info.ID })
	return out, nil
}

// GetTopicAssignment reads /brokers/topics/<topic>.
func (c *Client) GetTopicAssignment(topic string) (TopicAssignment, *zk.Stat, error) {
	data, stat, err := c.Get(TopicPath(topic))
	if err != nil {
		return TopicAssignment{}, nil, err
	}
	t, err := DecodeTopicAssignment(data)
	if err != nil {
		return TopicAssignment{}, nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	return t, stat, nil
}

// GetPartitionState reads a partition state znode; stat.Version is the
// partition epoch.
func (c *Client) GetPartitionState(topic string, partition int32) (PartitionState, *zk.Stat, error) {
	data, stat, err := c.Get(PartitionStatePath(topic, partition))
	if err != nil {
		return PartitionState{}, nil, err
	}
	s, err := DecodePartitionState(data)
	if err != nil {
		return PartitionState{}, nil, fmt.Errorf("%s-%d: %w", topic, partition, err)
	}
	return s, stat, nil
}

// GetControllerID reads /controller; ok is false when there is none.
func (c *Client) GetControllerID() (id int32, ok bool, err error) {
	data, _, err := c.Get(ControllerPath)
	if errors.Is(err, zk.ErrNoNode) {
		return -1, false, nil
	}
	if err != nil {
		return -1, false, err
	}
	ci, err := DecodeControllerInfo(data)
	if err != nil {
		return -1, false, err
	}
	return ci.BrokerID, true, nil
}

// GetControllerEpoch reads /controller_epoch: the epoch and the znode's
// dataVersion (epochZkVersion); ok is false when it does not exist.
func (c *Client) GetControllerEpoch() (epoch, zkVersion int32, ok bool, err error) {
	data, stat, err := c.Get(ControllerEpochPath)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	epoch, err = DecodeControllerEpoch(data)
	if err != nil {
		return 0, 0, false, err
	}
	return epoch, stat.Version, true, nil
}
