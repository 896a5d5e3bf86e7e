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
	"github.com/crumbhq/crumb/server/internal/assets"
	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/imports"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

// Aliases of the internal types the tests use.
type (
	App            = app.App
	DB             = clickhouse.DB
	Config         = config.Serve
	Site           = model.Site
	Goal           = model.Goal
	ImportData     = imports.Data
	ImportDay      = imports.Day
	ImportRow      = imports.Row
	Funnel         = model.Funnel
	Cookie         = model.Cookie
	CategoryConfig = model.CategoryConfig
	Script         = assets.Script

	// For the dashboards' browser tests: fixture rows and logins.
	Event      = model.Event
	EventType  = model.EventType
	Decision   = model.Decision
	Action     = model.Action
	Categories = model.Categories
	Impression = model.Impression
	User       = model.User
	ShareLink  = model.ShareLink
)

// The event types and consent actions, for fixtures.
const (
	Pageview   = model.Pageview
	Engagement = model.Engagement
	Search     = model.Search
	Outbound   = model.Outbound
	Download   = model.Download
	Custom     = model.Custom
	Error      = model.Error

	AcceptAll = model.AcceptAll
	RejectAll = model.RejectAll
	Customize = model.Customize
	Withdraw  = model.Withdraw
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
func Build(src fs.FS) (*Script, error) { return assets.BuildScript(src) }

// AddUser stores a dashboard login with a bcrypt-hashed password (at least
// 10 characters), as `crumb user add` does. role is "admin" (every site) or
// "viewer" of sites. Call App.ReloadAuth to use it at once.
func AddUser(ctx context.Context, db *DB, email, password, role string, sites ...string) error {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u := User{Email: email, PasswordHash: hash, Role: role}
	if len(sites) > 0 {
		u.SiteRoles = map[string]string{}
		for _, s := range sites {
			u.SiteRoles[s] = "viewer"
		}
	}
	return db.PutUser(ctx, u)
}
