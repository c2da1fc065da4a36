package main

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// stats is ProducerPerformance.Stats: totals, a sample of latencies for the
// percentiles, and a window that is printed and reset every reportInterval.
type stats struct {
	mu             sync.Mutex
	out            io.Writer
	start          time.Time
	count, bytes   int64
	maxLatency     time.Duration
	totalLatency   time.Duration
	latencies      []int64 // ms, every sampling-th record
	sampling       int64
	reportInterval time.Duration

	windowStart              time.Time
	windowCount, windowBytes int64
	windowMax, windowTotal   time.Duration
}

func newStats(n int64, interval time.Duration, out io.Writer) *stats {
	sampling := n / 500000
	if sampling < 1 {
		sampling = 1
	}
	now := time.Now()
	return &stats{out: out, start: now, windowStart: now, sampling: sampling, reportInterval: interval}
}

func (s *stats) record(latency time.Duration, bytes int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	s.bytes += int64(bytes)
	s.totalLatency += latency
	s.maxLatency = max(s.maxLatency, latency)
	s.windowCount++
	s.windowBytes += int64(bytes)
	s.windowTotal += latency
	s.windowMax = max(s.windowMax, latency)
	if s.count%s.sampling == 0 {
		s.latencies = append(s.latencies, latency.Milliseconds())
	}
	if now.Sub(s.windowStart) >= s.reportInterval {
		s.printWindow(now)
		s.windowStart, s.windowCount, s.windowBytes, s.windowMax, s.windowTotal = now, 0, 0, 0, 0
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// printWindow is Stats.printWindow's line.
func (s *stats) printWindow(now time.Time) {
	elapsed := now.Sub(s.windowStart).Seconds()
	fmt.Fprintf(s.out, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
		s.windowCount, float64(s.windowCount)/elapsed, float64(s.windowBytes)/elapsed/(1024*1024),
		ms(s.windowTotal)/float64(max(s.windowCount, 1)), ms(s.windowMax))
}

// printTotal is Stats.printTotal's line.
func (s *stats) printTotal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := time.Since(s.start).Seconds()
	sort.Slice(s.latencies, func(i, j int) bool { return s.latencies[i] < s.latencies[j] })
	pct := func(p float64) int64 {
		if len(s.latencies) == 0 {
			return 0
		}
		return s.latencies[int(p*float64(len(s.latencies)))]
	}
	fmt.Fprintf(s.out, "%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
		s.count, float64(s.count)/elapsed, float64(s.bytes)/elapsed/(1024*1024),
		ms(s.totalLatency)/float64(max(s.count, 1)), ms(s.maxLatency), pct(0.5), pct(0.95), pct(0.99), pct(0.999))
}
