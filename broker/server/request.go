package server

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request is one decoded client request, as the connection reader hands it to
// the Dispatcher. Body is a kmsg request of the header's API key with its
// version set and its fields decoded.
type Request struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      *string
	Body          kmsg.Request
	// Listener is the name of the listener the connection came in on (e.g.
	// "PLAINTEXT"); control APIs are accepted only on the inter-broker listener.
	Listener string
	Remote   net.Addr
	// FileRegions is set when the connection can send file regions with
	// sendfile(2): the handler may then return a *SplicedResponse (Fetch
	// records straight from the segment files). Otherwise every byte of
	// the response must be in memory.
	FileRegions bool
}

// Dispatcher serves decoded requests. The handlers package implements it from
// its table of APIs; the server only frames, decodes and orders.
type Dispatcher interface {
	// Versions returns the version range served for key; ok is false for a key
	// that is not implemented (the connection is then closed, as Kafka does).
	Versions(key int16) (min, max int16, ok bool)
	// Handle serves one request. A nil response with a nil error means "send
	// nothing" (Produce with acks=0). A non-nil error means the connection is
	// broken and must be closed; anything a client should see goes in the
	// response. Handle may block (long-poll Fetch, acks=all Produce) and must
	// return promptly once ctx is done.
	Handle(ctx context.Context, req *Request) (kmsg.Response, error)
}
