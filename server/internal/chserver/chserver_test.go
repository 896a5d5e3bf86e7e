package chserver_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/chserver"
)

func TestServer_RestartsAfterACrashAndStops(t *testing.T) {
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil && os.Getenv("CI") == "" {
			t.Skip("clickhouse-server not installed")
		}
	}
	ctx := context.Background()
	s, err := chserver.Start(ctx, chserver.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ping := func() bool {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	first := s.PID()
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !(ping() && s.PID() != first) {
		if time.Now().After(deadline) {
			t.Fatal("clickhouse-server was not restarted after a crash")
		}
		time.Sleep(100 * time.Millisecond)
	}
	pid := s.PID()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("kill", "-0", itoa(pid)).Run(); err == nil {
		t.Fatalf("process %d still running after Stop", pid)
	}
	if ping() {
		t.Fatal("server still answers after Stop")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
