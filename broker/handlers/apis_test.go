package handlers

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAPITable walks the table: every key is a kmsg request, our range is
// within kmsg's, and every entry has a handler.
func TestAPITable(t *testing.T) {
	ix := newAPIIndex(apiTable())
	for _, a := range ix.sorted {
		t.Run(kmsg.NameForKey(a.key), func(t *testing.T) {
			req := kmsg.RequestForKey(a.key)
			if req == nil {
				t.Fatalf("kmsg has no request for key %d", a.key)
			}
			if a.min < 0 || a.min > a.max {
				t.Errorf("bad range %d-%d", a.min, a.max)
			}
			if a.max > req.MaxVersion() {
				t.Errorf("max %d > kmsg max %d", a.max, req.MaxVersion())
			}
			if a.handle == nil {
				t.Errorf("no handler")
			}
		})
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("a double registration did not panic")
			}
		}()
		newAPIIndex(append(apiTable(), api{key: 0, min: 3, max: 3}))
	}()
}

func TestApiVersions(t *testing.T) {
	b := newTestBroker(t)
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "sarama", "1.61.1"
		resp := b.do(clientListener, v, req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: %s", v, codeName(resp.ErrorCode))
		}
		table := newAPIIndex(apiTable()).sorted
		if len(resp.ApiKeys) != len(table) {
			t.Fatalf("v%d: %d keys, want %d", v, len(resp.ApiKeys), len(table))
		}
		for i, k := range resp.ApiKeys {
			if k.ApiKey != table[i].key || k.MinVersion != table[i].min || k.MaxVersion != table[i].max {
				t.Errorf("v%d: key %+v, want %+v", v, k, table[i])
			}
		}
	}

	t.Run("v99 answers v0 with UNSUPPORTED_VERSION and our range", func(t *testing.T) {
		// The server decodes an unknown ApiVersions version as a v0 body
		// and passes the client's version.
		body := kmsg.NewPtrApiVersionsRequest()
		body.SetVersion(0)
		resp, err := b.h.Handle(t.Context(), serverRequest{APIKey: 18, APIVersion: 99, Body: body, Listener: clientListener}.req())
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*kmsg.ApiVersionsResponse)
		if r.Version != 0 || r.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Fatalf("got v%d %s", r.Version, codeName(r.ErrorCode))
		}
		if len(r.ApiKeys) != 1 || r.ApiKeys[0].ApiKey != 18 || r.ApiKeys[0].MinVersion != 0 || r.ApiKeys[0].MaxVersion != 3 {
			t.Fatalf("keys %+v", r.ApiKeys)
		}
	})

	for _, tc := range []struct{ name, sw, ver string }{
		{"empty name", "", "1.0"},
		{"bad chars", "sar ama", "1.0"},
		{"trailing dash", "sarama", "1.0-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrApiVersionsRequest()
			req.ClientSoftwareName, req.ClientSoftwareVersion = tc.sw, tc.ver
			resp := b.do(clientListener, 3, req).(*kmsg.ApiVersionsResponse)
			if resp.ErrorCode != kerr.InvalidRequest.Code {
				t.Fatalf("got %s, want INVALID_REQUEST", codeName(resp.ErrorCode))
			}
		})
	}
}

func TestHandleRejectsUnsupported(t *testing.T) {
	b := newTestBroker(t)
	if _, _, ok := b.h.Versions(9999); ok {
		t.Fatal("key 9999 served")
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(99)
	if _, err := b.h.Handle(t.Context(), serverRequest{APIKey: 0, APIVersion: 99, Body: req, Listener: clientListener}.req()); err == nil {
		t.Fatal("Produce v99 did not close the connection")
	}
}
