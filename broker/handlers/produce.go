package handlers

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/replica"
	"github.com/gregor-broker/gregor/broker/server"
)

// Produce (key 0): v3–11.
//
// Behaviour:
//   - acks 0, 1 and -1; any other value answers INVALID_REQUIRED_ACKS (21)
//     for every partition and appends nothing.
//   - Each partition must carry exactly one record batch of magic 2 (Kafka's
//     ProduceRequest.validateRecords): none, two or more, or magic 0/1 →
//     INVALID_RECORD (87); zstd before v7 → UNSUPPORTED_COMPRESSION_TYPE (76).
//     The log validates the batch itself (CRC → CORRUPT_MESSAGE 2, baseOffset
//     ≠ 0, bad counts, control bit, bad records → INVALID_RECORD 87, above
//     max.message.bytes → MESSAGE_TOO_LARGE 10, client-set LogAppendTime →
//     INVALID_TIMESTAMP 32, codec > 4 → 76), assigns offsets and stores the
//     batch as sent (compressed batches are not re-encoded).
//   - Unknown topic or partition → UNKNOWN_TOPIC_OR_PARTITION (3); known but
//     not led here → NOT_LEADER_OR_FOLLOWER (6), with the current leader
//     (v10+ tagged fields, KIP-951).
//   - acks=-1: a committed ISR smaller than min.insync.replicas (broker
//     default or topic override) → NOT_ENOUGH_REPLICAS (19) and nothing is
//     appended; otherwise it waits until every ISR member has the batch (the
//     high watermark passes it: replica.Manager.WaitForAcks, Kafka's
//     DelayedProduce), bounded by TimeoutMillis → REQUEST_TIMED_OUT (7);
//     NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) when the ISR shrank below
//     min.insync.replicas meanwhile. With an ISR of only this broker it
//     completes at once. acks 0 and 1 ignore min.insync.replicas.
//   - acks=0 sends no response; if any partition failed the connection is
//     closed, as Kafka does, so the producer refreshes its metadata.
//   - Idempotent producers (a batch with a producer id): the partition's
//     producer state checks the batch's epoch and sequence under the log's
//     append lock (replica.Manager.AppendRecords). A resend of one of the
//     producer's last five batches answers NONE with the original base
//     offset and writes nothing (acks=all still waits until that offset is
//     replicated); a sequence gap, or a resend older than those five →
//     OUT_OF_ORDER_SEQUENCE_NUMBER (45); an older epoch →
//     INVALID_PRODUCER_EPOCH (47); a producer id the partition does not
//     know is accepted at any sequence (Kafka 2.5+, KIP-360: no
//     UNKNOWN_PRODUCER_ID from the broker).
//   - Errors carry Kafka's message in ErrorMessage (v8+).
//
// Not implemented:
//   - Transactions (issue 5): a request with a TransactionalID is answered
//     INVALID_TXN_STATE (48) for every partition, which is what Kafka answers
//     for a transactional produce to a partition that was never added to a
//     transaction (we serve no AddPartitionsToTxn).
//   - v12+ (KIP-890 part 2, topic ids).
//
// Kafka: KafkaApis.handleProduceRequest, ReplicaManager.appendRecords,
// Partition.appendRecordsToLeader, LogValidator,
// UnifiedLog.analyzeAndValidateProducerState.
func (h *Handlers) handleProduce(ctx context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	snap := h.Metadata.Snapshot()

	// The response mirrors the request's topics and partitions.
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			p.BaseOffset = -1
			resp.Topics[i].Partitions[j] = p
		}
	}
	failAll := func(code *kerr.Error) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code.Code
			}
		}
	}
	switch {
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		failAll(kerr.InvalidRequiredAcks)
		return resp, nil
	case req.TransactionID != nil:
		failAll(kerr.InvalidTxnState)
		return h.produceResponse(req, resp, true)
	}

	now := time.Now()
	type appended struct{ i, j int }
	var (
		results []replica.AppendResult
		where   []appended
		failed  bool
	)
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			if err := validateProduceRecords(req.Version, rp.Records); err != nil {
				h.setProduceError(req, out, err)
				failed = true
				continue
			}
			res := h.Replicas.AppendRecords(rt.Topic, rp.Partition, rp.Records, req.Acks, now)
			if res.Err != nil {
				res.Err = refineNotHosted(snap, rt.Topic, rp.Partition, res.Err)
				h.setProduceError(req, out, res.Err)
				if req.Version >= 10 && apierr.Code(res.Err) == kerr.NotLeaderForPartition.Code {
					out.CurrentLeader.LeaderID, out.CurrentLeader.LeaderEpoch = currentLeader(snap, rt.Topic, rp.Partition)
				}
				failed = true
				continue
			}
			results = append(results, res)
			where = append(where, appended{i, j})
		}
	}
	if req.Acks == -1 && len(results) > 0 {
		h.Replicas.WaitForAcks(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond, results)
	}
	for k, res := range results {
		out := &resp.Topics[where[k].i].Partitions[where[k].j]
		if res.Err != nil {
			h.setProduceError(req, out, res.Err)
			failed = true
			continue
		}
		out.BaseOffset = res.Info.FirstOffset
		out.LogAppendTime = res.Info.LogAppendTime
		if out.LogAppendTime == 0 {
			out.LogAppendTime = -1
		}
		out.LogStartOffset = res.Info.LogStartOffset
	}
	return h.produceResponse(req, resp, failed)
}

