package config

import (
	"maps"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "equals", in: "a=b\n", want: map[string]string{"a": "b"}},
		{name: "colon", in: "a: b", want: map[string]string{"a": "b"}},
		{name: "whitespace separator", in: "a   b c", want: map[string]string{"a": "b c"}},
		{name: "spaces around equals", in: "  a  =  b", want: map[string]string{"a": "b"}},
		{name: "tab and form feed", in: "\t\fa\t=\tb", want: map[string]string{"a": "b"}},
		{name: "only one separator eaten", in: "a==b\nc = :d", want: map[string]string{"a": "=b", "c": ":d"}},
		{name: "key alone", in: "lonely\nx=", want: map[string]string{"lonely": "", "x": ""}},
		{name: "trailing whitespace kept", in: "a=b  ", want: map[string]string{"a": "b  "}},
		{name: "comments", in: "# c=d\n! e=f\n   # g=h\na=b # not a comment", want: map[string]string{"a": "b # not a comment"}},
		{name: "blank lines", in: "\n\n  \t\na=b\n\n", want: map[string]string{"a": "b"}},
		{name: "CRLF", in: "a=b\r\nc=d\r\n", want: map[string]string{"a": "b", "c": "d"}},
		{name: "CR only", in: "a=b\rc=d", want: map[string]string{"a": "b", "c": "d"}},
		{name: "continuation", in: "a=one, \\\n     two, \\\n three\nb=c", want: map[string]string{"a": "one, two, three", "b": "c"}},
		{name: "continuation across CRLF", in: "a=x\\\r\n  y", want: map[string]string{"a": "xy"}},
		{name: "continuation line starting with #", in: "a=x\\\n#y", want: map[string]string{"a": "x#y"}},
		{name: "continuation into blank line", in: "a=x\\\n\nb=y", want: map[string]string{"a": "x", "b": "y"}},
		{name: "continuation at EOF", in: "a=x\\", want: map[string]string{"a": "x"}},
		{name: "even backslashes do not continue", in: "a=x\\\\\nb=y", want: map[string]string{"a": `x\`, "b": "y"}},
		{name: "comment does not continue", in: "# c \\\na=b", want: map[string]string{"a": "b"}},
		{name: "escaped separators in key", in: `a\=b\:c\ d=e`, want: map[string]string{"a=b:c d": "e"}},
		{name: "escapes in value", in: `a=t\tn\nr\rf\f\\\q`, want: map[string]string{"a": "t\tn\nr\rf\f\\q"}},
		{name: "unicode escape", in: `a=caf\u00e9 \u20AC`, want: map[string]string{"a": "café €"}},
		{name: "surrogate pair", in: `a=\uD83D\uDE00`, want: map[string]string{"a": "😀"}},
		{name: "lone surrogate", in: `a=\uD83Dx`, want: map[string]string{"a": "\uFFFDx"}},
		{name: "utf-8 text", in: "a=日本", want: map[string]string{"a": "日本"}},
		{name: "byte order mark", in: "\uFEFFa=b", want: map[string]string{"a": "b"}},
		{name: "latin-1 fallback", in: "a=caf\xe9", want: map[string]string{"a": "café"}},
		{name: "duplicate key, last wins", in: "a=1\na=2", want: map[string]string{"a": "2"}},
		{name: "url value", in: "listeners=PLAINTEXT://:9092", want: map[string]string{"listeners": "PLAINTEXT://:9092"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParseProperties: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "short unicode escape", in: "a=b\nc=\\u12", want: `line 2: malformed \uxxxx encoding`},
		{name: "bad hex", in: "\n\nc=\\u12G4", want: `line 3: malformed \uxxxx encoding`},
		{name: "in key", in: "\\uZZZZ=1", want: `line 1: malformed \uxxxx encoding`},
		{name: "line of a continued entry", in: "x=1\na=\\\n  \\u1", want: `line 2: malformed \uxxxx encoding`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProperties(strings.NewReader(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got error %v, want %q", err, tt.want)
			}
		})
	}
}
