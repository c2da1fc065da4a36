// Package server owns the broker's listeners and client connections: it
// accepts TCP connections, reads size-prefixed request frames, decodes the
// request header and body with kmsg, hands each Request to a Dispatcher and
// writes the responses back in request order. It does not know what any API
// means; broker/handlers implements Dispatcher. broker wires the two: New,
// Start, and Close on shutdown. The model is Kafka's SocketServer and
// RequestChannel (and franz-go's kfake client_conn.go).
//
// # Connections
//
// Each connection has exactly one reader and one writer goroutine. The reader
// reads a frame, decodes it, calls Dispatcher.Handle inline, and passes the
// response to the writer over an unbuffered channel. So, as in Kafka, one
// request per connection is processed at a time, responses leave in request
// order, and a client pipelining thousands of requests costs at most one
// request being handled plus one response being written. The writer encodes
// size, response header and body into one reused buffer and writes it with a
// single Write. A nil response (acks=0 Produce) sends nothing.
//
// # Zero-copy responses
//
// On a TCP connection Request.FileRegions is set, and a handler may return a
// *SplicedResponse: a kmsg response whose byte fields (Fetch record sets)
// hold placeholders standing for regions of files. The writer encodes it
// with kmsg as usual, then writes it in pieces: the encoded bytes up to each
// placeholder's length prefix, the region's own length prefix (kbin, the
// encoder kmsg uses), the region itself with sendfile(2) at an explicit
// offset (page cache to socket, never through user space), and the rest.
// So every protocol field is kmsg's and the writer holds only the small
// encoded part in memory. The files are borrowed, not owned: each sendfile
// call holds a reference on the descriptor, and a region whose file was
// closed (segment removed, partition deleted) or shortened (truncation)
// since the handler returned closes the connection; the frame's size is
// already on the wire, so there is no other honest way out, and clients
// retry the fetch on a new connection.
//
// # Frames
//
//   - Size prefix negative, smaller than a v1 request header (10 bytes), or
//     above Config.SocketRequestMaxBytes: close, before allocating anything.
//   - The frame buffer is never allocated from the size prefix alone: it
//     starts at 64 KiB and doubles only as bytes arrive.
//   - Once the first byte of a frame arrives, the whole frame must arrive
//     within Config.FrameTimeout (request.timeout.ms); a connection that
//     starts no frame for Config.ConnectionsMaxIdle is closed.
//   - Unknown API key, or a version outside Dispatcher.Versions: close.
//     Except ApiVersions above our max: the body is not parsed, Handle gets a
//     v0 ApiVersionsRequest with Request.APIVersion set to the client's
//     version, and the response is encoded at v0 (KIP-511; the handler sets
//     UNSUPPORTED_VERSION).
//   - Malformed header (including its v2 tagged fields) or a body that kmsg
//     cannot decode: close.
//   - Trailing bytes after a body that decoded: ignored, as Kafka does.
//
// Every close is logged at debug level with remote and reason; closes a bad
// client can cause in a loop are also warned about, at most once per second
// per reason.
//
// # Decoding limits (what kmsg does with hostile lengths)
//
// kmsg rejects an array length larger than the bytes left (one byte per
// element), so a huge count with few bytes behind it fails before allocating.
// Known limits, inherited from kmsg v1.15.0 and not fixable in this package:
//   - An array that does fit is allocated as count × the Go element size
//     (32–72 bytes for Metadata/Produce/Fetch elements), up to about 64× the
//     frame size for a frame that lies about its element count.
//   - Negative array lengths other than −1, and a compact length of 0 (null)
//     for a non-nullable array, decode as empty arrays; Kafka closes.
//   - A tagged-field count that is large with no bytes behind it makes kmsg
//     loop once per claimed tag (up to 2^32 iterations, minutes of CPU) before
//     failing. The request header's tags are skipped by our own code, which
//     stops at the first short read; body tags are kmsg's.
//
// # Ownership
//
// Each frame is a fresh allocation, and kmsg's ReadFrom aliases byte fields
// (Produce records) into it: a handler may keep those slices after Handle
// returns. The response is owned by the server once Handle returns it.
//
// # Handlers
//
// Handle runs on the connection's reader goroutine with a context that is
// cancelled when the connection or the server closes. A returned error or a
// panic closes that connection only; a panic is logged at error level with
// its stack.
package server
