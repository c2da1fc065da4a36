package server

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FileRegion is a run of bytes in a file that a response sends as they are
// stored: the record batches of a Fetch, straight from a segment file.
type FileRegion struct {
	File     *os.File
	Position int64
	Size     int32
}

// SplicedResponse is a response some of whose byte fields are file regions
// (zero-copy Fetch). The handler puts the placeholder Splice returns into the
// kmsg bytes field; the writer encodes the whole response with kmsg, then
// sends it in pieces: the encoded bytes up to the field's length prefix, the
// prefix for the region's real length (written with kbin, the encoder kmsg
// itself uses), the region from the file with sendfile(2), and so on. So
// every protocol field is still kmsg's encoding and only the opaque bytes
// come from the file, never passing through user space.
//
// Handlers return one only when Request.FileRegions is set. The file is not
// owned: the writer borrows it while sending (holding a reference so its
// descriptor is not closed mid-call), and a region that has been closed or
// shortened by then (segment removed, log truncated) closes the connection,
// which the client retries.
type SplicedResponse struct {
	kmsg.Response
	regions []FileRegion
}

// NewSplicedResponse wraps resp; add regions with Splice.
func NewSplicedResponse(resp kmsg.Response) *SplicedResponse {
	return &SplicedResponse{Response: resp}
}

// Splice registers r and returns the placeholder to store in the kmsg bytes
// field that r stands for. Placeholders must be set in the order kmsg
// encodes their fields (for Fetch: topic by topic, partition by partition).
func (s *SplicedResponse) Splice(r FileRegion) []byte {
	s.regions = append(s.regions, r)
	return placeholder(len(s.regions) - 1)
}

// Regions returns the regions in splice order.
func (s *SplicedResponse) Regions() []FileRegion { return s.regions }

// placeholderLen is a placeholder's size: a per-process random nonce and the
// region's index. A nonce nobody outside the process can know makes a false
// match in the encoded response (which holds only the response's own small
// fields) as unlikely as guessing 96 random bits.
const placeholderLen = 16

var placeholderNonce = func() (n [placeholderLen - 4]byte) {
	_, _ = rand.Read(n[:]) // crypto/rand.Read never fails on Linux
	return n
}()

func placeholder(i int) []byte {
	p := make([]byte, 0, placeholderLen)
	p = append(p, placeholderNonce[:]...)
	return binary.BigEndian.AppendUint32(p, uint32(i))
}

var (
	errPlaceholderMissing = errors.New("spliced response: placeholder not found in the encoded response")
	errRegionShort        = errors.New("file region shorter than announced (truncated or removed)")
)

// splicePlan is an encoded SplicedResponse ready to send: the frame bytes
// (size prefix included) with every placeholder and its length prefix
// replaced by the region's length prefix, and where in them each region goes.
type splicePlan struct {
	head    []byte
	cuts    []int // region i is sent after head[:cuts[i]] (and before the rest)
	regions []FileRegion
}

// planSplice turns enc, a frame encoded by encodeResponse from s (size prefix
// still to be fixed), into a plan, appending to dst[:0].
func planSplice(dst, enc []byte, s *SplicedResponse) (splicePlan, error) {
	p := splicePlan{head: dst[:0], regions: s.regions}
	flexible := s.IsFlexible()
	// The length prefix kmsg wrote before each placeholder: compact
	// (uvarint length+1) for flexible versions, else int32.
	var phPrefix []byte
	if flexible {
		phPrefix = kbin.AppendUvarint(nil, placeholderLen+1)
	} else {
		phPrefix = kbin.AppendInt32(nil, placeholderLen)
	}
	prev := 0
	for i, r := range s.regions {
		ph := placeholder(i)
		at := bytes.Index(enc[prev:], ph)
		if at < 0 || !bytes.HasSuffix(enc[:prev+at], phPrefix) {
			return p, fmt.Errorf("%w (region %d of %d)", errPlaceholderMissing, i, len(s.regions))
		}
		at += prev
		p.head = append(p.head, enc[prev:at-len(phPrefix)]...)
		if flexible {
			p.head = kbin.AppendUvarint(p.head, uint32(r.Size)+1)
		} else {
			p.head = kbin.AppendInt32(p.head, r.Size)
		}
		p.cuts = append(p.cuts, len(p.head))
		prev = at + placeholderLen
	}
	p.head = append(p.head, enc[prev:]...)
	total := int64(len(p.head)) - 4 + sumSizes(s.regions) // the size prefix does not count itself
	if total > math.MaxInt32 {
		return p, errResponseTooLarge
	}
	binary.BigEndian.PutUint32(p.head, uint32(total))
	return p, nil
}

func sumSizes(rs []FileRegion) int64 {
	var n int64
	for _, r := range rs {
		n += int64(r.Size)
	}
	return n
}

// write sends the plan on w: head pieces with Write, regions with sendfile
// when w is a socket (syscall.Conn), else by copying (tests on net.Pipe).
func (p splicePlan) write(w io.Writer) error {
	sc, zeroCopy := w.(syscall.Conn)
	var raw syscall.RawConn
	if zeroCopy {
		var err error
		if raw, err = sc.SyscallConn(); err != nil {
			zeroCopy = false
		}
	}
	start := 0
	for i, r := range p.regions {
		if _, err := w.Write(p.head[start:p.cuts[i]]); err != nil {
			return err
		}
		start = p.cuts[i]
		var err error
		if zeroCopy {
			err = sendRegion(raw, r)
		} else {
			err = copyRegion(w, r)
		}
		if err != nil {
			return err
		}
	}
	_, err := w.Write(p.head[start:])
	return err
}

// sendRegion sends r to the socket with sendfile(2) at an explicit offset, so
// concurrent senders of the same file do not share a file position. Each
// call runs inside the file's Control, which holds a reference on the
// descriptor: the log can close the *os.File meanwhile, but the descriptor
// stays valid until the call returns; a closed file fails the next call.
// Waiting for the socket to drain happens outside Control, through the
// socket's poller (and its write deadline).
func sendRegion(sock syscall.RawConn, r FileRegion) error {
	fc, err := r.File.SyscallConn()
	if err != nil {
		return err
	}
	off, remain := r.Position, int(r.Size)
	var sendErr error
	err = sock.Write(func(sfd uintptr) bool {
		if cerr := fc.Control(func(ffd uintptr) {
			for remain > 0 {
				n, err := syscall.Sendfile(int(sfd), int(ffd), &off, remain)
				if n > 0 {
					remain -= n
				}
				switch {
				case err == syscall.EINTR:
				case err == syscall.EAGAIN:
					return // socket full: wait outside Control
				case err != nil:
					sendErr = fmt.Errorf("sendfile %s: %w", r.File.Name(), err)
					return
				case n == 0:
					sendErr = fmt.Errorf("%w: %s at %d, %d bytes missing", errRegionShort, r.File.Name(), off, remain)
					return
				}
			}
		}); cerr != nil {
			sendErr = fmt.Errorf("%w: %s: %v", errRegionShort, r.File.Name(), cerr)
		}
		return remain == 0 || sendErr != nil
	})
	if sendErr != nil {
		return sendErr
	}
	return err
}

// copyRegion is sendRegion for writers that are not sockets.
func copyRegion(w io.Writer, r FileRegion) error {
	n, err := io.Copy(w, io.NewSectionReader(r.File, r.Position, int64(r.Size)))
	if err == nil && n < int64(r.Size) {
		err = fmt.Errorf("%w: %s at %d, %d of %d bytes", errRegionShort, r.File.Name(), r.Position, n, r.Size)
	}
	return err
}
