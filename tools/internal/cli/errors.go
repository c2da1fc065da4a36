package cli

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
)

// KafkaError is an error as Kafka's Java client raises it: the exception
// class (without package) and the message users see after
// "Error while executing ... : ".
type KafkaError struct {
	Class string
	Msg   string
}

func (e *KafkaError) Error() string { return e.Msg }

// Errorf builds a KafkaError of the given exception class.
func Errorf(class, format string, args ...any) error {
	return &KafkaError{Class: class, Msg: fmt.Sprintf(format, args...)}
}

// exceptionOverrides are Kafka exception classes whose name is not the error
// code's name in camel case (org.apache.kafka.common.protocol.Errors).
var exceptionOverrides = map[int16]string{
	kerr.TopicAlreadyExists.Code:       "TopicExistsException",
	kerr.RequestTimedOut.Code:          "TimeoutException",
	kerr.UnknownServerError.Code:       "UnknownServerException",
	kerr.CorruptMessage.Code:           "CorruptRecordException",
	kerr.NotEnoughReplicas.Code:        "NotEnoughReplicasException",
	kerr.InvalidTopicException.Code:    "InvalidTopicException",
	kerr.GroupIDNotFound.Code:          "GroupIdNotFoundException",
	kerr.UnsupportedVersion.Code:       "UnsupportedVersionException",
	kerr.NotController.Code:            "NotControllerException",
	kerr.InvalidRequest.Code:           "InvalidRequestException",
	kerr.PolicyViolation.Code:          "PolicyViolationException",
	kerr.NonEmptyGroup.Code:            "GroupNotEmptyException",
	kerr.CoordinatorNotAvailable.Code:  "CoordinatorNotAvailableException",
	kerr.NotCoordinator.Code:           "NotCoordinatorException",
	kerr.InvalidReplicationFactor.Code: "InvalidReplicationFactorException",
}

// exceptionName is the Java class of a Kafka error code.
func exceptionName(e *kerr.Error) string {
	if n, ok := exceptionOverrides[e.Code]; ok {
		return n
	}
	var b strings.Builder
	for _, part := range strings.Split(e.Message, "_") {
		if part == "" {
			continue
		}
		b.WriteString(part[:1])
		b.WriteString(strings.ToLower(part[1:]))
	}
	name := b.String()
	if !strings.HasSuffix(name, "Exception") {
		name += "Exception"
	}
	return name
}

// AsKafka converts err (sarama's, kerr's or ours) into Kafka's exception
// class and message. call names the admin call for timeouts ("createTopics").
func AsKafka(err error, call string) *KafkaError {
	var ke *KafkaError
	if errors.As(err, &ke) {
		return ke
	}
	var te *sarama.TopicError
	if errors.As(err, &te) {
		k := fromCode(int16(te.Err))
		if te.ErrMsg != nil && *te.ErrMsg != "" {
			k.Msg = *te.ErrMsg
		}
		return k
	}
	var pe *sarama.TopicPartitionError
	if errors.As(err, &pe) {
		k := fromCode(int16(pe.Err))
		if pe.ErrMsg != nil && *pe.ErrMsg != "" {
			k.Msg = *pe.ErrMsg
		}
		return k
	}
	var se sarama.KError
	if errors.As(err, &se) {
		return fromCode(int16(se))
	}
	var kr *kerr.Error
	if errors.As(err, &kr) {
		return fromCode(kr.Code)
	}
	if errors.Is(err, sarama.ErrOutOfBrokers) || errors.Is(err, sarama.ErrClosedClient) || isNetErr(err) {
		if call == "" {
			return &KafkaError{Class: "TimeoutException", Msg: "Timeout expired while fetching topic metadata"}
		}
		return &KafkaError{Class: "TimeoutException", Msg: "Timed out waiting for a node assignment. Call: " + call}
	}
	return &KafkaError{Class: "KafkaException", Msg: err.Error()}
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

func fromCode(code int16) *KafkaError {
	e, ok := kerr.ErrorForCode(code).(*kerr.Error)
	if !ok || e == nil {
		return &KafkaError{Class: "UnknownServerException", Msg: fmt.Sprintf("error code %d", code)}
	}
	return &KafkaError{Class: exceptionName(e), Msg: e.Description}
}

// JavaError formats err as Kafka's log line does after "ERROR ":
// "org.apache.kafka.common.errors.<Class>: <message>".
func JavaError(err error) string {
	k := AsKafka(err, "")
	return QualifiedClass(k.Class) + ": " + k.Msg
}

// LogError writes a log4j-style ERROR line as Kafka's tools log it to stderr:
// "[2024-06-21 18:27:13,525] ERROR <exception> (<logger>)".
func LogError(t *Tool, err error, logger string) {
	now := time.Now()
	fmt.Fprintf(t.Stderr, "[%s,%03d] ERROR %s (%s)\n", now.Format("2006-01-02 15:04:05"), now.Nanosecond()/1e6, JavaError(err), logger)
}

// javaPackages are the packages of the exception classes that are not in
// org.apache.kafka.common.errors.
var javaPackages = map[string]string{
	"KafkaException":                         "org.apache.kafka.common.",
	"ConfigException":                        "org.apache.kafka.common.config.",
	"IllegalArgumentException":               "java.lang.",
	"NumberFormatException":                  "java.lang.",
	"RuntimeException":                       "java.lang.",
	"ClassNotFoundException":                 "java.lang.",
	"IOException":                            "java.io.",
	"AdminCommandFailedException":            "kafka.common.",
	"AdminOperationException":                "kafka.admin.",
	"UnrecognizedOptionException":            "joptsimple.",
	"OptionMissingRequiredArgumentException": "joptsimple.",
}

// QualifiedClass is the fully qualified name of a Kafka exception class.
func QualifiedClass(class string) string {
	if strings.Contains(class, ".") {
		return class
	}
	if p, ok := javaPackages[class]; ok {
		return p + class
	}
	return "org.apache.kafka.common.errors." + class
}
