package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crumbhq/crumb/server/testkit/chtest"
)

// Any local process used to reach the embedded ClickHouse as its default
// user without a password, over TCP and HTTP: it read password and token
// hashes and visitor IDs, and could insert an admin login. Now the server
// listens on its native port only, on loopback, with a password kept in a
// file only crumb's user reads; crumb serve, the commands run beside it,
// and a restart on the same data folder still reach it.
func TestEmbeddedClickHouse_LocalProcessWithoutThePasswordIsRefused(t *testing.T) {
	dataDir := t.TempDir()
	chDir := filepath.Join(dataDir, "clickhouse")
	n := startNode(t, dataDir, "CRUMB_CLICKHOUSE_URL=")
	addr := readFile(t, filepath.Join(chDir, "crumb-addr"))
	password := readFile(t, filepath.Join(chDir, "password"))
	if fi, err := os.Stat(filepath.Join(chDir, "password")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v, want mode 0600", fi.Mode(), err)
	}

	query := func(password, q string) error {
		conn, err := ch.Open(&ch.Options{Addr: []string{addr}, Auth: ch.Auth{Username: "default", Password: password}})
		if err != nil {
			return err
		}
		defer conn.Close()
		var n uint64
		return conn.QueryRow(context.Background(), q).Scan(&n)
	}
	for _, pw := range []string{"", "wrong"} {
		err := query(pw, "SELECT count() FROM crumb.users")
		var ex *ch.Exception
		if !errors.As(err, &ex) || (ex.Code != 193 && ex.Code != 194 && ex.Code != 516) {
			t.Fatalf("users read with password %q: %v, want a refused password", pw, err)
		}
	}

	// The native port on loopback is all there is: no HTTP interface.
	pids := clickhousePIDs(dataDir)
	if len(pids) != 1 {
		t.Fatalf("clickhouse-server processes: %v", pids)
	}
	if got, err := chtest.Listening(pids[0]); err != nil || len(got) != 1 || got[0] != addr {
		t.Fatalf("clickhouse-server listens on %v (%v), want only %s", got, err, addr)
	}
	if resp, err := http.Get("http://" + addr + "/?query=SELECT%201"); err == nil {
		resp.Body.Close()
		t.Fatal("the native port answered HTTP")
	}

	// A command beside the running server uses the password too.
	env := []string{"CRUMB_CLICKHOUSE_URL=", "CRUMB_DATA_DIR=" + dataDir}
	if out, err := crumbCommand(env, "site", "add", "--domain", "example.org"); err != nil || !strings.Contains(out, "added for example.org") {
		t.Fatalf("site add beside serve: %v\n%s", err, out)
	}

	// A restart on the same data folder keeps the password and the data.
	n.stop(syscall.SIGTERM)
	n.start()
	if got := readFile(t, filepath.Join(chDir, "password")); got != password {
		t.Fatal("the password changed across a restart")
	}
	addr = readFile(t, filepath.Join(chDir, "crumb-addr"))
	if err := query(password, "SELECT count() FROM crumb.sites"); err != nil {
		t.Fatalf("with the password after a restart: %v", err)
	}
	if out, err := crumbCommand(env, "site", "list"); err != nil || !strings.Contains(out, "example.org") {
		t.Fatalf("site list after a restart: %v\n%s", err, out)
	}

	// A command with no crumb running starts the server for itself.
	n.stop(syscall.SIGTERM)
	waitGone(t, dataDir)
	if out, err := crumbCommand(env, "site", "list"); err != nil || !strings.Contains(out, "example.org") {
		t.Fatalf("site list alone: %v\n%s", err, out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitGone waits until no clickhouse-server of dataDir runs.
func waitGone(t *testing.T, dataDir string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(clickhousePIDs(dataDir)) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("clickhouse-server still running after crumb stopped")
		}
	}
}
