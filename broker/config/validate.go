package config

import (
	"fmt"
	"math"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// ConfigError is a bad configuration value. Its text names the key and the
// value, "log.segment.bytes: must be >= 14, got 3", or, for a required key
// that is missing, "zookeeper.connect: must be set". kafka-server-start
// prints it and exits with status 2.
type ConfigError struct {
	Key     string // the key at fault, or "--override" for a malformed override
	Value   string // the value as given (trimmed), or the default that applied
	Reason  string // what is wrong, phrased as a rule: "must be >= 14"
	Missing bool   // the key is required and was not set (Value is empty)
}

func (e *ConfigError) Error() string {
	if e.Missing {
		return e.Key + ": " + e.Reason
	}
	v := e.Value
	if v == "" {
		v = `""`
	}
	return e.Key + ": " + e.Reason + ", got " + v
}

// Kafka's ConfigDef types, as docs/configuration.md names them.
const (
	typeInt     = "int"
	typeShort   = "short"
	typeLong    = "long"
	typeDouble  = "double"
	typeBoolean = "boolean"
	typeString  = "string"
	typeList    = "list"
)

// checkType reports why v (trimmed) is not a value of Kafka type typ, or "".
func checkType(typ, v string) string {
	switch typ {
	case typeInt:
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return "must be a 32-bit integer"
		}
	case typeShort:
		if _, err := strconv.ParseInt(v, 10, 16); err != nil {
			return "must be a 16-bit integer"
		}
	case typeLong:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "must be a 64-bit integer"
		}
	case typeDouble:
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) {
			return "must be a number"
		}
	case typeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return "must be true or false"
		}
	}
	return ""
}

// validator checks a value that already has the key's type.
type validator struct {
	desc  string              // for the docs: ">= 14", "one of delete, compact"
	check func(string) string // reason the value is bad, or ""
}

func atLeast(n int64) validator {
	return validator{
		desc: fmt.Sprintf(">= %d", n),
		check: func(v string) string {
			if x, _ := strconv.ParseInt(v, 10, 64); x < n {
				return fmt.Sprintf("must be >= %d", n)
			}
			return ""
		},
	}
}

func between(lo, hi int64) validator {
	return validator{
		desc: fmt.Sprintf("[%d, %d]", lo, hi),
		check: func(v string) string {
			if x, _ := strconv.ParseInt(v, 10, 64); x < lo || x > hi {
				return fmt.Sprintf("must be in [%d, %d]", lo, hi)
			}
			return ""
		},
	}
}

func betweenFloat(lo, hi float64) validator {
	return validator{
		desc: fmt.Sprintf("[%g, %g]", lo, hi),
		check: func(v string) string {
			if x, _ := strconv.ParseFloat(v, 64); !(x >= lo && x <= hi) {
				return fmt.Sprintf("must be in [%g, %g]", lo, hi)
			}
			return ""
		},
	}
}

// oneOf accepts exactly one of opts, ignoring case when fold is set.
func oneOf(fold bool, opts ...string) validator {
	list := strings.Join(opts, ", ")
	return validator{
		desc: "one of " + list,
		check: func(v string) string {
			for _, o := range opts {
				if v == o || (fold && strings.EqualFold(v, o)) {
					return ""
				}
			}
			return "must be one of " + list
		},
	}
}

// listOf accepts a non-empty comma-separated list of opts.
func listOf(opts ...string) validator {
	list := strings.Join(opts, ", ")
	return validator{
		desc: "non-empty list of " + list,
		check: func(v string) string {
			items := splitList(v)
			if len(items) == 0 {
				return "must list at least one of " + list
			}
		next:
			for _, it := range items {
				for _, o := range opts {
					if it == o {
						continue next
					}
				}
				return fmt.Sprintf("%q is not one of %s", it, list)
			}
			return ""
		},
	}
}

func custom(desc string, check func(string) string) validator {
	return validator{desc: desc, check: check}
}

