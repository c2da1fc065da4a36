package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ReadFile reads a file a tool was given (--offset-json-file, ...), failing
// with the NoSuchFileException Utils.readFileAsString raises.
func ReadFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return "", Errorf("java.nio.file.NoSuchFileException", "%s", path)
		}
		return "", Errorf("IOException", "%s", err)
	}
	return string(data), nil
}

// JSONObject is a parsed JSON object read the way Kafka's tools read their
// JSON files (org.apache.kafka.server.util.json): fields are looked up by
// name and converted, with Jackson's messages when they are missing or of
// the wrong type.
type JSONObject map[string]json.RawMessage

// ParseJSONObject parses s as one JSON object; anything else is "not a
// valid JSON" (Json.parseFull returning empty).
func ParseJSONObject(s string) (JSONObject, bool) {
	var o JSONObject
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil || o == nil {
		return nil, false
	}
	return o, true
}

func mappingError(format string, a ...any) error {
	return Errorf("com.fasterxml.jackson.databind.JsonMappingException", format, a...)
}

// Has says whether the field is present.
func (o JSONObject) Has(name string) bool { _, ok := o[name]; return ok }

func (o JSONObject) field(name string) (json.RawMessage, error) {
	raw, ok := o[name]
	if !ok {
		return nil, mappingError("No such field exists: `%s`", name)
	}
	return raw, nil
}

// Int is JsonObject.apply(name).to(INT).
func (o JSONObject) Int(name string) (int32, error) {
	raw, err := o.field(name)
	if err != nil {
		return 0, err
	}
	var n int32
	if json.Unmarshal(raw, &n) != nil {
		return 0, mappingError("Expected `Integer` value, received %s", raw)
	}
	return n, nil
}

// Long is JsonObject.apply(name).to(LONG).
func (o JSONObject) Long(name string) (int64, error) {
	raw, err := o.field(name)
	if err != nil {
		return 0, err
	}
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		return 0, mappingError("Expected `Long` value, received %s", raw)
	}
	return n, nil
}

// String is JsonObject.apply(name).to(STRING).
func (o JSONObject) String(name string) (string, error) {
	raw, err := o.field(name)
	if err != nil {
		return "", err
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", mappingError("Expected `String` value, received %s", raw)
	}
	return s, nil
}

// IntList is JsonObject.apply(name).to(INT_LIST).
func (o JSONObject) IntList(name string) ([]int32, error) {
	raw, err := o.field(name)
	if err != nil {
		return nil, err
	}
	var v []int32
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return nil, mappingError("Expected `List[Integer]` value, received %s", raw)
	}
	return v, nil
}

// StringList is JsonObject.apply(name).to(STRING_LIST).
func (o JSONObject) StringList(name string) ([]string, error) {
	raw, err := o.field(name)
	if err != nil {
		return nil, err
	}
	var v []string
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return nil, mappingError("Expected `List[String]` value, received %s", raw)
	}
	return v, nil
}

// Objects is JsonObject.apply(name).asJsonArray() of objects.
func (o JSONObject) Objects(name string) ([]JSONObject, error) {
	raw, err := o.field(name)
	if err != nil {
		return nil, err
	}
	var v []JSONObject
	if json.Unmarshal(raw, &v) != nil {
		return nil, mappingError("Expected JSON array of objects for `%s`, received %s", name, raw)
	}
	return v, nil
}

// Version is the file's "version" field, def when it is absent.
func (o JSONObject) Version(def int32) (int32, error) {
	if !o.Has("version") {
		return def, nil
	}
	return o.Int("version")
}

// MainException prints an exception that escapes a tool's main method as
// the JVM does: `Exception in thread "main" <class>: <message>`.
func MainException(t *Tool, err error) int {
	fmt.Fprintf(t.Stderr, "Exception in thread \"main\" %s\n", JavaError(err))
	return 1
}
