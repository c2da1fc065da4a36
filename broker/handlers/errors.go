package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/storage"
)

// storageCodes maps the storage sentinels to Kafka's codes (Kafka's
// LogValidator and UnifiedLog exceptions, as Errors.forException maps them).
var storageCodes = []struct {
	err  error
	code *kerr.Error
}{
	{storage.ErrCorruptBatch, kerr.CorruptMessage},                       // 2
	{storage.ErrInvalidRecord, kerr.InvalidRecord},                       // 87
	{storage.ErrBatchTooLarge, kerr.MessageTooLarge},                     // 10
	{storage.ErrInvalidTimestamp, kerr.InvalidTimestamp},                 // 32
	{storage.ErrUnsupportedCompression, kerr.UnsupportedCompressionType}, // 76
	{storage.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},                 // 1
	{storage.ErrInconsistentTopicID, kerr.InconsistentTopicID},           // 103
	{storage.ErrLogClosed, kerr.NotLeaderForPartition},                   // 6: the partition was stopped under the request
	{context.DeadlineExceeded, kerr.RequestTimedOut},                     // 7
	{context.Canceled, kerr.RequestTimedOut},                             // 7
}

// errorCode is the one mapping from a Go error to a Kafka error code: nil is
// 0; *apierr.Error and *kerr.Error carry their code; storage sentinels and
// context errors map by the table above; anything else is
// UNKNOWN_SERVER_ERROR (-1), logged here at error level (rate-limited) and
// nowhere else.
func (h *Handlers) errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ae *apierr.Error
	var ke *kerr.Error
	if errors.As(err, &ae) || errors.As(err, &ke) {
		return apierr.Code(err)
	}
	for _, sc := range storageCodes {
		if errors.Is(err, sc.err) {
			return sc.code.Code
		}
	}
	h.logUnknown(err)
	return kerr.UnknownServerError.Code
}

// errorMessage is the client-visible message for err (Produce v8+,
// CreateTopics v1+, DeleteTopics v5+): apierr's message, the storage error's
// detail for invalid batches, else nil (Kafka sends null).
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	if m := apierr.Message(err); m != nil {
		return m
	}
	for _, sc := range storageCodes[:5] {
		if errors.Is(err, sc.err) {
			m := err.Error()
			return &m
		}
	}
	return nil
}

// logUnknown logs an unexpected error at most once a second, counting the
// ones it skipped (a bad client must not flood the log).
func (h *Handlers) logUnknown(err error) {
	h.unknownMu.Lock()
	now := time.Now()
	if now.Sub(h.unknownLast) < time.Second {
		h.unknownSkip++
		h.unknownMu.Unlock()
		return
	}
	skipped := h.unknownSkip
	h.unknownLast, h.unknownSkip = now, 0
	h.unknownMu.Unlock()
	h.log.WithError(err).WithFields(logrus.Fields{"suppressed": skipped}).Error("unexpected error answered as UNKNOWN_SERVER_ERROR")
}
