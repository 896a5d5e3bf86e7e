package chserver_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crumbhq/crumb/server/internal/chserver"
)

// start starts a server in dir for the test, skipping without
// clickhouse-server.
func start(t *testing.T, opts chserver.Options) *chserver.Server {
	t.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil && os.Getenv("CI") == "" {
			t.Skip("clickhouse-server not installed")
		}
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := chserver.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func TestServer_RestartsAfterACrashAndStops(t *testing.T) {
	s := start(t, chserver.Options{})
	ping := func() bool { return s.Ping(context.Background()) == nil }
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
	if err := exec.Command("kill", "-0", strconv.Itoa(pid)).Run(); err == nil {
		t.Fatalf("process %d still running after Stop", pid)
	}
	if ping() {
		t.Fatal("server still answers after Stop")
	}
}

// A local process that connects to the native port without the password,
// or with a wrong one, is refused: it can neither read crumb's tables nor
// write to them.
func TestServer_LocalProcessWithoutThePasswordIsRefused(t *testing.T) {
	s := start(t, chserver.Options{})
	ctx := context.Background()
	query := func(password string) error {
		conn, err := ch.Open(&ch.Options{Addr: []string{s.Addr()}, Auth: ch.Auth{Username: chserver.User, Password: password}})
		if err != nil {
			return err
		}
		defer conn.Close()
		var n uint64
		return conn.QueryRow(ctx, "SELECT count() FROM system.tables").Scan(&n)
	}
	for name, pw := range map[string]string{"no password": "", "wrong password": "crumb", "the hash": sha256Of(t, s)} {
		err := query(pw)
		var ex *ch.Exception
		if err == nil {
			t.Fatalf("%s: query answered", name)
		}
		if !asException(err, &ex) || (ex.Code != 193 && ex.Code != 194 && ex.Code != 516) {
			t.Fatalf("%s: %v, want a refused password", name, err)
		}
	}
	if err := query(s.Password()); err != nil {
		t.Fatalf("with the password: %v", err)
	}
}

// The server opens its native port on 127.0.0.1 and nothing else: no HTTP
// interface, no interserver port without replication.
func TestServer_HTTPPortAndOtherInterfacesAreClosed(t *testing.T) {
	s := start(t, chserver.Options{})
	got := listening(t, s.PID())
	if len(got) != 1 || got[0] != s.Addr() {
		t.Fatalf("listening on %v, want only %s", got, s.Addr())
	}
	if s.HTTPAddr() != "" {
		t.Fatalf("HTTP address %q without Options.HTTP", s.HTTPAddr())
	}
	if resp, err := http.Get("http://" + s.Addr() + "/ping"); err == nil {
		resp.Body.Close()
		t.Fatal("the native port answered HTTP")
	}

	// The test servers' HTTP interface asks for the password too.
	h := start(t, chserver.Options{HTTP: true})
	if got := listening(t, h.PID()); len(got) != 2 {
		t.Fatalf("with HTTP, listening on %v", got)
	}
	ask := func(password string) int {
		req, _ := http.NewRequest("POST", "http://"+h.HTTPAddr()+"/", strings.NewReader("SELECT 1"))
		if password != "" {
			req.SetBasicAuth(chserver.User, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ask(""); code == http.StatusOK {
		t.Fatal("HTTP answered without the password")
	}
	if code := ask(h.Password()); code != http.StatusOK {
		t.Fatalf("HTTP with the password: %d", code)
	}
}

// The password is generated once into a file only its owner reads, kept
// across restarts; the configuration holds its SHA-256 only.
func TestServer_PasswordFileIsPrivateAndKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := start(t, chserver.Options{Dir: dir})
	pw := s.Password()
	if len(pw) < 32 {
		t.Fatalf("password %q too short", pw)
	}
	for _, name := range []string{chserver.PasswordFile, "users.xml", "config.xml"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if name != chserver.PasswordFile && strings.Contains(string(b), pw) {
			t.Fatalf("%s holds the password", name)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "users.xml")); !strings.Contains(string(b), sha256Of(t, s)) {
		t.Fatal("users.xml lacks the password's SHA-256")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	again := start(t, chserver.Options{Dir: dir})
	if again.Password() != pw {
		t.Fatal("a new password after a restart")
	}
	if got, err := chserver.ReadPassword(dir); err != nil || got != pw {
		t.Fatalf("ReadPassword = %q, %v", got, err)
	}
	if err := again.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The interserver port, opened for replication only, refuses a request
// without the replicas' credentials.
func TestServer_InterserverPortRefusesRequestsWithoutCredentials(t *testing.T) {
	ports, err := chserver.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, chserver.Options{InterserverPort: ports[0]})
	inter := "127.0.0.1:" + strconv.Itoa(ports[0])
	if got := listening(t, s.PID()); len(got) != 2 || !slices.Contains(got, inter) {
		t.Fatalf("listening on %v, want %s and the native port", got, inter)
	}
	ask := func(user, password string) int {
		req, _ := http.NewRequest("POST", "http://"+inter+"/?endpoint=DataPartsExchange%3A%2Fx&part=all_1_1_0", nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, code := range map[string]int{"none": ask("", ""), "wrong": ask("interserver", "crumb")} {
		if code != http.StatusUnauthorized {
			t.Errorf("credentials %s: %d, want 401", name, code)
		}
	}
	if code := ask("interserver", s.Password()); code == http.StatusUnauthorized {
		t.Error("the replicas' credentials refused")
	}
}
