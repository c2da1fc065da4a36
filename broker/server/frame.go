package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// minHeaderLen is the smallest request header we accept: api key (2),
	// api version (2), correlation id (4) and a null client id (2), i.e.
	// request header v1. Header v0 (no client id) is only used by
	// ControlledShutdown v0, which we do not serve.
	minHeaderLen = 10

	// readChunk is how much of a frame is allocated before any of its bytes
	// have arrived. Larger frames grow geometrically as bytes arrive, so a
	// size prefix alone never costs more than this.
	readChunk = 64 << 10

	// growFactor is how much a full frame buffer grows by: the new buffer
	// is growFactor times the bytes received, so with the old one still
	// live the frame costs at most 8× what has arrived (the fault matrix's
	// allocation bound), in as few copies as that bound allows (a 1 MiB
	// produce: two, where doubling took four).
	growFactor = 7

	// apiVersionsKey is ApiVersions: answered even at an unknown version and
	// whose response header is always v0 (KIP-511).
	apiVersionsKey = 18
)

// Reasons a frame is rejected. Each closes the connection; the text is the
// "reason" log field and the rate-limiting key, so keep the set small and
// constant (details go in other fields).
var (
	errNegativeSize       = errors.New("negative frame size")
	errShortFrame         = errors.New("frame smaller than request header")
	errFrameTooLarge      = errors.New("frame larger than socket.request.max.bytes")
	errMalformedHeader    = errors.New("malformed request header")
	errUnknownAPIKey      = errors.New("unknown api key")
	errUnsupportedVersion = errors.New("unsupported api version")
	errMalformedBody      = errors.New("malformed request body")
)

// frameReader reads size-prefixed frames from r. It never allocates from a
// size prefix before the bytes exist: the frame buffer starts at readChunk
// and doubles as bytes arrive.
type frameReader struct {
	r       io.Reader
	maxSize int32
	// started, if set, is called once the first byte of a frame has
	// arrived (the connection arms the per-frame read deadline there).
	started func()
	// lastSize is the size prefix of the last frame, for logging.
	lastSize int32
	sizeBuf  [4]byte
}

// next returns the next frame, without its size prefix. The returned slice is
// freshly allocated and owned by the caller. Errors are the sentinels above,
// or the reader's error (io.EOF before the first byte of a frame).
func (fr *frameReader) next() ([]byte, error) {
	n, err := io.ReadAtLeast(fr.r, fr.sizeBuf[:], 1)
	if err != nil {
		return nil, err
	}
	if fr.started != nil {
		fr.started()
	}
	if n < len(fr.sizeBuf) {
		if _, err := io.ReadFull(fr.r, fr.sizeBuf[n:]); err != nil {
			return nil, eofIsUnexpected(err)
		}
	}
	size := int32(binary.BigEndian.Uint32(fr.sizeBuf[:]))
	fr.lastSize = size
	switch {
	case size < 0:
		return nil, errNegativeSize
	case size < minHeaderLen:
		return nil, errShortFrame
	case size > fr.maxSize:
		return nil, errFrameTooLarge
	}
	return readGrowing(fr.r, int(size))
}

// readGrowing reads exactly n bytes, allocating at most readChunk before any
// arrive and then growing by growFactor only once the buffer is full.
func readGrowing(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, min(n, readChunk))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, eofIsUnexpected(err)
	}
	for len(buf) < n {
		have := len(buf)
		grown := make([]byte, min(n, growFactor*have))
		copy(grown, buf)
		buf = grown
		if _, err := io.ReadFull(r, buf[have:]); err != nil {
			return nil, eofIsUnexpected(err)
		}
	}
	return buf, nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// header is a decoded request header (v1 or v2).
type header struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
}

// decodeHeader decodes the request header at the start of frame, up to but
// excluding the v2 tagged fields (whether there are any depends on the
// version, which the caller checks first). It returns the remaining bytes.
func decodeHeader(frame []byte) (header, []byte, error) {
	r := kbin.Reader{Src: frame}
	h := header{
		key:           r.Int16(),
		version:       r.Int16(),
		correlationID: r.Int32(),
		clientID:      r.NullableString(),
	}
	if !r.Ok() {
		return h, nil, errMalformedHeader
	}
	return h, r.Src, nil
}

// skipTags skips a tagged-fields section. Unlike kmsg.SkipTags it stops at the
// first short read, so a huge tag count with no bytes behind it costs nothing.
func skipTags(src []byte) ([]byte, bool) {
	r := kbin.Reader{Src: src}
	for n := r.Uvarint(); n > 0 && r.Ok(); n-- {
		r.Uvarint() // tag
		r.Span(int(r.Uvarint()))
	}
	return r.Src, r.Ok()
}

// versionRanger is the part of Dispatcher decodeFrame needs.
type versionRanger interface {
	Versions(key int16) (min, max int16, ok bool)
}

// decodeFrame decodes one frame into a Request: header, version check against
// d, header tags and body. ApiVersions above our max is answered at v0 with
// the body unparsed (Kafka's SocketServer does the same, KIP-511); any other
// unknown key or version is an error, which closes the connection.
//
// With decodeBody false only the header is checked (the fuzz target uses this).
func decodeFrame(frame []byte, d versionRanger, decodeBody bool) (*Request, error) {
	h, rest, err := decodeHeader(frame)
	if err != nil {
		return nil, err
	}
	req := &Request{
		APIKey:        h.key,
		APIVersion:    h.version,
		CorrelationID: h.correlationID,
		ClientID:      h.clientID,
	}
	lo, hi, ok := d.Versions(h.key)
	body := kmsg.RequestForKey(h.key)
	if !ok || body == nil {
		return req, errUnknownAPIKey
	}
	unsupportedAPIVersions := h.key == apiVersionsKey && h.version > hi
	if (h.version < lo || h.version > hi) && !unsupportedAPIVersions {
		return req, errUnsupportedVersion
	}
	body.SetVersion(h.version) // the header version follows the client's version
	if body.IsFlexible() {
		if rest, ok = skipTags(rest); !ok {
			return req, errMalformedHeader
		}
	}
	if unsupportedAPIVersions {
		// Do not parse a body of a version we do not know; the handler
		// answers v0 with UNSUPPORTED_VERSION and our ranges.
		body.SetVersion(0)
		req.Body = body
		return req, nil
	}
	if decodeBody {
		if err := body.ReadFrom(rest); err != nil {
			return req, fmt.Errorf("%w: %v", errMalformedBody, err)
		}
	}
	req.Body = body
	return req, nil
}
