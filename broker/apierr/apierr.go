// Package apierr carries a Kafka error code and a client-visible message
// across package boundaries (coordinator admin calls, storage, replica) to the
// request handlers, which put them into responses. It is a leaf package: it
// imports only kerr.
package apierr

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error is an error a Kafka client should see: a protocol error code and the
// message Kafka would send with it (for example INVALID_REPLICATION_FACTOR with
// "Replication factor: 2 larger than available brokers: 1.").
type Error struct {
	Code    *kerr.Error
	Message string
}

// New returns an *Error with the given code and message.
func New(code *kerr.Error, message string) *Error {
	return &Error{Code: code, Message: message}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Message
	}
	return e.Message
}

// Unwrap lets errors.Is(err, kerr.X) match.
func (e *Error) Unwrap() error { return e.Code }

// Code returns the Kafka error code for err: 0 for nil, the code of a wrapped
// *Error or *kerr.Error, and UNKNOWN_SERVER_ERROR (-1) for anything else.
func Code(err error) int16 {
	if err == nil {
		return 0
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code.Code
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// Message returns the client-visible message for err, or nil when err carries
// no message of its own (Kafka sends null in that case).
func Message(err error) *string {
	var ae *Error
	if errors.As(err, &ae) && ae.Message != "" {
		m := ae.Message
		return &m
	}
	return nil
}
