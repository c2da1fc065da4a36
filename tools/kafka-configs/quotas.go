package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// Quota and SCRAM config names (QuotaConfig, ScramMechanism, DynamicConfig.Ip).
var (
	clientQuotaConfigs = []string{"producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"}
	scramMechanisms    = []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}
	ipQuotaConfigs     = []string{"connection_creation_rate"}
)

func quotaEntityType(t string) sarama.QuotaEntityType {
	switch t {
	case typeUsers:
		return sarama.QuotaEntityUser
	case typeClients:
		return sarama.QuotaEntityClientID
	}
	return sarama.QuotaEntityIP
}

// quotaFilter is getAllClientQuotasConfigs' filter: a named entity, the
// default entity (""), or every entity of a type given without a name.
func quotaFilter(types, names []string) []sarama.QuotaFilterComponent {
	var out []sarama.QuotaFilterComponent
	for i, t := range types {
		c := sarama.QuotaFilterComponent{EntityType: quotaEntityType(t), MatchType: sarama.QuotaMatchAny}
		if i < len(names) {
			if names[i] == "" {
				c.MatchType = sarama.QuotaMatchDefault
			} else {
				c.MatchType, c.Match = sarama.QuotaMatchExact, names[i]
			}
		}
		out = append(out, c)
	}
	return out
}

// requireQuotas fails with the UnsupportedVersionException Kafka's admin
// client raises when the cluster does not serve the quota API key.
func (s *service) requireQuotas(key int16) error {
	b, err := s.client.Controller()
	if err != nil {
		return &execError{cli.AsKafka(err, "describeClientQuotas")}
	}
	if err := cli.RequireAPI(b, key); err != nil {
		return &execError{err}
	}
	return nil
}

// quotaEntityString is describeQuotaConfigs' "user-principal 'u', client-id 'c'".
func quotaEntityString(entity []sarama.QuotaEntityComponent) string {
	var parts []string
	for _, typ := range []sarama.QuotaEntityType{sarama.QuotaEntityUser, sarama.QuotaEntityClientID, sarama.QuotaEntityIP} {
		for _, c := range entity {
			if c.EntityType != typ {
				continue
			}
			label := map[sarama.QuotaEntityType]string{sarama.QuotaEntityUser: "user-principal", sarama.QuotaEntityClientID: "client-id", sarama.QuotaEntityIP: "ip"}[typ]
			if c.MatchType == sarama.QuotaMatchDefault {
				parts = append(parts, "the default "+label)
			} else {
				parts = append(parts, fmt.Sprintf("%s '%s'", label, c.Name))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func (s *service) describeQuotas(types, names []string) error {
	if err := s.requireQuotas(48); err != nil {
		return err
	}
	entries, err := s.admin.DescribeClientQuotas(quotaFilter(types, names), true)
	if err != nil {
		return &execError{cli.AsKafka(err, "describeClientQuotas")}
	}
	var lines []string
	for _, e := range entries {
		var vals []string
		for _, k := range sortedKeys(e.Values) {
			vals = append(vals, k+"="+javaDouble(e.Values[k]))
		}
		lines = append(lines, fmt.Sprintf("Quota configs for %s are %s", quotaEntityString(e.Entity), strings.Join(vals, ", ")))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(s.out, l)
	}
	return nil
}

// alterQuotas is ConfigCommand's users/clients/ips case: only quota
// configs (and SCRAM credentials for users) may be named.
func (s *service) alterQuotas(types, names []string, add map[string]string, del []string) error {
	allowed := clientQuotaConfigs
	if types[0] == typeIPs {
		allowed = ipQuotaConfigs
	}
	var unknownAdd, scramAdd, unknownDel, scramDel []string
	for _, k := range sortedKeys(add) {
		switch {
		case slices.Contains(allowed, k):
		case types[0] != typeIPs && slices.Contains(scramMechanisms, k):
			scramAdd = append(scramAdd, k)
		default:
			unknownAdd = append(unknownAdd, k)
		}
	}
	for _, k := range del {
		switch {
		case slices.Contains(allowed, k):
		case types[0] != typeIPs && slices.Contains(scramMechanisms, k):
			scramDel = append(scramDel, k)
		default:
			unknownDel = append(unknownDel, k)
		}
	}
	list := func(keys []string) string { return "List(" + strings.Join(keys, ", ") + ")" }
	switch {
	case types[0] == typeIPs && len(unknownAdd)+len(unknownDel) > 0:
		return illegal("Only connection quota configs can be added for 'ips' using --bootstrap-server. Unexpected config names: %s", strings.Join(append(unknownAdd, unknownDel...), ","))
	case types[0] == typeClients || len(types) == 2:
		if len(unknownAdd)+len(scramAdd) > 0 {
			return illegal("Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: %s", list(append(unknownAdd, scramAdd...)))
		}
		if len(unknownDel)+len(scramDel) > 0 {
			return illegal("Only quota configs can be deleted for 'clients' using --bootstrap-server. Unexpected config names: %s", list(append(unknownDel, scramDel...)))
		}
	case types[0] == typeUsers:
		if len(unknownAdd) > 0 {
			return illegal("Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: %s", list(unknownAdd))
		}
		if len(unknownDel) > 0 {
			return illegal("Only quota and SCRAM credential configs can be deleted for 'users' using --bootstrap-server. Unexpected config names: %s", list(unknownDel))
		}
		if len(scramAdd)+len(scramDel) > 0 {
			if names[0] == "" {
				return illegal("The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server.")
			}
			if len(scramAdd)+len(scramDel) < len(add)+len(del) {
				return illegal("Cannot alter both quota and SCRAM credential configs simultaneously for 'users' using --bootstrap-server.")
			}
			if err := s.requireQuotas(51); err != nil {
				return err
			}
			return &execError{cli.Errorf("UnsupportedVersionException", "SCRAM credential updates are not supported by this tool")}
		}
	}
	if err := s.requireQuotas(49); err != nil {
		return err
	}
	old, err := s.admin.DescribeClientQuotas(quotaFilter(types, names), true)
	if err != nil {
		return &execError{cli.AsKafka(err, "describeClientQuotas")}
	}
	have := map[string]bool{}
	for _, e := range old {
		for k := range e.Values {
			have[k] = true
		}
	}
	var bad []string
	for _, k := range del {
		if !have[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return cli.Errorf("InvalidConfigurationException", "Invalid config(s): %s", strings.Join(bad, ","))
	}
	var entity []sarama.QuotaEntityComponent
	for i, t := range types {
		c := sarama.QuotaEntityComponent{EntityType: quotaEntityType(t), MatchType: sarama.QuotaMatchExact, Name: names[i]}
		if names[i] == "" {
			c.MatchType = sarama.QuotaMatchDefault
		}
		entity = append(entity, c)
	}
	var ops []sarama.ClientQuotasOp
	for _, k := range sortedKeys(add) {
		v, err := strconv.ParseFloat(add[k], 64)
		if err != nil {
			return illegal("Cannot parse quota configuration value for %s: %s", k, add[k])
		}
		ops = append(ops, sarama.ClientQuotasOp{Key: k, Value: v})
	}
	for _, k := range del {
		ops = append(ops, sarama.ClientQuotasOp{Key: k, Remove: true})
	}
	for _, op := range ops {
		if err := s.admin.AlterClientQuotas(entity, op, false); err != nil {
			return &execError{cli.AsKafka(err, "alterClientQuotas")}
		}
	}
	return nil
}
