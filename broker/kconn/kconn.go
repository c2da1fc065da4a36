// Package kconn is the broker's own Kafka client connection: one TCP
// connection that sends kmsg requests and reads their responses in turn. The
// controller's channels to brokers and the followers' fetchers use it; it is
// deliberately small (no pipelining, no version negotiation) because both
// peers are Gregor brokers that speak known versions.
package kconn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MaxResponseSize bounds a response frame; a larger size prefix is treated as
// a broken connection rather than allocated.
const MaxResponseSize = 256 << 20

// Options configure a dial.
type Options struct {
	// ClientID is sent in every request header.
	ClientID string
	// LocalHost, when set, is the local IP outgoing connections bind to, so
	// that a broker whose listener is bound to one address also speaks from
	// it (tests partition brokers on loopback addresses with iptables).
	LocalHost string
	// Timeout bounds the dial and each round trip.
	Timeout time.Duration
}

// Conn is one connection to a broker. It is not safe for concurrent use.
type Conn struct {
	conn    net.Conn
	opts    Options
	corrID  int32
	format  *kmsg.RequestFormatter
	scratch []byte
}

// Dial connects to addr.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: opts.Timeout}
	if opts.LocalHost != "" {
		if ip := net.ParseIP(opts.LocalHost); ip != nil && !ip.IsUnspecified() {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{conn: c, opts: opts, format: kmsg.NewRequestFormatter(kmsg.FormatterClientID(opts.ClientID))}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }

// RemoteAddr is the broker's address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Request writes req (size, header v1/v2 with the client id, the kmsg body)
// and reads its response (size, correlation id, header tags when flexible,
// the kmsg body). timeout overrides the dial's timeout when > 0 (a fetch
// with a long max wait needs more than the default). On any error the
// connection must be closed: its stream position is unknown.
func (c *Conn) Request(req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	if timeout <= 0 {
		timeout = c.opts.Timeout
	}
	c.corrID++
	corr := c.corrID
	c.scratch = c.format.AppendRequest(c.scratch[:0], req, corr)
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := c.conn.Write(c.scratch); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c.conn, size[:]); err != nil {
		return nil, fmt.Errorf("read size: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > MaxResponseSize {
		return nil, fmt.Errorf("response size %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.conn, body); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	var err error
	if req.IsFlexible() {
		if body, err = SkipTags(body); err != nil {
			return nil, err
		}
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %T: %w", resp, err)
	}
	return resp, nil
}

// SkipTags skips a tagged-field section (response header v1).
func SkipTags(b []byte) ([]byte, error) {
	num, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[n:]
	for ; num > 0; num-- {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errors.New("bad tag key")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}
