// Package chtest gives tests a real ClickHouse: a throwaway clickhouse-server
// started once per test binary (or the server named by
// CRUMB_TEST_CLICKHOUSE_URL), and a database of its own for every test,
// migrated by the production migrator.
package chtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
)

var (
	once    sync.Once
	server  *chserver.Server
	baseURL string
	tmpDir  string
	initErr error
	counter atomic.Int64
)

// Main runs the package's tests and stops the server it started. Call it
// from TestMain: func TestMain(m *testing.M) { chtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		_ = server.Stop()
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

// Server returns the base clickhouse://user:password@host:port address of
// the test server, starting it on first use. Without clickhouse-server the test is skipped,
// except under CI, where it fails.
func Server(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("CRUMB_TEST_CLICKHOUSE_URL"); u != "" {
			baseURL = strings.TrimRight(u, "/")
			return
		}
		tmpDir, initErr = os.MkdirTemp("", "crumb-chtest-")
		if initErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// The HTTP interface, password-protected like the native port, is
		// for chrecord, which reads the server's own text formats.
		server, initErr = chserver.Start(ctx, chserver.Options{Dir: tmpDir, MaxMemoryBytes: 2 << 30, HTTP: true})
		if initErr == nil {
			baseURL = server.URL("")
		}
	})
	if initErr != nil {
		if os.Getenv("CI") == "" && strings.Contains(initErr.Error(), "not found") {
			t.Skipf("no ClickHouse: %v", initErr)
		}
		t.Fatalf("chtest: %v", initErr)
	}
	return baseURL
}

// LocalServer returns the supervised test server, or nil when the tests
// use an external one; outage tests need it.
func LocalServer(t testing.TB) *chserver.Server {
	Server(t)
	return server
}

// NewDatabaseURL returns the address of a new, empty, migrated database
// that is dropped when the test ends.
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	base := Server(t)
	name := fmt.Sprintf("crumb_test_%d_%d", os.Getpid(), counter.Add(1))
	url := base + "/" + name
	ctx := context.Background()
	db, err := clickhouse.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	migs, err := migrations.All()
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	if _, err := db.Migrate(ctx, migs); err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() {
		_ = db.DropDatabase(context.Background())
		db.Close()
	})
	return url
}

// DB returns an open connection to a new migrated database for the test.
func DB(t testing.TB) *clickhouse.DB {
	t.Helper()
	url := NewDatabaseURL(t)
	db, err := clickhouse.Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
