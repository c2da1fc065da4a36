package coordinator

import (
	"sort"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/zkpaths"
)

// requestBatch is ControllerBrokerRequestBatch: state changes add entries,
// send flushes LeaderAndIsr first, then UpdateMetadata, then StopReplica,
// to live brokers only.
type requestBatch struct {
	leaderAndISR map[int32]map[tp]bool // broker → partition → isNew
	umToAll      bool
	umBrokers    map[int32]bool
	umPartitions map[tp]bool
	stopReplica  map[int32]map[tp]bool // broker → partition → delete
}

func newRequestBatch() *requestBatch {
	return &requestBatch{
		leaderAndISR: map[int32]map[tp]bool{},
		umBrokers:    map[int32]bool{},
		umPartitions: map[tp]bool{},
		stopReplica:  map[int32]map[tp]bool{},
	}
}

// addLeaderAndISR queues LeaderAndIsr for p to brokers, and UpdateMetadata
// for p to every live broker (addLeaderAndIsrRequestForBrokers).
func (b *requestBatch) addLeaderAndISR(brokers []int32, p tp, isNew bool) {
	for _, id := range brokers {
		if b.leaderAndISR[id] == nil {
			b.leaderAndISR[id] = map[tp]bool{}
		}
		b.leaderAndISR[id][p] = b.leaderAndISR[id][p] || isNew
	}
	b.addUpdateMetadataToAll(p)
}

// addUpdateMetadataToAll queues UpdateMetadata for ps to every live broker.
func (b *requestBatch) addUpdateMetadataToAll(ps ...tp) {
	b.umToAll = true
	for _, p := range ps {
		b.umPartitions[p] = true
	}
}

// addUpdateMetadata queues UpdateMetadata for ps (maybe none: brokers
// only) to brokers.
func (b *requestBatch) addUpdateMetadata(brokers []int32, ps ...tp) {
	for _, id := range brokers {
		b.umBrokers[id] = true
	}
	for _, p := range ps {
		b.umPartitions[p] = true
	}
}

func (b *requestBatch) addStopReplica(broker int32, p tp, deletePartition bool) {
	if b.stopReplica[broker] == nil {
		b.stopReplica[broker] = map[tp]bool{}
	}
	b.stopReplica[broker][p] = b.stopReplica[broker][p] || deletePartition
}

func (b *requestBatch) empty() bool {
	return len(b.leaderAndISR) == 0 && !b.umToAll && len(b.umBrokers) == 0 && len(b.stopReplica) == 0
}

