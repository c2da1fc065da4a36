// Package handlers serves the Kafka APIs: one file per API, each opening
// with its contract (versions served, behaviour, what is not implemented,
// the Kafka source it follows). apis.go is the one table of API key →
// version range → handler; ApiVersions is generated from it, so what is
// advertised is exactly what is implemented. errors.go is the one mapping
// from Go errors to Kafka error codes.
//
// Handlers are thin: the server has decoded the request; a handler
// validates, calls the replica manager, the metadata cache or the
// TopicAdmin, and builds the response from req.ResponseKind(). They do no
// file I/O and no ZooKeeper calls of their own. Per-partition problems go
// into the response as Kafka codes; a returned Go error only means "close
// this connection".
//
// The broker wires the package (broker/broker.go): New(Deps) returns a
// *Handlers, which implements server.Dispatcher.
package handlers
