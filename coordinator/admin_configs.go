package coordinator

// Dynamic configs: DescribeConfigs, AlterConfigs and IncrementalAlterConfigs
// for topics and brokers, stored as Kafka stores them (reference §1.2):
// /config/topics/<t>, /config/brokers/<id> and /config/brokers/<default>
// hold {"version":1,"config":{...}}, and every change is announced by a
// sequential /config/changes/config_change_N with
// {"version":2,"entity_path":"topics/t"} that every broker watches
// (broker/configwatch). Kafka: ZkAdminManager.describeConfigs /
// alterConfigs / incrementalAlterConfigs, AdminZkClient.changeEntityConfig,
// DynamicBrokerConfig.validate.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/apierr"
	"github.com/gregor-broker/gregor/broker/config"
	"github.com/gregor-broker/gregor/broker/handlers"
	"github.com/gregor-broker/gregor/zkpaths"
)

var _ handlers.ClusterAdmin = (*Admin)(nil)

// SetStaticBrokerConfig gives the Admin this broker's server.properties (as
// given, config.Config.Raw): DescribeConfigs reports them as
// STATIC_BROKER_CONFIG and dynamic broker values are validated on top of
// them. Call it before the Admin serves requests; it returns a.
func (a *Admin) SetStaticBrokerConfig(raw map[string]string) *Admin {
	a.static = maps.Clone(raw)
	return a
}

// resourceString is Kafka's ConfigResource.toString, used in messages.
func resourceString(res handlers.ConfigResource) string {
	t := "UNKNOWN"
	switch res.Type {
	case kmsg.ConfigResourceTypeTopic:
		t = "TOPIC"
	case kmsg.ConfigResourceTypeBroker:
		t = "BROKER"
	case kmsg.ConfigResourceTypeBrokerLogger:
		t = "BROKER_LOGGER"
	}
	return fmt.Sprintf("ConfigResource(type=%s, name='%s')", t, res.Name)
}

func invalidRequest(msg string) error { return apierr.New(kerr.InvalidRequest, msg) }

// invalidValue is the INVALID_REQUEST Kafka answers for a ConfigException.
func invalidValue(res handlers.ConfigResource, msg string) error {
	return invalidRequest(fmt.Sprintf("Invalid config value for resource %s: %s", resourceString(res), msg))
}

// readEntityConfig reads /config/<type>/<name>; a missing znode is empty.
func (a *Admin) readEntityConfig(entityType, name string) (map[string]string, error) {
	data, _, err := a.zk.Get(zkpaths.ConfigEntityPath(entityType, name))
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", zkpaths.ConfigEntityPath(entityType, name), err)
	}
	c, err := zkpaths.DecodeEntityConfig(data)
	if err != nil {
		return nil, err
	}
	return c.Config, nil
}

// changeEntityConfig is AdminZkClient.changeEntityConfig: write the entity
// znode (set, else create), then the change notification every broker
// watches.
func (a *Admin) changeEntityConfig(entityType, name string, cfg map[string]string) error {
	data := zkpaths.EntityConfig{Config: cfg}.Encode()
	p := zkpaths.ConfigEntityPath(entityType, name)
	_, err := a.zk.Set(p, data, zkpaths.AnyVersion)
	if errors.Is(err, zk.ErrNoNode) {
		err = a.zk.CreateRecursive(p, data)
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = a.zk.Set(p, data, zkpaths.AnyVersion)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	note := zkpaths.EncodeConfigChangeNotification(entityType + "/" + name)
	if _, err := a.zk.Create(zkpaths.ConfigChangeNotificationPrefix, note, zk.FlagSequence); err != nil {
		if !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("write config change notification: %w", err)
		}
		if err := a.zk.CreateRecursive(zkpaths.ConfigChangesPath, nil); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		if _, err := a.zk.Create(zkpaths.ConfigChangeNotificationPrefix, note, zk.FlagSequence); err != nil {
			return fmt.Errorf("write config change notification: %w", err)
		}
	}
	a.log.WithFields(logrus.Fields{"znode": p, "config": cfg}).Info("config changed")
	return nil
}

// brokerView is this broker's configuration by source, for describing and
// validating: Kafka's DynamicBrokerConfig current maps.
type brokerView struct {
	dynBroker, dynDefault, static, defaults map[string]string
	merged                                  map[string]string // defaults < static < dynDefault < dynBroker
}

