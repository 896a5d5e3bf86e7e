// Package crumbtest lets tests outside server/ — tracker-js's browser tests —
// build the real Crumb server on a real ClickHouse. Go's internal rule keeps
// them from importing server/internal directly, so this package re-exports
// the few things they need. Only test code imports it.
package crumbtest

import (
	"context"
	"io/fs"
	"log/slog"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/app"
	"github.com/crumbhq/crumb/server/internal/chtest"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/tracker"
)

// Aliases of the internal types the tests use.
type (
	App            = app.App
	DB             = clickhouse.DB
	Config         = config.Serve
	Site           = model.Site
	Cookie         = model.Cookie
	CategoryConfig = model.CategoryConfig
	Script         = tracker.Script
)

// Main runs the package's tests and stops the ClickHouse server it started.
func Main(m *testing.M) { chtest.Main(m) }

// NewDB returns a new migrated database for the test (see chtest.DB).
func NewDB(t testing.TB) *DB { return chtest.DB(t) }

// NewSite returns a site for domain with every setting at its default.
func NewSite(id, domain string) Site { return model.NewSite(id, domain, "", time.Now()) }

// NewApp builds the server as the crumb command does.
func NewApp(ctx context.Context, cfg *Config, db *DB, secret []byte, log *slog.Logger) (*App, error) {
	return app.New(ctx, cfg, db, secret, log)
}

// Build bundles and minifies t.js as the server does at start-up.
func Build(src fs.FS) (*Script, error) { return tracker.Build(src) }
