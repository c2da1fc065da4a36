package handlers

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/metadata"
	"github.com/gregor-broker/gregor/broker/server"
)

// Metadata (key 3): v0–12.
//
// Behaviour:
//   - Answers from the metadata cache only (fed by UpdateMetadata): the live
//     brokers' endpoints for the listener the request came in on (brokers
//     without it are omitted), racks (v1+), the controller id (v1+), the
//     cluster id (v2+), topic ids (v10+), leader epochs (v7+) and offline
//     replicas (v5+).
//   - Topics: v0 empty list or v1+ null = all topics; v10+ may name a topic
//     by id (unknown → UNKNOWN_TOPIC_ID).
//   - A name that is not a legal topic name: INVALID_TOPIC_EXCEPTION (17).
//   - An unknown topic is created through TopicAdmin (num.partitions,
//     default.replication.factor) when auto.create.topics.enable is set and
//     the request allows it (v4+ AllowAutoTopicCreation; always before v4),
//     and answered LEADER_NOT_AVAILABLE (5) until its leaders exist; an
//     error from the creation is answered with its code; otherwise
//     UNKNOWN_TOPIC_OR_PARTITION (3).
//   - A partition whose leader is not live: LEADER_NOT_AVAILABLE with leader
//     -1; live but without this listener: LISTENER_NOT_FOUND (v6+). v0
//     lists only live replicas and answers REPLICA_NOT_AVAILABLE when some
//     are missing.
//   - Authorized operations (v8+) when asked: every operation (there is no
//     authorizer).
//
// Not implemented: auto-creation of __consumer_offsets/__transaction_state
// (the group and transaction coordinators own it), v13 (KIP-1102).
//
// Kafka: KafkaApis.handleTopicMetadataRequest, ZkMetadataCache.getTopicMetadata,
// AutoTopicCreationManager.
func (h *Handlers) handleMetadata(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	snap := h.Metadata.Snapshot()

	for _, b := range snap.SortedBrokers() {
		ep, ok := b.Endpoint(r.Listener)
		if !ok {
			continue
		}
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, ep.Host, ep.Port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	clusterID := h.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = snap.ControllerID
	if req.Version >= 8 && req.Version <= 10 && req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = clusterOperations
	}

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range snap.Topics {
			resp.Topics = append(resp.Topics, h.topicMetadata(req, r.Listener, snap, t))
		}
		return resp, nil
	}
	allowAuto := h.Config.AutoCreateTopicsEnable && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			// v10+: by topic id.
			t, ok := snap.TopicByID(rt.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, h.topicMetadata(req, r.Listener, snap, t))
			continue
		}
		name := *rt.Topic
		if t, ok := snap.Topic(name); ok {
			resp.Topics = append(resp.Topics, h.topicMetadata(req, r.Listener, snap, t))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = rt.Topic
		mt.IsInternal = isInternalTopic(name)
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{}
		switch err := validateTopicName(name); {
		case err != nil:
			mt.ErrorCode = kerr.InvalidTopicException.Code
		case allowAuto && !isInternalTopic(name):
			mt.ErrorCode = h.autoCreateTopic(ctx, name)
		default:
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp, nil
}

// autoCreateTopic creates a topic with the broker defaults and returns the
// code to answer meanwhile: LEADER_NOT_AVAILABLE on success or when another
// request created it first, the creation's code otherwise.
func (h *Handlers) autoCreateTopic(ctx context.Context, name string) int16 {
	err := h.Admin.CreateTopic(ctx, NewTopic{
		Name:              name,
		NumPartitions:     h.Config.DefaultNumPartitions,
		ReplicationFactor: h.Config.DefaultReplicationFactor,
	})
	if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
		if err == nil {
			h.log.WithField("topic", name).Info("auto-created topic")
		}
		return kerr.LeaderNotAvailable.Code
	}
	var ae *apierr.Error
	if !errors.As(err, &ae) {
		h.log.WithError(err).WithField("topic", name).Warn("auto-create topic")
	}
	return h.errorCode(err)
}

func (h *Handlers) topicMetadata(req *kmsg.MetadataRequest, listener string, snap *metadata.Snapshot, t *metadata.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = isInternalTopic(name)
	if req.Version >= 8 && req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = topicOperations
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, 0, len(t.Partitions))
	for _, ps := range t.SortedPartitions() {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = ps.Partition
		mp.Leader = ps.Leader
		mp.LeaderEpoch = ps.LeaderEpoch
		mp.Replicas, mp.ISR, mp.OfflineReplicas = ps.Replicas, ps.ISR, ps.OfflineReplicas
		if mp.OfflineReplicas == nil {
			mp.OfflineReplicas = []int32{}
		}
		if req.Version == 0 {
			// v0 lists only replicas with the listener
			// (errorUnavailableEndpoints).
			mp.Replicas = liveReplicas(snap, ps.Replicas, listener)
			mp.ISR = liveReplicas(snap, ps.ISR, listener)
		}
		if _, ok := snap.Endpoint(ps.Leader, listener); !ok {
			mp.Leader = -1
			if _, live := snap.Broker(ps.Leader); live && req.Version >= 6 {
				mp.ErrorCode = kerr.ListenerNotFound.Code
			} else {
				mp.ErrorCode = kerr.LeaderNotAvailable.Code
			}
		} else if len(mp.Replicas) < len(ps.Replicas) || len(mp.ISR) < len(ps.ISR) {
			mp.ErrorCode = kerr.ReplicaNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

func liveReplicas(snap *metadata.Snapshot, ids []int32, listener string) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if _, ok := snap.Endpoint(id, listener); ok {
			out = append(out, id)
		}
	}
	return out
}

// Kafka's AclOperation codes, as the 32-bit fields of KIP-430.
const (
	opRead            = 3
	opWrite           = 4
	opCreate          = 5
	opDelete          = 6
	opAlter           = 7
	opDescribe        = 8
	opClusterAction   = 9
	opDescribeConfigs = 10
	opAlterConfigs    = 11
	opIdempotentWrite = 12
)

func bits(ops ...int) int32 {
	var b int32
	for _, o := range ops {
		b |= 1 << o
	}
	return b
}

var (
	topicOperations   = bits(opRead, opWrite, opCreate, opDelete, opAlter, opDescribe, opDescribeConfigs, opAlterConfigs)
	clusterOperations = bits(opCreate, opAlter, opDescribe, opClusterAction, opDescribeConfigs, opAlterConfigs, opIdempotentWrite)
)