func (a *Admin) brokerView() (*brokerView, error) {
	id := strconv.Itoa(int(a.cfg.BrokerID))
	dynBroker, err := a.readEntityConfig(zkpaths.ConfigTypeBroker, id)
	if err != nil {
		return nil, err
	}
	dynDefault, err := a.readEntityConfig(zkpaths.ConfigTypeBroker, zkpaths.ConfigDefaultName)
	if err != nil {
		return nil, err
	}
	bv := &brokerView{dynBroker: dynBroker, dynDefault: dynDefault, static: a.static, defaults: map[string]string{}}
	if bv.static == nil {
		bv.static = map[string]string{}
	}
	for _, k := range config.Keys() {
		if k.Default != "" {
			bv.defaults[k.Name] = k.Default
		}
	}
	bv.merged = maps.Clone(bv.defaults)
	maps.Copy(bv.merged, bv.static)
	maps.Copy(bv.merged, bv.dynDefault)
	maps.Copy(bv.merged, bv.dynBroker)
	return bv, nil
}

// configSynonyms is ZkAdminManager.configSynonyms: every source of name's
// synonyms, most specific first, then the leading entries that are not
// name itself dropped (Kafka's dropWhile, which is why retention.ms shows no
// synonyms while only log.retention.hours is set).
func (bv *brokerView) configSynonyms(name string, synonyms []string, sensitive bool) []handlers.ConfigSynonym {
	var out []handlers.ConfigSynonym
	for _, src := range []struct {
		m map[string]string
		s kmsg.ConfigSource
	}{
		{bv.dynBroker, kmsg.ConfigSourceDynamicBrokerConfig},
		{bv.dynDefault, kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		{bv.static, kmsg.ConfigSourceStaticBrokerConfig},
		{bv.defaults, kmsg.ConfigSourceDefaultConfig},
	} {
		for _, s := range synonyms {
			if v, ok := src.m[s]; ok {
				var val *string
				if !sensitive {
					val = strp(v)
				}
				out = append(out, handlers.ConfigSynonym{Name: s, Value: val, Source: src.s})
			}
		}
	}
	for len(out) > 0 && out[0].Name != name {
		out = out[1:]
	}
	return out
}

// topicValue is the effective value of a topic config: the override, else
// the first broker synonym set anywhere (converted to the topic's unit),
// else the LogConfig default.
func (bv *brokerView) topicValue(d *topicConfigDef, overrides map[string]string) *string {
	if v, ok := overrides[d.name]; ok {
		return strp(strings.TrimSpace(v))
	}
	for _, s := range d.synonyms {
		v, ok := bv.merged[s.name]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if s.mult != 1 {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return strp(strconv.FormatInt(n*s.mult, 10))
			}
		}
		return strp(v)
	}
	return d.def
}

// wanted filters by the requested names (nil: all).
func wanted(names []string) func(string) bool {
	if names == nil {
		return func(string) bool { return true }
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(n string) bool { return set[n] }
}

// DescribeConfigs implements handlers.ClusterAdmin (ZkAdminManager.describeConfigs).
func (a *Admin) DescribeConfigs(ctx context.Context, res handlers.ConfigResource, names []string) ([]handlers.ConfigEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch res.Type {
	case kmsg.ConfigResourceTypeTopic:
		return a.describeTopic(res.Name, wanted(names))
	case kmsg.ConfigResourceTypeBroker:
		if res.Name == "" || res.Name == zkpaths.ConfigDefaultName {
			return a.describeBroker(false, wanted(names))
		}
		id, err := brokerIDOf(res.Name)
		if err != nil {
			return nil, err
		}
		if id != a.cfg.BrokerID {
			return nil, invalidRequest(fmt.Sprintf("Unexpected broker id, expected %d or empty string, but received %s", a.cfg.BrokerID, res.Name))
		}
		return a.describeBroker(true, wanted(names))
	}
	return nil, invalidRequest(fmt.Sprintf("Unsupported resource type: %s", resourceTypeName(res.Type)))
}

func resourceTypeName(t kmsg.ConfigResourceType) string {
	s := resourceString(handlers.ConfigResource{Type: t})
	return strings.TrimSuffix(strings.TrimPrefix(s, "ConfigResource(type="), ", name='')")
}

func brokerIDOf(name string) (int32, error) {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return 0, invalidRequest("Broker id must be an integer, but it is: " + name)
	}
	return int32(id), nil
}

func (a *Admin) topicExists(topic string) error {
	if err := ValidateTopicName(topic); err != nil {
		return err
	}
	ok, _, err := a.zk.Exists(zkpaths.TopicPath(topic))
	if err != nil {
		return err
	}
	if !ok {
		return apierr.New(kerr.UnknownTopicOrPartition, fmt.Sprintf("The topic '%s' does not exist.", topic))
	}
	return nil
}

