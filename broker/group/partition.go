package group

import "unicode/utf16"

// OffsetsTopic is the internal topic holding group metadata and committed
// offsets (Kafka's Topic.GROUP_METADATA_TOPIC_NAME).
const OffsetsTopic = "__consumer_offsets"

// javaStringHashCode is Java's String.hashCode: 31*h + c over the UTF-16
// code units, wrapping at 32 bits.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(c)
	}
	return h
}

// kafkaAbs is Kafka's Utils.abs: the absolute value, with
// Integer.MIN_VALUE mapped to 0 (not to itself).
func kafkaAbs(n int32) int32 {
	if n == -1<<31 {
		return 0
	}
	if n < 0 {
		return -n
	}
	return n
}

// PartitionFor returns the __consumer_offsets partition of a group among n
// partitions: Utils.abs(groupId.hashCode) % n (GroupMetadataManager.partitionFor).
func PartitionFor(groupID string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	return kafkaAbs(javaStringHashCode(groupID)) % n
}
