package cli

import (
	"fmt"

	"github.com/IBM/sarama"
)

// APIKey is one entry of Kafka 3.7's ApiKeys enum as the Java client knows
// it: the name it prints, the newest version it can send, and whether it is
// one of ApiKeys.clientApis() (the APIs a ZooKeeper-mode or KRaft broker
// serves, which kafka-broker-api-versions lists as UNSUPPORTED when a broker
// does not advertise them).
type APIKey struct {
	Key    int16
	Name   string
	Latest int16
	Client bool
}

// APIKeys is Kafka 3.7's table, by key.
var APIKeys = []APIKey{
	{0, "Produce", 10, true},
	{1, "Fetch", 16, true},
	{2, "ListOffsets", 8, true},
	{3, "Metadata", 12, true},
	{4, "LeaderAndIsr", 7, true},
	{5, "StopReplica", 4, true},
	{6, "UpdateMetadata", 8, true},
	{7, "ControlledShutdown", 3, true},
	{8, "OffsetCommit", 9, true},
	{9, "OffsetFetch", 9, true},
	{10, "FindCoordinator", 4, true},
	{11, "JoinGroup", 9, true},
	{12, "Heartbeat", 4, true},
	{13, "LeaveGroup", 5, true},
	{14, "SyncGroup", 5, true},
	{15, "DescribeGroups", 5, true},
	{16, "ListGroups", 4, true},
	{17, "SaslHandshake", 1, true},
	{18, "ApiVersions", 3, true},
	{19, "CreateTopics", 7, true},
	{20, "DeleteTopics", 6, true},
	{21, "DeleteRecords", 2, true},
	{22, "InitProducerId", 4, true},
	{23, "OffsetForLeaderEpoch", 4, true},
	{24, "AddPartitionsToTxn", 4, true},
	{25, "AddOffsetsToTxn", 3, true},
	{26, "EndTxn", 3, true},
	{27, "WriteTxnMarkers", 1, true},
	{28, "TxnOffsetCommit", 3, true},
	{29, "DescribeAcls", 3, true},
	{30, "CreateAcls", 3, true},
	{31, "DeleteAcls", 3, true},
	{32, "DescribeConfigs", 4, true},
	{33, "AlterConfigs", 2, true},
	{34, "AlterReplicaLogDirs", 2, true},
	{35, "DescribeLogDirs", 4, true},
	{36, "SaslAuthenticate", 2, true},
	{37, "CreatePartitions", 3, true},
	{38, "CreateDelegationToken", 3, true},
	{39, "RenewDelegationToken", 2, true},
	{40, "ExpireDelegationToken", 2, true},
	{41, "DescribeDelegationToken", 3, true},
	{42, "DeleteGroups", 2, true},
	{43, "ElectLeaders", 2, true},
	{44, "IncrementalAlterConfigs", 1, true},
	{45, "AlterPartitionReassignments", 0, true},
	{46, "ListPartitionReassignments", 0, true},
	{47, "OffsetDelete", 0, true},
	{48, "DescribeClientQuotas", 1, true},
	{49, "AlterClientQuotas", 1, true},
	{50, "DescribeUserScramCredentials", 0, true},
	{51, "AlterUserScramCredentials", 0, true},
	{52, "Vote", 0, false},
	{53, "BeginQuorumEpoch", 0, false},
	{54, "EndQuorumEpoch", 0, false},
	{55, "DescribeQuorum", 1, true},
	{56, "AlterPartition", 3, true},
	{57, "UpdateFeatures", 1, true},
	{58, "Envelope", 0, true},
	{59, "FetchSnapshot", 0, false},
	{60, "DescribeCluster", 1, true},
	{61, "DescribeProducers", 0, true},
	{62, "BrokerRegistration", 3, false},
	{63, "BrokerHeartbeat", 1, false},
	{64, "UnregisterBroker", 0, true},
	{65, "DescribeTransactions", 0, true},
	{66, "ListTransactions", 0, true},
	{67, "AllocateProducerIds", 0, true},
	{68, "ConsumerGroupHeartbeat", 0, true},
	{69, "ConsumerGroupDescribe", 0, true},
	{70, "ControllerRegistration", 0, false},
	{71, "GetTelemetrySubscriptions", 0, true},
	{72, "PushTelemetry", 0, true},
	{73, "AssignReplicasToDirs", 0, false},
	{74, "ListClientMetricsResources", 0, true},
}

// APIByKey finds key in APIKeys.
func APIByKey(key int16) (APIKey, bool) {
	for _, a := range APIKeys {
		if a.Key == key {
			return a, true
		}
	}
	return APIKey{}, false
}

// RequireAPI fails with Kafka's UnsupportedVersionException when the broker
// does not advertise key. Tools call it before an API Gregor may not serve
// yet, so the user reads which API is missing instead of a dropped
// connection.
func RequireAPI(b *sarama.Broker, key int16) error {
	if ok, _ := b.Connected(); !ok {
		if err := b.Open(nil); err != nil && err != sarama.ErrAlreadyConnected {
			return err
		}
	}
	res, err := b.ApiVersions(&sarama.ApiVersionsRequest{Version: 0})
	if err != nil {
		return err
	}
	for _, k := range res.ApiKeys {
		if k.ApiKey == key {
			return nil
		}
	}
	name := fmt.Sprintf("api key %d", key)
	if a, ok := APIByKey(key); ok {
		name = a.Name
	}
	return Errorf("UnsupportedVersionException", "The broker does not support %s", upperSnake(name))
}

// upperSnake turns "CreatePartitions" into "CREATE_PARTITIONS", the way
// Kafka's ApiKeys enum constants are spelled in its messages.
func upperSnake(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' && i > 0 {
			out = append(out, '_')
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}
