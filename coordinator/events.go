package coordinator

import "github.com/twmb/franz-go/pkg/kmsg"

// event is one unit of controller work (Kafka's ControllerEvent).
type event interface{}

type (
	startupEvent                struct{}
	controllerChangeEvent       struct{}                     // /controller created or changed
	reelectEvent                struct{}                     // /controller deleted, or a new session
	expireEvent                 struct{ done chan struct{} } // the ZooKeeper session expired; done closed once resigned
	brokerChangeEvent           struct{}                     // children of /brokers/ids
	brokerModificationEvent     struct{ id int32 }
	topicChangeEvent            struct{} // children of /brokers/topics
	partitionModificationsEvent struct{ topic string }
	topicDeletionEvent          struct{} // children of /admin/delete_topics
	stopReplicaResponseEvent    struct {
		broker int32
		resp   *kmsg.StopReplicaResponse
	}
	// alterPartitionEvent is an AlterPartition request from a partition
	// leader; the answer goes to reply (buffered).
	alterPartitionEvent struct {
		req   *kmsg.AlterPartitionRequest
		reply chan *kmsg.AlterPartitionResponse
	}
	retryEvent struct {
		key string
		ev  event
	}
)
