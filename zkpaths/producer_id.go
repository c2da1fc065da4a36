package zkpaths

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
)

// ProducerIDBlockSize is the number of producer ids a broker takes at once
// (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
const ProducerIDBlockSize = 1000

// ErrProducerIDsExhausted: the next block would pass math.MaxInt64 (Kafka
// treats this as fatal: "Have exhausted all producerIds.").
var ErrProducerIDsExhausted = errors.New("zkpaths: producer ids exhausted")

// AllocateProducerIDBlock takes the next block of ProducerIDBlockSize ids
// for brokerID from /latest_producer_id_block, Kafka's
// ZkProducerIdManager.getNewProducerIdBlock: read the znode and its
// dataVersion, compute [previous end + 1, +999] (or [0, 999] when the data
// is null), and write it back conditionally on that dataVersion. A version
// conflict means another broker took a block meanwhile: read again and
// retry. A missing znode (a chroot that never ran the broker's start-up) is
// created with null data first.
func (c *Client) AllocateProducerIDBlock(brokerID int32) (ProducerIDBlock, error) {
	for {
		data, stat, err := c.Get(ProducerIDBlockPath)
		if errors.Is(err, zk.ErrNoNode) {
			if err := c.CreateRecursive(ProducerIDBlockPath, nil); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return ProducerIDBlock{}, err
			}
			continue
		}
		if err != nil {
			return ProducerIDBlock{}, err
		}
		prev, ok, err := DecodeProducerIDBlock(data)
		if err != nil {
			return ProducerIDBlock{}, err
		}
		next := ProducerIDBlock{Broker: brokerID, BlockStart: 0, BlockEnd: ProducerIDBlockSize - 1}
		if ok {
			if prev.BlockEnd > math.MaxInt64-ProducerIDBlockSize {
				return ProducerIDBlock{}, fmt.Errorf("%w: last block ends at %d", ErrProducerIDsExhausted, prev.BlockEnd)
			}
			next.BlockStart = prev.BlockEnd + 1
			next.BlockEnd = prev.BlockEnd + ProducerIDBlockSize
		}
		_, err = c.Set(ProducerIDBlockPath, next.Encode(), stat.Version)
		if errors.Is(err, zk.ErrBadVersion) {
			continue
		}
		if err != nil {
			return ProducerIDBlock{}, err
		}
		return next, nil
	}
}

// ProducerIDManager hands out producer ids from this broker's current
// block and takes the next block from ZooKeeper when the current one is
// used up (Kafka's ZkProducerIdManager, IBP < 3.0). Ids are unique across
// the cluster and across restarts because every block is allocated by a
// conditional write of /latest_producer_id_block; ids left in a block when
// the broker stops are never reused. Safe for concurrent use.
type ProducerIDManager struct {
	zk       *Client
	brokerID int32
	log      *logrus.Entry

	mu    sync.Mutex
	block ProducerIDBlock
	next  int64 // next id to hand out; > block.BlockEnd when a new block is needed
}

// NewProducerIDManager returns a manager for brokerID. It takes no block
// until the first GenerateProducerID, so a broker that never serves an
// idempotent producer writes nothing to ZooKeeper.
func NewProducerIDManager(c *Client, brokerID int32, log *logrus.Entry) *ProducerIDManager {
	return &ProducerIDManager{zk: c, brokerID: brokerID, log: log, next: 0, block: ProducerIDBlock{BlockEnd: -1}}
}

// GenerateProducerID returns a producer id never handed out before by any
// broker of the cluster. It blocks on ZooKeeper when a new block is needed;
// the error is then the allocation's.
func (m *ProducerIDManager) GenerateProducerID() (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next > m.block.BlockEnd {
		b, err := m.zk.AllocateProducerIDBlock(m.brokerID)
		if err != nil {
			return -1, fmt.Errorf("allocate producer id block: %w", err)
		}
		m.block, m.next = b, b.BlockStart
		if m.log != nil {
			m.log.WithFields(logrus.Fields{"block_start": b.BlockStart, "block_end": b.BlockEnd}).Info("acquired producer id block")
		}
	}
	id := m.next
	m.next++
	return id, nil
}
