package cli

import (
	"sync/atomic"

	"github.com/IBM/sarama"
)

// Murmur2 is Kafka's Utils.murmur2, the hash of its default partitioner, so
// a keyed record lands on the partition a Java producer would choose.
func Murmur2(data []byte) int32 {
	const (
		seed = uint32(0x9747b28c)
		m    = uint32(0x5bd1e995)
		r    = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	n := length / 4
	for i := 0; i < n; i++ {
		k := uint32(data[i*4]) | uint32(data[i*4+1])<<8 | uint32(data[i*4+2])<<16 | uint32(data[i*4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// kafkaPartitioner is Kafka's default partitioner: murmur2 of the key for
// keyed records, and round robin for records without a key (Kafka's sticky
// batching is a throughput detail, not a placement contract).
type kafkaPartitioner struct{ next atomic.Uint32 }

// NewKafkaPartitioner is a sarama.PartitionerConstructor for Kafka's
// default placement.
func NewKafkaPartitioner(string) sarama.Partitioner { return &kafkaPartitioner{} }

func (p *kafkaPartitioner) Partition(msg *sarama.ProducerMessage, n int32) (int32, error) {
	if msg.Key == nil {
		return int32(p.next.Add(1)-1) % n, nil
	}
	key, err := msg.Key.Encode()
	if err != nil {
		return -1, err
	}
	return (Murmur2(key) & 0x7fffffff) % n, nil
}

func (p *kafkaPartitioner) RequiresConsistency() bool { return true }
