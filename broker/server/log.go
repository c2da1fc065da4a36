package server

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// rateLimitedLogger logs at most one warning per reason per interval, like
// nats' RateLimitWarnf: a client that sends bad frames in a loop must not
// flood the log. The next warning that gets through carries the count of the
// ones suppressed. Reasons must come from a small constant set (they are map
// keys that are never removed).
type rateLimitedLogger struct {
	every time.Duration

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newRateLimitedLogger(every time.Duration) *rateLimitedLogger {
	return &rateLimitedLogger{every: every, last: make(map[string]time.Time), suppressed: make(map[string]int)}
}

// warn logs msg at warning level with a reason field, unless a warning with
// the same reason was logged less than l.every ago. It reports whether it
// logged.
func (l *rateLimitedLogger) warn(e *logrus.Entry, reason, msg string) bool {
	now := time.Now()
	l.mu.Lock()
	if last, ok := l.last[reason]; ok && now.Sub(last) < l.every {
		l.suppressed[reason]++
		l.mu.Unlock()
		return false
	}
	n := l.suppressed[reason]
	l.last[reason], l.suppressed[reason] = now, 0
	l.mu.Unlock()
	e = e.WithField("reason", reason)
	if n > 0 {
		e = e.WithField("suppressed", n)
	}
	e.Warn(msg)
	return true
}
