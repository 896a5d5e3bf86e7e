package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/chtest"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
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
		"CRUMB_FLUSH_INTERVAL=100ms", "CRUMB_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e", "CRUMB_LOG_LEVEL=warn")
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

// post sends one anonymous page view for path and reports whether it was
// acknowledged with 202.
func (n *node) post(client *http.Client, site, path string) (bool, int) {
	body := fmt.Sprintf(`{"site":%q,"events":[{"type":"pageview","url":"https://example.com%s"}]}`, site, path)
	req, _ := http.NewRequest("POST", "http://"+n.addr+"/api/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("User-Agent", browserUA)
	resp, err := client.Do(req)
	if err != nil {
		return false, 0
	}
	if resp.Header.Get("X-Crumb-Dropped") != "" {
		n.t.Errorf("event dropped: %s", resp.Header.Get("X-Crumb-Dropped"))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 202, resp.StatusCode
}

// anonymousDatabase returns a new migrated database with one site that
// counts anonymously, a connection to read it, and the site's ID.
func anonymousDatabase(t *testing.T) (url string, reader *clickhouse.DB, site string) {
	t.Helper()
	url = chtest.NewDatabaseURL(t)
	reader, err := clickhouse.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	s := model.NewSite("e2esite", "example.com", "E2E", time.Now())
	s.AnonymousCounting = true
	if err := reader.PutSite(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return url, reader, s.ID
}

// storedPaths returns how many times each path is stored.
func storedPaths(t *testing.T, db *clickhouse.DB) map[string]int {
	t.Helper()
	rows, err := db.Conn().Query(context.Background(), "SELECT path, count() FROM events GROUP BY path")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var p string
		var c uint64
		rows.Scan(&p, &c)
		out[p] = int(c)
	}
	return out
}

// waitStored waits until every acknowledged path is stored, then checks
// that none is stored twice.
func waitStored(t *testing.T, n *node, db *clickhouse.DB, acked map[string]bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got map[string]int
	for {
		got = storedPaths(t, db)
		missing := 0
		for p := range acked {
			if got[p] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events never arrived; crumb's log:\n%s", missing, len(acked), tail(n.log.String(), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for p, c := range got {
		if c > 1 {
			t.Fatalf("path %s stored %d times", p, c)
		}
	}
	t.Logf("acknowledged %d, stored %d distinct (none twice)", len(acked), len(got))
}

// load sends page views with unique paths from `workers` goroutines until
// stop is closed, recording the acknowledged ones.
func load(n *node, site, prefix string, workers int, stop <-chan struct{}) (acked map[string]bool, codes map[int]int) {
	var mu sync.Mutex
	acked, codes = map[string]bool{}, map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := fmt.Sprintf("/%s/%d/%d", prefix, w, i)
				ok, code := n.post(client, site, path)
				mu.Lock()
				codes[code]++
				if ok {
					acked[path] = true
				}
				mu.Unlock()
				if !ok {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(w)
	}
	<-stop
	wg.Wait()
	return acked, codes
}

func TestClickHouseOutage_NoAcknowledgedEventLost(t *testing.T) {
	srv := chtest.LocalServer(t)
	if srv == nil {
		t.Skip("needs the local test ClickHouse to stop it")
	}
	url, reader, site := anonymousDatabase(t)
	n := startNode(t, t.TempDir(), "CRUMB_CLICKHOUSE_URL="+url)

	stop := make(chan struct{})
	result := make(chan map[string]bool)
	go func() { a, _ := load(n, site, "outage", 4, stop); result <- a }()
	time.Sleep(time.Second)
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // ClickHouse is down; crumb keeps acknowledging
	if err := srv.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	acked := <-result
	if len(acked) < 100 {
		t.Fatalf("only %d events acknowledged", len(acked))
	}
	waitStored(t, n, reader, acked, 60*time.Second)
	n.stop(syscall.SIGTERM)
}

func TestKill9_RestartReplaysWithoutDuplicates(t *testing.T) {
	url, reader, site := anonymousDatabase(t)
	dataDir := t.TempDir()
	// A long flush interval keeps most records in the buffer at the kill.
	n := startNode(t, dataDir, "CRUMB_CLICKHOUSE_URL="+url, "CRUMB_FLUSH_INTERVAL=2s", "CRUMB_BATCH_SIZE=700")

	stop := make(chan struct{})
	result := make(chan map[string]bool)
	go func() { a, _ := load(n, site, "kill", 4, stop); result <- a }()
	time.Sleep(2500 * time.Millisecond)
	n.stop(syscall.SIGKILL)
	close(stop)
	acked := <-result
	before := len(storedPaths(t, reader))
	t.Logf("at the kill: %d acknowledged, %d stored", len(acked), before)
	if before >= len(acked) {
		t.Logf("everything was already flushed at the kill; the replay path is not exercised this run")
	}
	n.start() // same data folder: replays the log
	waitStored(t, n, reader, acked, 60*time.Second)
	n.stop(syscall.SIGTERM)
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

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
