package faultsuite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// node is one crumb process under test. It can be killed and started again
// on the same address and data folder.
type node struct {
	bin     string
	addr    string
	metrics string // the address of its metrics listener
	dataDir string
	logPath string
	env     []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	peakRSS float64 // highest VmHWM seen over every process of this node, in MB
}

// startNode runs `crumb serve` in dir with the extra environment env and
// waits until it is ready.
func startNode(ctx context.Context, bin, dir string, env ...string) (*node, error) {
	addrs, err := freeAddrs(2)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	n := &node{bin: bin, addr: addrs[0], metrics: addrs[1], dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "crumb.log"), env: env}
	return n, n.start(ctx)
}

// start runs a new process and waits until /readyz answers 200.
func (n *node) start(ctx context.Context) error {
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(n.bin, "serve")
	cmd.Env = append(os.Environ(),
		"CRUMB_LISTEN="+n.addr, "CRUMB_METRICS_LISTEN="+n.metrics, "CRUMB_DATA_DIR="+n.dataDir, "CRUMB_RATE_LIMIT=0", "CRUMB_LOG_LEVEL=warn",
		"CRUMB_SECRET=fault-suite-secret-fault-suite-secret")
	cmd.Env = append(cmd.Env, n.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Stop with the suite if it dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get("http://" + n.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("crumb exited during start-up:\n%s", n.logTail())
		case <-ctx.Done():
			n.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.kill()
	return fmt.Errorf("crumb not ready in 60 s:\n%s", n.logTail())
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (n *node) kill() {
	n.memory() // the last reading of this process's peak
	n.signal(syscall.SIGKILL, time.Minute)
}

// stop shuts the process down with SIGTERM (crumb flushes its buffer) and
// waits up to a minute.
func (n *node) stop() error {
	n.memory()
	if !n.signal(syscall.SIGTERM, time.Minute) {
		n.signal(syscall.SIGKILL, time.Minute)
		return errors.New("crumb did not stop on SIGTERM in 60 s")
	}
	return nil
}

// signal sends sig and reports whether the process ended within d.
func (n *node) signal(sig syscall.Signal, d time.Duration) bool {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(d):
		return false
	}
}

// memory reads the running process's resident set and its high-water mark
// from /proc, in MB, and keeps the highest mark seen. ok is false when no
// process runs.
func (n *node) memory() (rss, hwm float64, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0, 0, false
	}
	select {
	case <-n.exited:
		return 0, 0, false
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0, 0, false
	}
	rss, ok1 := statusMB(b, "VmRSS:")
	hwm, ok2 := statusMB(b, "VmHWM:")
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	n.peakRSS = max(n.peakRSS, hwm)
	return rss, hwm, true
}

// peak is the highest resident set size of any of the node's processes, in
// MB, as far as it was observed.
func (n *node) peak() float64 {
	n.memory()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peakRSS
}

// statusMB returns the value of a "Key:   123 kB" line of /proc/PID/status
// in MB.
func statusMB(status []byte, key string) (float64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == key {
			kb, err := strconv.ParseFloat(string(f[1]), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// bufferDepth reads crumb_buffer_depth from /metrics, on the node's metrics
// listener.
func (n *node) bufferDepth(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+n.metrics+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	prefix := []byte("crumb_buffer_depth ")
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), prefix); ok {
			f, err := strconv.ParseFloat(string(v), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no crumb_buffer_depth in /metrics")
}

// logTail is the end of the node's log, for error messages.
func (n *node) logTail() string {
	f, err := os.Open(n.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 3000 {
		f.Seek(st.Size()-3000, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// freeAddrs returns n free loopback addresses.
func freeAddrs(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out[i] = l.Addr().String()
	}
	return out, nil
}
