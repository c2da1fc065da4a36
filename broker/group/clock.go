package group

import "time"

// Clock is the coordinator's time: Now for timestamps and AfterFunc for the
// delayed operations (Kafka's purgatories). Tests inject a manual clock so
// that session and rebalance timeouts are driven step by step.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stopped.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call; Stop cancels it if it has not fired.
type Timer interface {
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