// produceResponse applies acks=0: no response, and a failed request closes
// the connection (Kafka's KafkaApis closes it so the client refreshes).
func (h *Handlers) produceResponse(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, failed bool) (kmsg.Response, error) {
	if req.Acks != 0 {
		return resp, nil
	}
	if failed {
		return nil, errAcksZeroFailed
	}
	return nil, nil
}

type acksZeroError struct{}

func (acksZeroError) Error() string {
	return "produce with acks=0 failed on some partition; closing the connection as Kafka does"
}

var errAcksZeroFailed error = acksZeroError{}

func (h *Handlers) setProduceError(req *kmsg.ProduceRequest, out *kmsg.ProduceResponseTopicPartition, err error) {
	out.ErrorCode = h.errorCode(err)
	out.BaseOffset, out.LogAppendTime, out.LogStartOffset = -1, -1, -1
	if req.Version >= 8 {
		out.ErrorMessage = errorMessage(err)
	}
}

// Record batch v2 header fields (DefaultRecordBatch).
const (
	batchLengthOffset     = 8  // int32, bytes after this field
	batchMagicOffset      = 16 // int8
	batchAttributesOffset = 21 // int16
	batchHeaderSize       = 61
	compressionZstd       = 4
)

// validateProduceRecords is Kafka's ProduceRequest.validateRecords for v3+:
// exactly one batch of magic 2 per partition; zstd only from v7.
func validateProduceRecords(version int16, records []byte) error {
	invalid := func(msg string) error { return apierr.New(kerr.InvalidRecord, msg) }
	if len(records) < batchMagicOffset+1 {
		return invalid("Produce requests with version 3 and above must have exactly one record batch per partition")
	}
	if magic := int8(records[batchMagicOffset]); magic != 2 {
		return invalid("Produce requests with version 3 and above are only allowed to contain record batches with magic version 2")
	}
	if len(records) < batchHeaderSize {
		return apierr.New(kerr.CorruptMessage, "Record batch is shorter than its header")
	}
	size := int64(int32(binary.BigEndian.Uint32(records[batchLengthOffset:]))) + batchLengthOffset + 4
	if size < batchHeaderSize {
		return apierr.New(kerr.CorruptMessage, "Record batch length is smaller than the batch header")
	}
	if int64(len(records)) > size {
		return invalid("Produce requests with version 3 and above are only allowed to contain exactly one record batch per partition")
	}
	if version < 7 && binary.BigEndian.Uint16(records[batchAttributesOffset:])&7 == compressionZstd {
		return apierr.New(kerr.UnsupportedCompressionType, "Produce requests with version below 7 cannot use zstd compression")
	}
	return nil
}
