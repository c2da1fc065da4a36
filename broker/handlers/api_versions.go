package handlers

import (
	"context"
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// ApiVersions (key 18): v0–3.
//
// Behaviour:
//   - Lists every API of the table in apis.go with its served range, sorted
//     by key; nothing else is advertised.
//   - A version above ours (the server decodes it as a v0 body and passes the
//     client's version in Request.APIVersion) is answered as Kafka does since
//     KIP-511: a v0 response with UNSUPPORTED_VERSION (35) carrying only the
//     ApiVersions range, so the client retries at a version we serve.
//   - v3+: ClientSoftwareName and ClientSoftwareVersion must match
//     [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?, else INVALID_REQUEST (42)
//     (KIP-511).
//
// Not implemented: feature flags (KIP-584; none are finalized in ZooKeeper
// mode without IBP features), v4+ (Kafka 3.7+).
//
// Kafka: KafkaApis.handleApiVersionsRequest, ApiVersionsRequest.isValid.
func (h *Handlers) handleApiVersions(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	self, _ := h.apis.lookup(apiKeyApiVersions)
	if r.APIVersion > self.max || r.APIVersion < self.min {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = self.key, self.min, self.max
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{k}
		return resp, nil
	}
	if req.Version >= 3 && (!validSoftware.MatchString(req.ClientSoftwareName) || !validSoftware.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, 0, len(h.apis.sorted))
	for _, a := range h.apis.sorted { // sorted by key
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp, nil
}

var validSoftware = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)
