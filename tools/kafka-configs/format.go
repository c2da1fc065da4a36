package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// splitOutsideBrackets splits s at each sep that is not inside "[...]":
// ConfigCommand's split("," + "(?=[^\\]]*(?:\\[|$))"), whose lookahead
// accepts a separator only when the next bracket after it is not a "]".
// With trim, whitespace around the separator goes too (the "\s*=\s*" split).
func splitOutsideBrackets(s string, sep byte, trim bool) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != sep {
			continue
		}
		rest := s[i+1:]
		if j := strings.IndexAny(rest, "[]"); j >= 0 && rest[j] == ']' {
			continue
		}
		part := s[start:i]
		if trim {
			part = strings.TrimRight(part, " \t\n\r\f\v")
		}
		parts = append(parts, part)
		start = i + 1
		if trim {
			for start < len(s) && strings.IndexByte(" \t\n\r\f\v", s[start]) >= 0 {
				start++
			}
			i = start - 1
		}
	}
	return append(parts, s[start:])
}

var configKeyRe = regexp.MustCompile(`^[a-zA-Z0-9._-]*$`)

// parseAddConfig is ConfigCommand.parseConfigsToBeAdded for --add-config:
// "k1=v1,k2=[a,b],k3=" becomes {k1:v1, k2:"a,b", k3:""}.
func parseAddConfig(s string) (map[string]string, error) {
	props := map[string]string{}
	for _, kv := range splitOutsideBrackets(s, ',', false) {
		pair := splitOutsideBrackets(kv, '=', true)
		if len(pair) != 2 {
			return nil, cli.Errorf("IllegalArgumentException", "requirement failed: Invalid entity config: all configs to be added must be in the format \"key=val\".")
		}
		v := strings.NewReplacer("[", "", "]", "").Replace(pair[1])
		props[strings.TrimSpace(pair[0])] = strings.TrimSpace(v)
	}
	return props, nil
}

// validateKeys is ConfigCommand.validatePropsKey.
func validateKeys(props map[string]string) error {
	for _, k := range sortedKeys(props) {
		if !configKeyRe.MatchString(k) {
			return cli.Errorf("IllegalArgumentException", "Invalid character found for config key: %s", k)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sourceNames are ConfigEntry.ConfigSource's constants by wire id.
var sourceNames = map[sarama.ConfigSource]string{
	0: "UNKNOWN",
	1: "DYNAMIC_TOPIC_CONFIG",
	2: "DYNAMIC_BROKER_CONFIG",
	3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
	4: "STATIC_BROKER_CONFIG",
	5: "DEFAULT_CONFIG",
	6: "DYNAMIC_BROKER_LOGGER_CONFIG",
	7: "DYNAMIC_CLIENT_METRICS_CONFIG",
}

func sourceName(s sarama.ConfigSource) string {
	if n, ok := sourceNames[s]; ok {
		return n
	}
	return "UNKNOWN"
}

// javaValue is how Java prints a config value: a sensitive (null) one as "null".
func javaValue(v string, sensitive bool) string {
	if sensitive && v == "" {
		return "null"
	}
	return v
}

// writeEntry prints one describe line:
// "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}".
func writeEntry(w io.Writer, e sarama.ConfigEntry) {
	syn := make([]string, len(e.Synonyms))
	for i, s := range e.Synonyms {
		syn[i] = fmt.Sprintf("%s:%s=%s", sourceName(s.Source), s.ConfigName, javaValue(s.ConfigValue, e.Sensitive))
	}
	fmt.Fprintf(w, "  %s=%s sensitive=%t synonyms={%s}\n", e.Name, javaValue(e.Value, e.Sensitive), e.Sensitive, strings.Join(syn, ", "))
}

// javaDouble formats a quota as Java's Double.toString does for the values
// quotas take: 1024.0, 0.5, 1.0E7.
func javaDouble(v float64) string {
	if v >= 1e7 || (v != 0 && v < 1e-3) {
		s := strconv.FormatFloat(v, 'E', -1, 64)
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		if neg {
			exp = "-" + exp
		}
		return mant + "E" + exp
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// validateTopicName is Topic.validate: the InvalidTopicException messages.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return cli.Errorf("InvalidTopicException", "Topic name is illegal, it can't be empty")
	case name == "." || name == "..":
		return cli.Errorf("InvalidTopicException", "Topic name cannot be \".\" or \"..\"")
	case len(name) > 249:
		return cli.Errorf("InvalidTopicException", "Topic name is illegal, it can't be longer than 249 characters, topic name: %s", name)
	case !regexp.MustCompile(`^[a-zA-Z0-9._-]+$`).MatchString(name):
		return cli.Errorf("InvalidTopicException", "Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
	}
	return nil
}