func sortedIDs[V any](m map[int32]V) []int32 {
	out := make([]int32, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedTPSet(m map[tp]bool) []tp {
	out := make([]tp, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sortTPs(out)
	return out
}

// sendBatch flushes c.batch (sendRequestsToBrokers).
func (c *Controller) sendBatch() {
	b := c.batch
	if b == nil || b.empty() {
		return
	}
	c.batch = newRequestBatch()
	if sid := c.zk.Client.SessionID(); sid != c.electedSession {
		// Our session is gone (a pause past the session timeout): another
		// controller may be running with a higher epoch; send nothing.
		c.log.WithField("controller_epoch", c.epoch.Load()).Warn("zookeeper session lost; control requests not sent")
		return
	}
	cc := c.cc
	for _, id := range sortedIDs(b.leaderAndISR) {
		if !cc.isLive(id) {
			continue
		}
		req := c.leaderAndISRRequest(id, b.leaderAndISR[id])
		if req == nil {
			continue
		}
		c.log.WithFields(logrus.Fields{"broker_id": id, "partitions": len(b.leaderAndISR[id])}).Debug("sending LeaderAndIsr")
		c.channels.send(id, req, nil)
	}
	recipients := b.umBrokers
	if b.umToAll {
		recipients = map[int32]bool{}
		for id := range cc.brokers {
			recipients[id] = true
		}
	}
	parts := sortedTPSet(b.umPartitions)
	for _, id := range sortedIDs(recipients) {
		if !cc.isLive(id) {
			continue
		}
		c.channels.send(id, c.updateMetadataRequest(id, parts), nil)
	}
	for _, id := range sortedIDs(b.stopReplica) {
		if !cc.isLive(id) {
			continue
		}
		broker := id
		c.channels.send(id, c.stopReplicaRequest(id, b.stopReplica[id]), func(resp kmsg.Response) {
			if r, ok := resp.(*kmsg.StopReplicaResponse); ok {
				c.events.put(stopReplicaResponseEvent{broker: broker, resp: r})
			}
		})
	}
}

// interBrokerEndpoint is the endpoint the controller and replicas use.
func (c *Controller) interBrokerEndpoint(info zkpaths.BrokerInfo) (zkpaths.Endpoint, bool) {
	if e, ok := info.Endpoint(c.cfg.InterBrokerListener); ok {
		return e, true
	}
	if len(info.Endpoints) > 0 {
		return info.Endpoints[0], false
	}
	return zkpaths.Endpoint{}, false
}

func (c *Controller) leaderAndISRRequest(broker int32, parts map[tp]bool) *kmsg.LeaderAndISRRequest {
	cc := c.cc
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.Version = leaderAndISRVersion
	req.ControllerID = c.cfg.BrokerID
	req.ControllerEpoch = c.epoch.Load()
	req.BrokerEpoch = cc.brokers[broker].epoch
	req.Type = 0
	byTopic := map[string]int{}
	leaders := map[int32]bool{}
	for _, p := range sortedTPSet(parts) {
		pi := cc.partition(p)
		if pi == nil || pi.leadership == nil {
			continue
		}
		i, ok := byTopic[p.topic]
		if !ok {
			ts := kmsg.NewLeaderAndISRRequestTopicState()
			ts.Topic = p.topic
			ts.TopicID = cc.topics[p.topic].id
			req.TopicStates = append(req.TopicStates, ts)
			i = len(req.TopicStates) - 1
			byTopic[p.topic] = i
		}
		st := pi.leadership
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Partition = p.partition
		ps.ControllerEpoch = st.ControllerEpoch
		ps.Leader = st.Leader
		ps.LeaderEpoch = st.LeaderEpoch
		ps.ISR = append([]int32{}, st.ISR...)
		ps.ZKVersion = pi.zkVersion
		ps.Replicas = append([]int32{}, pi.replicas...)
		ra := c.ongoingReassignments()[p] // AR/RR of an ongoing reassignment (reassign.go)
		ps.AddingReplicas = append([]int32{}, ra.adding...)
		ps.RemovingReplicas = append([]int32{}, ra.removing...)
		ps.IsNew = parts[p]
		req.TopicStates[i].PartitionStates = append(req.TopicStates[i].PartitionStates, ps)
		leaders[st.Leader] = true
	}
	if len(req.TopicStates) == 0 {
		return nil
	}
	for _, id := range sortedIDs(leaders) {
		lb, ok := cc.brokers[id]
		if !ok {
			continue
		}
		e, _ := c.interBrokerEndpoint(lb.info)
		ll := kmsg.NewLeaderAndISRRequestLiveLeader()
		ll.BrokerID = id
		ll.Host = e.Host
		ll.Port = int32(e.Port)
		req.LiveLeaders = append(req.LiveLeaders, ll)
	}
	return req
}

// securityProtocolID maps a security protocol name to its wire id.
func securityProtocolID(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}

func (c *Controller) updateMetadataRequest(broker int32, parts []tp) *kmsg.UpdateMetadataRequest {
	cc := c.cc
	req := kmsg.NewPtrUpdateMetadataRequest()
	req.Version = updateMetadataVersion
	req.ControllerID = c.cfg.BrokerID
	req.ControllerEpoch = c.epoch.Load()
	req.BrokerEpoch = cc.brokers[broker].epoch
	byTopic := map[string]int{}
	for _, p := range parts {
		pi := cc.partition(p)
		if pi == nil || pi.leadership == nil {
			continue
		}
		i, ok := byTopic[p.topic]
		if !ok {
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic = p.topic
			ts.TopicID = cc.topics[p.topic].id
			req.TopicStates = append(req.TopicStates, ts)
			i = len(req.TopicStates) - 1
			byTopic[p.topic] = i
		}
		st := pi.leadership
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Partition = p.partition
		ps.ControllerEpoch = st.ControllerEpoch
		ps.Leader = st.Leader
		if cc.deleting(p.topic) {
			ps.Leader = zkpaths.LeaderDuringDelete
		}
		ps.LeaderEpoch = st.LeaderEpoch
		ps.ISR = append([]int32{}, st.ISR...)
		ps.ZKVersion = pi.zkVersion
		ps.Replicas = append([]int32{}, pi.replicas...)
		ps.OfflineReplicas = filter(pi.replicas, func(r int32) bool { return !cc.isLive(r) })
		req.TopicStates[i].PartitionStates = append(req.TopicStates[i].PartitionStates, ps)
	}
	for _, id := range cc.liveIDs() {
		lb := cc.brokers[id]
		b := kmsg.NewUpdateMetadataRequestLiveBroker()
		b.ID = id
		for _, e := range lb.info.Endpoints {
			ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			ep.Port = int32(e.Port)
			ep.Host = e.Host
			ep.ListenerName = e.Listener
			ep.SecurityProtocol = securityProtocolID(e.SecurityProtocol)
			b.Endpoints = append(b.Endpoints, ep)
		}
		if lb.info.Rack != "" {
			rack := lb.info.Rack
			b.Rack = &rack
		}
		req.LiveBrokers = append(req.LiveBrokers, b)
	}
	return req
}

func (c *Controller) stopReplicaRequest(broker int32, parts map[tp]bool) *kmsg.StopReplicaRequest {
	cc := c.cc
	req := kmsg.NewPtrStopReplicaRequest()
	req.Version = stopReplicaVersion
	req.ControllerID = c.cfg.BrokerID
	req.ControllerEpoch = c.epoch.Load()
	req.BrokerEpoch = cc.brokers[broker].epoch
	byTopic := map[string]int{}
	for _, p := range sortedTPSet(parts) {
		i, ok := byTopic[p.topic]
		if !ok {
			t := kmsg.NewStopReplicaRequestTopic()
			t.Topic = p.topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[p.topic] = i
		}
		ps := kmsg.NewStopReplicaRequestTopicPartitionState()
		ps.Partition = p.partition
		ps.LeaderEpoch = -1
		if pi := cc.partition(p); pi != nil && pi.leadership != nil {
			ps.LeaderEpoch = pi.leadership.LeaderEpoch
		}
		if cc.deleting(p.topic) {
			ps.LeaderEpoch = zkpaths.EpochDuringDelete
		}
		ps.Delete = parts[p]
		req.Topics[i].PartitionStates = append(req.Topics[i].PartitionStates, ps)
	}
	return req
}
