package main

import (
	"errors"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// illegalArgument is a java.lang.IllegalArgumentException thrown while the
// command runs; ConsumerGroupCommand.run turns it into printUsageAndExit.
type illegalArgument struct{ msg string }

func (e *illegalArgument) Error() string { return e.msg }

func illegalf(msg string) error { return &illegalArgument{msg: msg} }

func asIllegal(err error, target **illegalArgument) bool { return errors.As(err, target) }

// callError is an admin call that failed: Kafka's tool reads it from a
// KafkaFuture, so the exception it reports is an ExecutionException whose
// message is the cause's "class: message".
type callError struct{ k *cli.KafkaError }

func (e *callError) Error() string { return e.k.Msg }

// callFailed wraps err (sarama's, kerr's or ours) as the failure of the
// admin call named call ("describeConsumerGroups"), which a timeout
// message names.
func callFailed(err error, call string) error {
	var ce *callError
	if errors.As(err, &ce) {
		return ce
	}
	var ia *illegalArgument
	if errors.As(err, &ia) {
		return ia
	}
	return &callError{k: cli.AsKafka(err, call)}
}

// failureMessage is e.getMessage() of the exception the command failed
// with.
func failureMessage(err error) string {
	var ce *callError
	if errors.As(err, &ce) {
		return cli.QualifiedClass(ce.k.Class) + ": " + ce.k.Msg
	}
	return cli.AsKafka(err, "").Msg
}

// javaString is the first line of the exception's stack trace.
func javaString(err error) string {
	var ce *callError
	if errors.As(err, &ce) {
		return "java.util.concurrent.ExecutionException: " + cli.QualifiedClass(ce.k.Class) + ": " + ce.k.Msg
	}
	return cli.JavaError(err)
}

// throwableString is Throwable.toString of a group's failure as
// deleteGroups prints it ("could not be deleted due to: ...").
func throwableString(err error) string {
	return javaString(callFailed(err, "deleteConsumerGroups"))
}
