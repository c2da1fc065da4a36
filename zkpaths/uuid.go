package zkpaths

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// UUID is a Kafka Uuid (org.apache.kafka.common.Uuid): 16 bytes, shown as
// URL-safe base64 without padding (22 characters). It is an alias of
// [16]byte so it converts freely to kmsg's TopicID fields.
type UUID = [16]byte

// ZeroUUID is Uuid.ZERO_UUID, "AAAAAAAAAAAAAAAAAAAAAA": no topic id.
var ZeroUUID UUID

// metadataTopicID is Uuid.METADATA_TOPIC_ID (most 0, least 1), reserved.
var metadataTopicID = UUID{15: 1}

// NewUUID returns a random version-4 UUID the way Kafka's Uuid.randomUuid
// does: never the zero UUID nor the metadata-topic sentinel, and never one
// whose string form starts with '-' (it would look like a command-line flag).
// Cluster ids (CoreUtils.generateUuidAsBase64) and topic ids both use it.
func NewUUID() UUID {
	for {
		var u UUID
		if _, err := rand.Read(u[:]); err != nil {
			panic(fmt.Sprintf("zkpaths: crypto/rand: %v", err)) // never fails on Linux
		}
		u[6] = u[6]&0x0f | 0x40 // version 4, as java.util.UUID.randomUUID
		u[8] = u[8]&0x3f | 0x80 // IETF variant
		if u == ZeroUUID || u == metadataTopicID || UUIDString(u)[0] == '-' {
			continue
		}
		return u
	}
}

// UUIDString is Uuid.toString: URL-safe base64 without padding.
func UUIDString(u UUID) string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// ParseUUID is Uuid.fromString: it accepts exactly 22 URL-safe base64
// characters that decode to 16 bytes.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 22 {
		return u, fmt.Errorf("zkpaths: uuid %q: want 22 base64 characters, got %d", s, len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return u, fmt.Errorf("zkpaths: uuid %q: %w", s, err)
	}
	copy(u[:], b)
	return u, nil
}
