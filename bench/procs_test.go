package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// proc is one server process started by the benchmarks: kfake-server,
// sink-server or a Gregor broker. Its output goes to logPath.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time // just before exec
	exited  chan struct{}
	waitErr error
}

// startProc starts bin with args, its stdout and stderr going to a log file
// in dir. When addrOnStdout, the first stdout line is the listen address,
// which is returned.
func startProc(dir, name string, addrOnStdout bool, bin string, args ...string) (*proc, string, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout io.ReadCloser
	if addrOnStdout {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, "", err
		}
	} else {
		cmd.Stdout = logf
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	var addr string
	if addrOnStdout {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			_ = cmd.Process.Kill()
		} else {
			addr = strings.TrimSpace(line)
			go func() { _, _ = io.Copy(logf, stdout) }()
		}
		if addr == "" {
			_ = cmd.Wait()
			logf.Close()
			return nil, "", fmt.Errorf("%s printed no address: %v\n%s", name, err, p.logTail())
		}
	}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, addr, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stopTimeout is how long stop waits after SIGTERM before SIGKILL.
const stopTimeout = 30 * time.Second

// stop sends SIGTERM and waits up to stopTimeout for the exit, then SIGKILLs
// the process group. It returns how long the process took to exit and
// whether it had to be killed.
func (p *proc) stop() (time.Duration, bool) {
	select {
	case <-p.exited:
		return 0, false
	default:
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return time.Since(start), false
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.exited
		return time.Since(start), true
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

var clkTck = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
})

// cpuSeconds is utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(utime+stime) / clkTck(), nil
}

// selfCPUSeconds is the benchmark process's own user+system time: the client.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// rssMB is VmRSS of pid from /proc/<pid>/status, in MB (10^6 bytes).
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			kb, err := strconv.ParseFloat(f[0], 64)
			return kb * 1024 / 1e6, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// waitReady polls addr with ApiVersions and Metadata requests on a raw
// connection every millisecond until Metadata lists broker brokerID and names
// a controller. It returns the time since the process was started.
func waitReady(ctx context.Context, p *proc, addr string, brokerID int32) (time.Duration, error) {
	var last error
	for {
		ready, err := metadataReady(addr, brokerID)
		if ready {
			return time.Since(p.started), nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-p.exited:
			return 0, fmt.Errorf("%s exited (%v) before ready:\n%s", p.name, p.waitErr, p.logTail())
		case <-ctx.Done():
			return 0, fmt.Errorf("%s not ready (last: %v):\n%s", p.name, last, p.logTail())
		case <-time.After(time.Millisecond):
		}
	}
}

func metadataReady(addr string, brokerID int32) (bool, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	vreq := kmsg.NewPtrApiVersionsRequest() // v0: every broker answers it
	vresp, err := rawRequest(conn, vreq, 1)
	if err != nil {
		return false, err
	}
	mver := int16(-1)
	for _, k := range vresp.(*kmsg.ApiVersionsResponse).ApiKeys {
		if k.ApiKey == 3 {
			mver = min(k.MaxVersion, 12)
		}
	}
	if mver < 1 {
		return false, fmt.Errorf("metadata v1+ not advertised")
	}
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.SetVersion(mver)
	mreq.Topics = []kmsg.MetadataRequestTopic{} // no topics, just brokers and controller
	mresp, err := rawRequest(conn, mreq, 2)
	if err != nil {
		return false, err
	}
	m := mresp.(*kmsg.MetadataResponse)
	if m.ControllerID < 0 {
		return false, errors.New("no controller yet")
	}
	for _, b := range m.Brokers {
		if b.NodeID == brokerID {
			return true, nil
		}
	}
	return false, errors.New("broker not listed yet")
}

var formatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("gregor-bench"))

// rawRequest writes req on conn and reads its response.
func rawRequest(conn net.Conn, req kmsg.Request, corr int32) (kmsg.Response, error) {
	if _, err := conn.Write(formatter.AppendRequest(nil, req, corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return nil, fmt.Errorf("bad response size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(buf)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body := buf[4:]
	if req.IsFlexible() && req.Key() != 18 {
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, err
		}
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %T: %w", resp, err)
	}
	return resp, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// goBuild builds the package pkg (relative to the module root) into dir.
func goBuild(dir, pkg, name string) (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out, nil
}

// machine is a sample of the whole machine's load, to print with the figures:
// they only mean something next to how busy the 2 cores were.
type machine struct {
	load1 string    // 1-minute load average
	ticks []float64 // /proc/stat "cpu": user nice system idle iowait irq softirq steal
	at    time.Time
	// psiSome is /proc/pressure/cpu "some" total: microseconds in which at
	// least one runnable task waited for a CPU; -1 if unavailable.
	psiSome float64
	// calib is the CPU seconds a fixed single-threaded job (CRC-32C of
	// 1 GiB) took in this process: on a contended machine the same work
	// costs more CPU time, and every s/GB figure is inflated alike.
	calib float64
}

func readMachine() machine {
	m := machine{at: time.Now(), psiSome: -1, calib: calibrate()}
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				m.psiSome, _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.load1 = f[0]
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for _, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			m.ticks = append(m.ticks, v)
		}
	}
	return m
}

// describe summarises the machine between m and later.
func (m machine) describe(later machine) string {
	s := fmt.Sprintf("%d CPUs; load average %s at start, %s at end", runtime.NumCPU(), m.load1, later.load1)
	if len(m.ticks) >= 8 && len(later.ticks) >= 8 {
		var total float64
		d := make([]float64, 8)
		for i := range d {
			d[i] = later.ticks[i] - m.ticks[i]
			total += d[i]
		}
		if total > 0 {
			s += fmt.Sprintf("; over the run: %.0f%% busy, %.0f%% idle, %.0f%% steal", 100*(total-d[3]-d[4]-d[7])/total, 100*(d[3]+d[4])/total, 100*d[7]/total)
		}
	}
	if m.psiSome >= 0 && later.psiSome >= 0 {
		wall := later.at.Sub(m.at).Seconds() * 1e6
		s += fmt.Sprintf(", CPU pressure (some) %.0f%%", 100*(later.psiSome-m.psiSome)/wall)
	}
	s += fmt.Sprintf("; CPU cost of a fixed job (CRC-32C of 1 GiB): %.0f ms at start, %.0f ms at end (about 50 ms at load average 4 on this VM; more means CPU time is inflated by contention)", m.calib*1e3, later.calib*1e3)
	return s
}

// calibrate returns the CPU seconds (this thread's) of CRC-32C over 1 GiB
// (a 1 MiB buffer 1024 times, so it measures the CPU, not memory).
func calibrate() float64 {
	buf := calibBuf()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &ru0)
	tab := crc32.MakeTable(crc32.Castagnoli)
	var sum uint32
	for range 1024 {
		sum = crc32.Update(sum, tab, buf)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &ru1)
	calibSink = sum
	return time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()).Seconds()
}

var (
	calibBuf  = sync.OnceValue(func() []byte { return make([]byte, 1<<20) })
	calibSink uint32
)
