// Package config owns the broker's configuration: the table of Kafka keys
// (name, type, default, meaning, validator) in keys.go, a reader for Java
// .properties files, --override handling, and the immutable Config the rest
// of the broker receives from kafka-server-start.
//
// It follows kafka.server.KafkaConfig (ZooKeeper mode): Kafka's key names,
// defaults and validation rules, so a Kafka server.properties works as is.
// A bad value is a *ConfigError, "key: reason, got value"; an unknown key is
// a warning returned to the caller. docs/configuration.md is generated from
// the same table.
//
// It imports nothing from the rest of Gregor and does no logging.
package config

//go:generate go run ./gendocs -o ../../docs/configuration.md
