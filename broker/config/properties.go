package config

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ParseProperties reads a Java .properties file with the rules of
// java.util.Properties.load:
//
//   - natural lines end with \n, \r or \r\n; leading whitespace (space, tab,
//     form feed) is skipped; blank lines are ignored;
//   - a line whose first non-blank character is '#' or '!' is a comment (a
//     comment never continues onto the next line);
//   - a line ending in an odd number of backslashes continues on the next
//     line, whose leading whitespace is skipped;
//   - the key ends at the first unescaped '=', ':' or whitespace; whitespace
//     and at most one '=' or ':' separate it from the value, so "k=v", "k: v"
//     and "k v" are the same; a key alone has the value "";
//   - escapes \t \n \r \f and \uXXXX are decoded, a backslash before any
//     other character stands for that character ("\=" "\:" "\ " "\\");
//   - a later duplicate key replaces an earlier one.
//
// The input is read as UTF-8; input that is not valid UTF-8 is read as
// ISO-8859-1, the encoding Java uses. Trailing whitespace of a value is kept,
// as Java does; Parse trims values, as Kafka's ConfigDef does. The only error
// is a malformed \uXXXX escape (or a read error), reported with its line.
func ParseProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	text := decodeText(data)

	props := make(map[string]string)
	var (
		logical    strings.Builder
		continuing bool
		startLine  int
	)
	finish := func() error {
		k, v, err := splitKeyValue(logical.String())
		if err != nil {
			return fmt.Errorf("line %d: %w", startLine, err)
		}
		props[k] = v
		logical.Reset()
		return nil
	}

	lineNo := 0
	for len(text) > 0 || continuing {
		if len(text) == 0 { // EOF right after a continuation backslash
			continuing = false
			if err := finish(); err != nil {
				return nil, err
			}
			break
		}
		var line string
		line, text = nextLine(text)
		lineNo++

		line = strings.TrimLeft(line, " \t\f")
		if !continuing {
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
			startLine = lineNo
		}
		if n := trailingBackslashes(line); n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continuing = true
			continue
		}
		logical.WriteString(line)
		continuing = false
		if err := finish(); err != nil {
			return nil, err
		}
	}
	return props, nil
}

// decodeText returns data as a string, dropping a UTF-8 byte order mark and
// reading invalid UTF-8 as ISO-8859-1.
func decodeText(data []byte) string {
	if utf8.Valid(data) {
		return strings.TrimPrefix(string(data), "\uFEFF")
	}
	runes := make([]rune, len(data))
	for i, b := range data {
		runes[i] = rune(b)
	}
	return string(runes)
}

// nextLine splits off the first natural line of text, without its terminator.
func nextLine(text string) (line, rest string) {
	i := strings.IndexAny(text, "\r\n")
	if i < 0 {
		return text, ""
	}
	line, rest = text[:i], text[i+1:]
	if text[i] == '\r' && strings.HasPrefix(rest, "\n") {
		rest = rest[1:]
	}
	return line, rest
}

func trailingBackslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// splitKeyValue splits a logical line as Properties.load0 does and decodes
// the escapes of both parts.
func splitKeyValue(line string) (string, string, error) {
	keyLen, valueStart := 0, len(line)
	hasSep, backslash := false, false
	for keyLen < len(line) {
		c := line[keyLen]
		if !backslash {
			if c == '=' || c == ':' {
				valueStart, hasSep = keyLen+1, true
				break
			}
			if isPropSpace(c) {
				valueStart = keyLen + 1
				break
			}
		}
		backslash = c == '\\' && !backslash
		keyLen++
	}
	for valueStart < len(line) {
		c := line[valueStart]
		if !isPropSpace(c) {
			if hasSep || (c != '=' && c != ':') {
				break
			}
			hasSep = true
		}
		valueStart++
	}
	key, err := unescape(line[:keyLen])
	if err != nil {
		return "", "", err
	}
	value, err := unescape(line[valueStart:])
	if err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape decodes the escapes of Properties.loadConvert. UTF-16 surrogate
// pairs written as two \u escapes become one character.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) { // a dangling backslash stands for nothing
			break
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			u, ok := hex4(s[i+1:])
			if !ok {
				return "", fmt.Errorf(`malformed \uxxxx encoding`)
			}
			i += 4
			r := rune(u)
			if utf16.IsSurrogate(r) {
				if lo, ok := lowSurrogate(s[i+1:]); ok {
					if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
						r = pair
						i += 6
					}
				}
			}
			b.WriteRune(r) // a lone surrogate becomes U+FFFD
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func hex4(s string) (uint16, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var u uint16
	for i := range 4 {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(d)
	}
	return u, true
}

// lowSurrogate reports whether s starts with a \uXXXX escape and returns it.
func lowSurrogate(s string) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	u, ok := hex4(s[2:])
	return rune(u), ok
}
