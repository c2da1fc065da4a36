package broker

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// TestRetryControlledShutdown: controlled.shutdown.max.retries attempts at
// most, the backoff between failed attempts only, success stops at once.
func TestRetryControlledShutdown(t *testing.T) {
	fail := errors.New("remaining partitions")
	tests := []struct {
		name         string
		maxRetries   int
		results      []error // per attempt; past the end: success
		wantAttempts int
		wantSleeps   int
		wantErr      bool
	}{
		{"first attempt succeeds", 3, nil, 1, 0, false},
		{"second attempt succeeds", 3, []error{fail}, 2, 1, false},
		{"retries exhausted", 3, []error{fail, fail, fail}, 3, 2, true},
		{"one retry", 1, []error{fail}, 1, 0, true},
		{"zero retries: no attempt", 0, nil, 0, 0, true},
	}
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attempts, sleeps := 0, 0
			err := retryControlledShutdown(tc.maxRetries, 5*time.Second, func() error {
				attempts++
				if attempts <= len(tc.results) {
					return tc.results[attempts-1]
				}
				return nil
			}, func(d time.Duration) {
				if d != 5*time.Second {
					t.Errorf("slept %v, want the backoff", d)
				}
				sleeps++
			}, logrus.NewEntry(logger))
			if attempts != tc.wantAttempts || sleeps != tc.wantSleeps || (err != nil) != tc.wantErr {
				t.Fatalf("attempts %d sleeps %d err %v; want %d, %d, err %v", attempts, sleeps, err, tc.wantAttempts, tc.wantSleeps, tc.wantErr)
			}
		})
	}
}
