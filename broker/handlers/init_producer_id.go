package handlers

import (
	"context"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// ProducerIDs hands out cluster-unique producer ids (zkpaths.ProducerIDManager,
// Kafka's ZkProducerIdManager).
type ProducerIDs interface {
	GenerateProducerID() (int64, error)
}

// InitProducerId (key 22): v0–4, idempotent producers only.
//
// Behaviour:
//   - Without a transactional id: a new producer id from this broker's
//     block of /latest_producer_id_block and epoch 0, whatever ProducerID /
//     ProducerEpoch (v3+, KIP-360) the request carries: Kafka's
//     TransactionCoordinator.handleInitProducerId "blindly accepts" a
//     non-transactional request and returns a fresh id, because no broker
//     keeps a record of an idempotent producer's epoch to bump. (Clients
//     bump the epoch of an idempotent producer themselves and ask for a new
//     id only when the epoch would overflow, which this serves.)
//   - ProducerID set with ProducerEpoch -1 or the reverse → INVALID_REQUEST
//     (42), as KafkaApis.handleInitProducerIdRequest checks.
//   - The block cannot be taken from ZooKeeper → COORDINATOR_LOAD_IN_PROGRESS
//     (14), what Kafka's RPCProducerIdManager answers while it has no block:
//     retriable, so the client tries again rather than failing.
//
// Not implemented: transactions. A transactional id is answered
// UNSUPPORTED_VERSION (35). This broker has no transaction coordinator and
// does not advertise AddPartitionsToTxn, EndTxn or TxnOffsetCommit, so
// transactions are a protocol feature it does not have; UNSUPPORTED_VERSION
// is how Kafka tells a client that (a pre-0.11 broker), and every client
// treats it as fatal at once with a clear cause. The alternatives mislead:
// NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE send the producer back to
// FindCoordinator in a loop until max.block.ms, and
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED blames ACLs that do not exist.
//
// Kafka: KafkaApis.handleInitProducerIdRequest,
// TransactionCoordinator.handleInitProducerId, ZkProducerIdManager.
func (h *Handlers) handleInitProducerID(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	switch {
	case req.TransactionalID != nil:
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp, nil
	case (req.ProducerID == -1) != (req.ProducerEpoch == -1):
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	case h.ProducerIDs == nil:
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	id, err := h.ProducerIDs.GenerateProducerID()
	if err != nil {
		h.log.WithError(err).WithFields(logrus.Fields{"client_id": clientID(r)}).Warn("no producer id for InitProducerId")
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
