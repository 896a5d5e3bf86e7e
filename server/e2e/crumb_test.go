package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/testkit/chtest"
)

var binary string

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "crumb-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "crumb")
	build := exec.Command("go", "build", "-o", binary, "github.com/crumbhq/crumb/server/cmd/crumb")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building crumb:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	chtest.Main(m)
}

// node is a crumb process under test.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	dataDir string
	env     []string
	log     *bytes.Buffer
	exited  chan struct{}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startNode runs `crumb serve` with the given data folder and extra
// environment, and waits until it is ready.
func startNode(t *testing.T, dataDir string, env ...string) *node {
	t.Helper()
	n := &node{t: t, addr: freeAddr(t), dataDir: dataDir, env: env, log: &bytes.Buffer{}}
	n.start()
	return n
}

func (n *node) start() {
	n.t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(),
		"CRUMB_LISTEN="+n.addr, "CRUMB_DATA_DIR="+n.dataDir, "CRUMB_RATE_LIMIT=0",
		"CRUMB_FLUSH_INTERVAL=100ms", "CRUMB_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e", "CRUMB_LOG_LEVEL=warn",
		"CRUMB_METRICS_LISTEN=off")
	cmd.Env = append(cmd.Env, n.env...)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(n.exited) }()
	n.t.Cleanup(func() { n.stop(syscall.SIGKILL) })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + n.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-n.exited:
			n.t.Fatalf("crumb exited during start-up:\n%s", n.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	n.t.Fatalf("crumb not ready in 60 s:\n%s", n.log)
}

// stop sends sig and waits for the process to end.
func (n *node) stop(sig syscall.Signal) {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(60 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
		n.t.Errorf("crumb did not stop on %v in 60 s", sig)
	}
}

func TestEmbeddedClickHouse_StartsAndStopsWithCrumb(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dataDir := t.TempDir()
			n := startNode(t, dataDir, "CRUMB_CLICKHOUSE_URL=")
			pids := clickhousePIDs(dataDir)
			if len(pids) != 1 {
				t.Fatalf("clickhouse-server processes for the data folder: %v", pids)
			}
			n.stop(sig)
			deadline := time.Now().Add(30 * time.Second)
			for len(clickhousePIDs(dataDir)) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("clickhouse-server still running after crumb got %v", sig)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// clickhousePIDs finds clickhouse-server processes whose configuration lies
// in dataDir.
func clickhousePIDs(dataDir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte("clickhouse")) && bytes.Contains(cmdline, []byte(dataDir)) {
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if strings.Contains(string(stat), ") Z ") {
				continue // a zombie is gone
			}
			pids = append(pids, pid)
		}
	}
	return pids
}