// describeTopic is createTopicConfigEntry over LogConfig's keys plus any
// unknown override found in ZooKeeper.
func (a *Admin) describeTopic(topic string, want func(string) bool) ([]handlers.ConfigEntry, error) {
	if err := a.topicExists(topic); err != nil {
		return nil, err
	}
	overrides, err := a.readEntityConfig(zkpaths.ConfigTypeTopic, topic)
	if err != nil {
		return nil, err
	}
	bv, err := a.brokerView()
	if err != nil {
		return nil, err
	}
	var out []handlers.ConfigEntry
	for i := range topicConfigDefs {
		d := &topicConfigDefs[i]
		if !want(d.name) {
			continue
		}
		e := handlers.ConfigEntry{Name: d.name, Value: bv.topicValue(d, overrides), Type: d.typ}
		if len(d.synonyms) > 0 {
			primary := d.synonyms[0].name
			e.Synonyms = bv.configSynonyms(primary, brokerConfigSynonyms(primary), false)
			if k, ok := brokerKeys[primary]; ok {
				e.Doc = strp(k.Doc)
			}
		}
		if v, ok := overrides[d.name]; ok {
			e.Synonyms = append([]handlers.ConfigSynonym{{Name: d.name, Value: strp(strings.TrimSpace(v)), Source: kmsg.ConfigSourceDynamicTopicConfig}}, e.Synonyms...)
		}
		e.Source = kmsg.ConfigSourceDefaultConfig
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		out = append(out, e)
	}
	for _, k := range sortedKeys(overrides) {
		if _, known := topicConfigDefIndex[k]; known || !want(k) {
			continue
		}
		// An unknown type is treated as sensitive (KafkaConfig.maybeSensitive).
		out = append(out, handlers.ConfigEntry{Name: k, Source: kmsg.ConfigSourceDynamicTopicConfig, Sensitive: true,
			Synonyms: []handlers.ConfigSynonym{{Name: k, Source: kmsg.ConfigSourceDynamicTopicConfig}}})
	}
	return out, nil
}

