package zkpaths

import (
	"sort"
	"strconv"
	"unicode/utf16"
)

// This file reproduces the bytes Kafka's Json.encodeAsBytes (Jackson over
// Scala collections converted with .asJava) writes: compact JSON, Jackson's
// string escaping, and the key order of the Scala 2.13 / Java 11+ collections
// (reference §1.3).

// jsonWriter appends compact JSON.
type jsonWriter struct{ b []byte }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) key(first bool, k string) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.str(k)
	w.b = append(w.b, ':')
}

func (w *jsonWriter) int(v int64) { w.b = strconv.AppendInt(w.b, v, 10) }

func (w *jsonWriter) ints(vs []int32) {
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	}
	w.b = append(w.b, ']')
}

const hexUpper = "0123456789ABCDEF"

// str writes s quoted the way Jackson does: \" \\ \b \t \n \f \r, other
// control characters as \u00XX (upper-case hex), everything else raw UTF-8.
func (w *jsonWriter) str(s string) {
	w.b = append(w.b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			w.b = append(w.b, '\\', c)
		case c == '\b':
			w.b = append(w.b, '\\', 'b')
		case c == '\t':
			w.b = append(w.b, '\\', 't')
		case c == '\n':
			w.b = append(w.b, '\\', 'n')
		case c == '\f':
			w.b = append(w.b, '\\', 'f')
		case c == '\r':
			w.b = append(w.b, '\\', 'r')
		case c < 0x20:
			w.b = append(w.b, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xf])
		default:
			w.b = append(w.b, c)
		}
	}
	w.b = append(w.b, '"')
}

// stringMap writes {"k":"v",...} with keys in the given order.
func (w *jsonWriter) stringMap(keys []string, m map[string]string) {
	w.b = append(w.b, '{')
	for i, k := range keys {
		w.key(i == 0, k)
		w.str(m[k])
	}
	w.b = append(w.b, '}')
}

// javaStringHash is java.lang.String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + int32(r1)
			h = 31*h + int32(r2)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// scalaMutableMapOrder returns keys in the iteration order of a Scala 2.13
// mutable.HashMap that started empty (table length 16) and had the keys
// added one by one: buckets in index order, entries of a bucket sorted by
// the improved hash as a signed int (reference §1.3 rule 3). Used for the
// maps inside the topic znode.
func scalaMutableMapOrder(keys []string) []string {
	n := len(keys)
	length := 16
	for size := 0; size < n; size++ {
		if size+1 >= int(float64(length)*0.75) {
			length *= 2
		}
	}
	return sortByBucket(keys, length)
}

func sortByBucket(keys []string, length int) []string {
	type kh struct {
		k string
		h int32
	}
	ks := make([]kh, len(keys))
	for i, k := range keys {
		h := javaStringHash(k)
		ks[i] = kh{k, h ^ int32(uint32(h)>>16)}
	}
	mask := int32(length - 1)
	sort.SliceStable(ks, func(i, j int) bool {
		bi, bj := ks[i].h&mask, ks[j].h&mask
		if bi != bj {
			return bi < bj
		}
		return ks[i].h < ks[j].h
	})
	out := make([]string, len(ks))
	for i, e := range ks {
		out[i] = e.k
	}
	return out
}

// scalaImmutableMapOrder returns keys (given in insertion order) in the
// iteration order of a Scala 2.13 immutable.Map built from them: insertion
// order up to 4 entries (Map1..Map4), else the CHAMP hash trie order (rule 2).
func scalaImmutableMapOrder(keys []string) []string {
	if len(keys) <= 4 {
		return append([]string(nil), keys...)
	}
	type kh struct {
		k string
		h uint32
	}
	ks := make([]kh, len(keys))
	for i, k := range keys {
		ks[i] = kh{k, uint32(scalaImprove(javaStringHash(k)))}
	}
	var out []string
	var walk func(es []kh, shift uint)
	walk = func(es []kh, shift uint) {
		if shift >= 32 { // full collision: insertion order
			for _, e := range es {
				out = append(out, e.k)
			}
			return
		}
		slots := map[uint32][]kh{}
		var order []uint32
		for _, e := range es {
			s := (e.h >> shift) & 31
			if _, ok := slots[s]; !ok {
				order = append(order, s)
			}
			slots[s] = append(slots[s], e)
		}
		sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
		for _, s := range order { // single entries first
			if len(slots[s]) == 1 {
				out = append(out, slots[s][0].k)
			}
		}
		for _, s := range order { // then the sub-nodes
			if len(slots[s]) > 1 {
				walk(slots[s], shift+5)
			}
		}
	}
	walk(ks, 0)
	return out
}

// scalaImprove is scala.collection.Hashing.improve.
func scalaImprove(hcode int32) int32 {
	h := uint32(hcode) + ^(uint32(hcode) << 9)
	h ^= h >> 14
	h += h << 4
	return int32(h ^ (h >> 10))
}

// javaPropertiesOrder returns keys in the iteration order of a Java 9+
// java.util.Properties (a ConcurrentHashMap with 16 bins, doubling when the
// count reaches 3/4 of the bins): bins ascending, keys of one bin in the
// order given (reference §1.3 rule 4).
func javaPropertiesOrder(keys []string) []string {
	bins := 16
	for size := 1; size <= len(keys); size++ {
		if size >= bins-bins/4 {
			bins *= 2
		}
	}
	type kh struct {
		k string
		b int32
	}
	ks := make([]kh, len(keys))
	for i, k := range keys {
		h := javaStringHash(k)
		spread := (h ^ int32(uint32(h)>>16)) & 0x7fffffff
		ks[i] = kh{k, spread & int32(bins-1)}
	}
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].b < ks[j].b })
	out := make([]string, len(ks))
	for i, e := range ks {
		out[i] = e.k
	}
	return out
}
