package storage

import "errors"

// Sentinel errors. Callers check them with errors.Is; the returned errors wrap
// them with detail (offsets, positions, sizes). The comment names the Kafka
// error code a handler should answer with.
var (
	// ErrCorruptBatch: a bad CRC, impossible length fields or a torn batch.
	// Kafka CORRUPT_MESSAGE (2).
	ErrCorruptBatch = errors.New("storage: corrupt batch")

	// ErrInvalidRecord: a batch a client must not send: baseOffset != 0 on the
	// leader path, lastOffsetDelta != count-1, count <= 0, magic != 2, the
	// control bit set, malformed record varints, a bad or truncated compressed
	// payload, or one that decompresses past MaxDecompressedBatchBytes.
	// Kafka INVALID_RECORD (87).
	ErrInvalidRecord = errors.New("storage: invalid record")

	// ErrBatchTooLarge: a batch bigger than max.message.bytes.
	// Kafka MESSAGE_TOO_LARGE (10).
	ErrBatchTooLarge = errors.New("storage: batch too large")

	// ErrInvalidTimestamp: a client set the LogAppendTime timestamp-type bit.
	// Kafka INVALID_TIMESTAMP (32).
	ErrInvalidTimestamp = errors.New("storage: invalid timestamp")

	// ErrUnsupportedCompression: a compression codec id above 4 (zstd).
	// Kafka UNSUPPORTED_COMPRESSION_TYPE (76).
	ErrUnsupportedCompression = errors.New("storage: unsupported compression type")

	// ErrOffsetOutOfRange: an offset below the log start offset or above the
	// log end offset. Kafka OFFSET_OUT_OF_RANGE (1).
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")

	// ErrNotContiguous: a follower append whose first offset is not the log
	// end offset, or whose batches do not follow each other.
	ErrNotContiguous = errors.New("storage: offsets not contiguous")

	// ErrLogClosed: the Log or Manager was closed.
	ErrLogClosed = errors.New("storage: log closed")

	// ErrInconsistentTopicID: SetTopicID with an ID other than the one in
	// partition.metadata. Kafka INCONSISTENT_TOPIC_ID (103).
	ErrInconsistentTopicID = errors.New("storage: inconsistent topic id")

	// ErrOutOfOrderSequence: an idempotent producer's batch whose first
	// sequence does not follow its last one (a gap, or a resend older than
	// the five remembered batches), or a new epoch not starting at 0.
	// Kafka OUT_OF_ORDER_SEQUENCE_NUMBER (45).
	ErrOutOfOrderSequence = errors.New("storage: out of order sequence number")

	// ErrInvalidProducerEpoch: a batch with an older producer epoch than
	// the partition has seen. Kafka INVALID_PRODUCER_EPOCH (47).
	ErrInvalidProducerEpoch = errors.New("storage: invalid producer epoch")

	// ErrLogDirLocked: another process (or Manager) holds a log dir's .lock.
	ErrLogDirLocked = errors.New("storage: log dir locked")
)