// describeBroker is createBrokerConfigEntry: for a broker id, every key it
// knows (the key table, server.properties and the dynamic configs); for
// the cluster default, only the keys set in /config/brokers/<default>.
func (a *Admin) describeBroker(perBroker bool, want func(string) bool) ([]handlers.ConfigEntry, error) {
	bv, err := a.brokerView()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	if perBroker {
		for _, k := range config.Keys() {
			names[k.Name] = true
		}
		for _, m := range []map[string]string{bv.static, bv.dynDefault, bv.dynBroker} {
			for k := range m {
				names[k] = true
			}
		}
	} else {
		for k := range bv.dynDefault {
			names[k] = true
		}
	}
	var out []handlers.ConfigEntry
	for _, name := range sortedKeys(names) {
		if !want(name) {
			continue
		}
		typ, known := brokerKeyType(name)
		sensitive := !known
		e := handlers.ConfigEntry{Name: name, Type: typ, Sensitive: sensitive, ReadOnly: !dynamicBrokerConfigs[name] && !dynamicOnlyBrokerConfigs[name]}
		src := bv.merged
		if !perBroker {
			src = bv.dynDefault
		}
		if v, ok := src[name]; ok && !sensitive {
			e.Value = strp(strings.TrimSpace(v))
		}
		for _, s := range bv.configSynonyms(name, brokerConfigSynonyms(name), sensitive) {
			if perBroker || s.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig {
				e.Synonyms = append(e.Synonyms, s)
			}
		}
		e.Source = kmsg.ConfigSourceDefaultConfig
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		if k, ok := brokerKeys[name]; ok {
			e.Doc = strp(k.Doc)
		}
		out = append(out, e)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AlterConfigs implements handlers.ClusterAdmin: the resource's dynamic
// config becomes exactly entries (ZkAdminManager.alterConfigs).
func (a *Admin) AlterConfigs(ctx context.Context, res handlers.ConfigResource, entries []handlers.ConfigOp, validateOnly bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var nulls []string
	cfg := map[string]string{}
	for _, e := range entries {
		if e.Value == nil {
			nulls = append(nulls, e.Name)
			continue
		}
		cfg[e.Name] = *e.Value
	}
	if len(nulls) > 0 {
		return invalidRequest("Null value not supported for : " + strings.Join(nulls, ","))
	}
	switch res.Type {
	case kmsg.ConfigResourceTypeTopic:
		return a.alterTopicConfig(res, cfg, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		entity, err := a.brokerEntity(res)
		if err != nil {
			return err
		}
		return a.alterBrokerConfig(res, entity, cfg, validateOnly)
	}
	return invalidRequest(fmt.Sprintf("AlterConfigs is only supported for topics and brokers, but resource type is %s", resourceTypeName(res.Type)))
}

// opName is AlterConfigOp.OpType's name, for messages.
func opName(op kmsg.IncrementalAlterConfigOp) string {
	switch op {
	case kmsg.IncrementalAlterConfigOpSet:
		return "SET"
	case kmsg.IncrementalAlterConfigOpDelete:
		return "DELETE"
	case kmsg.IncrementalAlterConfigOpAppend:
		return "APPEND"
	case kmsg.IncrementalAlterConfigOpSubtract:
		return "SUBTRACT"
	}
	return strconv.Itoa(int(op))
}

// IncrementalAlterConfigs implements handlers.ClusterAdmin
// (ZkAdminManager.incrementalAlterConfigs): ops apply to the stored
// dynamic config, and the result is validated and written like AlterConfigs.
func (a *Admin) IncrementalAlterConfigs(ctx context.Context, res handlers.ConfigResource, ops []handlers.ConfigOp, validateOnly bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	count := map[string]int{}
	for _, op := range ops {
		count[op.Name]++
	}
	var dups, nulls []string
	for _, k := range sortedKeys(count) {
		if count[k] > 1 {
			dups = append(dups, k)
		}
	}
	if len(dups) > 0 {
		return invalidRequest("Error due to duplicate config keys : " + strings.Join(dups, ","))
	}
	for _, op := range ops {
		if op.Value == nil && op.Op != kmsg.IncrementalAlterConfigOpDelete {
			nulls = append(nulls, opName(op.Op)+":"+op.Name)
		}
	}
	if len(nulls) > 0 {
		return invalidRequest("Null value not supported for : " + strings.Join(nulls, ","))
	}
	switch res.Type {
	case kmsg.ConfigResourceTypeTopic:
		if err := ValidateTopicName(res.Name); err != nil {
			return err
		}
		cur, err := a.readEntityConfig(zkpaths.ConfigTypeTopic, res.Name)
		if err != nil {
			return err
		}
		listDefault := func(name string) (string, bool, error) {
			d, ok := topicConfigDefIndex[name]
			if !ok {
				return "", false, apierr.New(kerr.InvalidConfig, "Unknown topic config name: "+name)
			}
			def := ""
			if name == "cleanup.policy" {
				def = "delete"
			}
			return def, d.typ == kmsg.ConfigTypeList, nil
		}
		if err := applyConfigOps(cur, ops, listDefault); err != nil {
			return err
		}
		return a.alterTopicConfig(res, cur, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		entity, err := a.brokerEntity(res)
		if err != nil {
			return err
		}
		cur, err := a.readEntityConfig(zkpaths.ConfigTypeBroker, entity)
		if err != nil {
			return err
		}
		listDefault := func(name string) (string, bool, error) {
			k, ok := brokerKeys[name]
			if !ok {
				return "", false, apierr.New(kerr.InvalidConfig, "Unknown broker config name: "+name)
			}
			return k.Default, k.Type == "list", nil
		}
		if err := applyConfigOps(cur, ops, listDefault); err != nil {
			return err
		}
		return a.alterBrokerConfig(res, entity, cur, validateOnly)
	}
	return invalidRequest(fmt.Sprintf("AlterConfigs is only supported for topics and brokers, but resource type is %s", resourceTypeName(res.Type)))
}

// applyConfigOps is ZkAdminManager.prepareIncrementalConfigs. listInfo
// returns a key's default and whether it is a list (APPEND and SUBTRACT
// are for lists only).
func applyConfigOps(cfg map[string]string, ops []handlers.ConfigOp, listInfo func(string) (string, bool, error)) error {
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			cfg[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(cfg, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			def, isList, err := listInfo(op.Name)
			if err != nil {
				return err
			}
			verb := "append"
			if op.Op == kmsg.IncrementalAlterConfigOpSubtract {
				verb = "subtract"
			}
			if !isList {
				return invalidRequest(fmt.Sprintf("Config value %s is not allowed for config key: %s", verb, op.Name))
			}
			old, ok := cfg[op.Name]
			if !ok {
				old = def
			}
			list := splitList(old)
			changes := splitList(*op.Value)
			if op.Op == kmsg.IncrementalAlterConfigOpAppend {
				for _, c := range changes {
					if !containsStr(list, c) {
						list = append(list, c)
					}
				}
			} else {
				var kept []string
				for _, v := range list {
					if !containsStr(changes, v) {
						kept = append(kept, v)
					}
				}
				list = kept
			}
			cfg[op.Name] = strings.Join(list, ",")
		default:
			return invalidRequest(fmt.Sprintf("Unknown config operation %d for config key: %s", op.Op, op.Name))
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// alterTopicConfig is ZkAdminManager.alterTopicConfigs +
// AdminZkClient.changeTopicConfig: the topic must exist, names must be
// LogConfig's (INVALID_CONFIG), values valid (INVALID_REQUEST).
func (a *Admin) alterTopicConfig(res handlers.ConfigResource, cfg map[string]string, validateOnly bool) error {
	if err := a.topicExists(res.Name); err != nil {
		return err
	}
	unknown, bad := validateTopicConfig(cfg)
	if unknown != "" {
		return apierr.New(kerr.InvalidConfig, unknown)
	}
	if bad != "" {
		return invalidValue(res, bad)
	}
	if validateOnly {
		return nil
	}
	return a.changeEntityConfig(zkpaths.ConfigTypeTopic, res.Name, cfg)
}

// brokerEntity is ZkAdminManager.getBrokerId: "" (or "<default>") is the
// cluster default; a broker id must be this broker's.
func (a *Admin) brokerEntity(res handlers.ConfigResource) (string, error) {
	if res.Name == "" || res.Name == zkpaths.ConfigDefaultName {
		return zkpaths.ConfigDefaultName, nil
	}
	id, err := brokerIDOf(res.Name)
	if err != nil {
		return "", err
	}
	if id != a.cfg.BrokerID {
		return "", invalidRequest(fmt.Sprintf("Unexpected broker id, expected %d, but received %s", a.cfg.BrokerID, res.Name))
	}
	return strconv.Itoa(int(id)), nil
}

// alterBrokerConfig is ZkAdminManager.alterBrokerConfigs with
// DynamicBrokerConfig.validate: keys of the broker's table that Gregor
// cannot change live are refused; the values must parse on top of the
// static config and the other dynamic level.
func (a *Admin) alterBrokerConfig(res handlers.ConfigResource, entity string, cfg map[string]string, validateOnly bool) error {
	var nonDynamic []string
	for _, k := range sortedKeys(cfg) {
		if _, known := brokerKeys[k]; known && !dynamicBrokerConfigs[k] {
			nonDynamic = append(nonDynamic, k)
		}
	}
	if len(nonDynamic) > 0 {
		return invalidValue(res, fmt.Sprintf("Cannot update these configs dynamically: Set(%s)", strings.Join(nonDynamic, ", ")))
	}
	for _, k := range sortedKeys(cfg) {
		if !dynamicOnlyBrokerConfigs[k] {
			continue
		}
		// DynamicConfig.Broker: LONG, at least 0.
		if n, err := strconv.ParseInt(strings.TrimSpace(cfg[k]), 10, 64); err != nil {
			return invalidValue(res, fmt.Sprintf("Invalid value %s for configuration %s: Not a number of type LONG", cfg[k], k))
		} else if n < 0 {
			return invalidValue(res, fmt.Sprintf("Invalid value %d for configuration %s: Value must be at least 0", n, k))
		}
	}
	bv, err := a.brokerView()
	if err != nil {
		return err
	}
	props := maps.Clone(bv.static)
	if props == nil {
		props = map[string]string{}
	}
	if _, ok := props["broker.id"]; !ok {
		props["broker.id"] = strconv.Itoa(int(a.cfg.BrokerID))
	}
	if _, ok := props["zookeeper.connect"]; !ok {
		props["zookeeper.connect"] = "localhost:2181"
	}
	if entity == zkpaths.ConfigDefaultName {
		maps.Copy(props, cfg)
		maps.Copy(props, bv.dynBroker)
	} else {
		maps.Copy(props, bv.dynDefault)
		maps.Copy(props, cfg)
	}
	if _, _, err := config.Parse(props); err != nil {
		var ce *config.ConfigError
		if errors.As(err, &ce) {
			return invalidValue(res, fmt.Sprintf("Invalid value %s for configuration %s: %s", ce.Value, ce.Key, ce.Reason))
		}
		return invalidValue(res, err.Error())
	}
	if validateOnly {
		return nil
	}
	return a.changeEntityConfig(zkpaths.ConfigTypeBroker, entity, cfg)
}