// splitList splits a Kafka list value on commas, trimming items and dropping
// empty ones.
func splitList(v string) []string {
	var out []string
	for it := range strings.SplitSeq(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// Listener is one entry of listeners or advertised.listeners,
// "NAME://host:port". Name is upper-cased as Kafka's ListenerName does; Host
// is empty for "bind every interface" (and, in an advertised listener, for
// "the caller fills in this machine's host name"); an IPv6 host is stored
// without brackets. Port 0 in listeners means "pick a free port".
type Listener struct {
	Name string
	Host string
	Port int
}

// Address is host:port, ready for net.Listen or a client ("[::1]:9092" for IPv6).
func (l Listener) Address() string {
	return net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
}

// String is the listener in Kafka's syntax, "PLAINTEXT://host:9092".
func (l Listener) String() string {
	return l.Name + "://" + l.Address()
}

// listenerRE is Kafka's CoreUtils.listenerListToEndPoints pattern.
var listenerRE = regexp.MustCompile(`^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)$`)

// parseListeners parses a comma-separated listener list and reports the first
// problem as a reason.
func parseListeners(v string) ([]Listener, string) {
	items := splitList(v)
	if len(items) == 0 {
		return nil, "must list at least one listener"
	}
	out := make([]Listener, 0, len(items))
	names := make(map[string]bool)
	ports := make(map[int]string)
	for _, it := range items {
		m := listenerRE.FindStringSubmatch(it)
		if m == nil || m[1] == "" {
			return nil, fmt.Sprintf("listener %q must look like NAME://host:port", it)
		}
		port, err := strconv.Atoi(m[3])
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Sprintf("listener %q: port must be in [0, 65535]", it)
		}
		l := Listener{Name: strings.ToUpper(m[1]), Host: m[2], Port: port}
		if names[l.Name] {
			return nil, fmt.Sprintf("listener name %s is used twice; each listener must have a different name", l.Name)
		}
		names[l.Name] = true
		if other, dup := ports[port]; dup && port != 0 {
			return nil, fmt.Sprintf("listeners %s and %s both use port %d; each listener must have a different port", other, l.Name, port)
		}
		ports[port] = l.Name
		out = append(out, l)
	}
	return out, ""
}

// securityProtocols are Kafka's SecurityProtocol names; only PLAINTEXT is
// implemented.
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// parseProtocolMap parses listener.security.protocol.map, "NAME:PROTOCOL,...".
// Names and protocols are upper-cased as Kafka does.
func parseProtocolMap(v string) (map[string]string, string) {
	m := make(map[string]string)
	for _, it := range splitList(v) {
		name, proto, ok := strings.Cut(it, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" || proto == "" || strings.Contains(proto, ":") {
			return nil, fmt.Sprintf("entry %q must look like LISTENER_NAME:SECURITY_PROTOCOL", it)
		}
		known := false
		for _, p := range securityProtocols {
			known = known || p == proto
		}
		if !known {
			return nil, fmt.Sprintf("entry %q: security protocol must be one of %s", it, strings.Join(securityProtocols, ", "))
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Sprintf("listener name %s is mapped twice", name)
		}
		m[name] = proto
	}
	if len(m) == 0 {
		return nil, "must map at least one listener name"
	}
	return m, ""
}

// defaultZookeeperPort is what ZooKeeper's ConnectStringParser assumes for a
// server given without a port.
const defaultZookeeperPort = "2181"

// parseZookeeperConnect splits "h1:2181,h2:2181/chroot" into servers
// ("host:port", the port defaulting to 2181 as in ZooKeeper's client) and the
// chroot ("" for none; "/" also means none), checking the chroot with the
// rules of ZooKeeper's PathUtils.validatePath.
func parseZookeeperConnect(v string) (servers []string, chroot string, reason string) {
	hosts := v
	if i := strings.IndexByte(v, '/'); i >= 0 {
		hosts, chroot = v[:i], v[i:]
		if chroot == "/" {
			chroot = ""
		}
		if r := checkZnodePath(chroot); r != "" {
			return nil, "", "chroot " + r
		}
	}
	for it := range strings.SplitSeq(hosts, ",") {
		it = strings.TrimSpace(it)
		if it == "" {
			return nil, "", "must be a comma-separated list of host:port with an optional /chroot"
		}
		host, port := it, defaultZookeeperPort
		if h, p, err := net.SplitHostPort(it); err == nil {
			host, port = h, p
		} else if strings.HasPrefix(it, "[") && strings.HasSuffix(it, "]") {
			host = it[1 : len(it)-1]
		} else if strings.Contains(it, ":") {
			return nil, "", fmt.Sprintf("server %q must look like host:port", it)
		}
		if host == "" || strings.ContainsAny(host, " \t[]") {
			return nil, "", fmt.Sprintf("server %q has no valid host", it)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Sprintf("server %q: port must be in [1, 65535]", it)
		}
		servers = append(servers, net.JoinHostPort(host, port))
	}
	return servers, chroot, ""
}

// checkZnodePath applies ZooKeeper's PathUtils.validatePath to a chroot.
func checkZnodePath(p string) string {
	if p == "" {
		return ""
	}
	if strings.HasSuffix(p, "/") {
		return "must not end with '/'"
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case "":
			return "must not contain an empty node name"
		case ".", "..":
			return "must not contain relative node names (. or ..)"
		}
	}
	for _, r := range p {
		if r == 0 || (r > 0 && r < 0x20) || (r >= 0x7f && r <= 0x9f) ||
			(r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
			return fmt.Sprintf("must not contain the character %U", r)
		}
	}
	if path.Clean(p) != p {
		return "must be a clean absolute path"
	}
	return ""
}
