// Package app wires Crumb's parts into one server: the site registry, the
// enrichment, the durable buffer, the ingest pipeline, the privacy service
// and the HTTP edge, with background jobs and an orderly shutdown. The
// command and the end-to-end tests build the same thing through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/dashboards"
	"github.com/crumbhq/crumb/server/internal/assets"
	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/banner"
	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/ingest"
	"github.com/crumbhq/crumb/server/internal/metrics"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/notify"
	"github.com/crumbhq/crumb/server/internal/privacy"
	"github.com/crumbhq/crumb/server/internal/rdns"
	"github.com/crumbhq/crumb/server/internal/referrer"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/sites"
	"github.com/crumbhq/crumb/server/internal/useragent"
	trackerjs "github.com/crumbhq/crumb/tracker-js"
)

// App is a running Crumb server.
type App struct {
	// HTTP is the public app; MetricsHTTP serves /metrics on a listener
	// of its own.
	HTTP        *fiber.App
	MetricsHTTP *fiber.App
	Buffer      *buffer.Buffer
	Sites       *sites.Registry
	// Notify sends the e-mail digests and traffic alerts.
	Notify  *notify.Service
	Metrics *metrics.Metrics
	Privacy *privacy.Service

	auth      *auth.Auth
	db        *clickhouse.DB
	report    *report.Service
	bufferDir string
	geo       *geoip.Resolver
	rdns      *rdns.Resolver // nil with --dns-resolver off
	log       *slog.Logger
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
}

// New builds the server on an open, migrated database. secret signs
// consent tokens.
func New(ctx context.Context, cfg *config.Serve, db *clickhouse.DB, secret []byte, log *slog.Logger) (*App, error) {
	signer, err := consent.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	registry := sites.NewRegistry(db, cfg.SitesRefresh, log)
	// The banners the sites show, kept by hash for the proof of consent:
	// the ones every node has kept so far, then, with every reading of the
	// sites, each new one (a site's changed settings, a release's texts).
	archive := &banner.Archive{Store: db}
	if err := archive.Load(ctx); err != nil {
		log.Warn("reading the kept banner versions failed", "err", err)
	}
	registry.OnLoad = func(ctx context.Context, all []*model.Site) {
		if err := archive.Keep(ctx, all); err != nil && ctx.Err() == nil {
			log.Warn("keeping the sites' banner versions failed; retrying at the next reading", "err", err)
		}
	}
	if err := registry.Load(ctx); err != nil {
		return nil, err
	}
	refs, err := referrer.New()
	if err != nil {
		return nil, err
	}
	geo := geoip.Open(cfg.GeoIPCity, cfg.GeoIPASN, log)
	bufferDir := filepath.Join(cfg.DataDir, "buffer")
	buf, err := buffer.Open(buffer.Options{
		Dir: bufferDir, BatchSize: cfg.BatchSize, FlushInterval: cfg.FlushInterval,
		SyncInterval: cfg.SyncInterval, MaxRecords: cfg.BufferMax, Log: log, Observer: m,
	}, db)
	if err != nil {
		geo.Close()
		return nil, err
	}
	revocations := consent.NewRevocations()
	var domains ingest.Domains // nil: no reverse DNS
	var resolver *rdns.Resolver
	if cfg.DNSResolver != "off" {
		server := cfg.DNSResolver
		if server == "system" {
			server = "" // the system's resolver, as "" is
		}
		resolver = rdns.New(rdns.Options{Server: server})
		domains = resolver
	}
	pipeline := ingest.New(ingest.Deps{
		Sites: registry, Signer: signer, Geo: geo, Agents: useragent.New(20000), Referrers: refs, Domains: domains,
		Buffer: buf, Counter: m, Revocations: revocations, Banners: archive, Log: log,
	})
	priv := privacy.New(db, buf, registry, signer, log)
	script, err := assets.BuildScript(trackerjs.Source)
	if err != nil {
		buf.Close(ctx)
		geo.Close()
		return nil, err
	}
	dash, err := assets.BuildDashboard(dashboards.Web)
	if err != nil {
		buf.Close(ctx)
		geo.Close()
		return nil, err
	}
	users := auth.New(db, secret, log)
	if err := users.Reload(ctx); err != nil {
		buf.Close(ctx)
		geo.Close()
		return nil, err
	}
	rep := report.New(db.Conn(), registry, report.Options{Cluster: db.Cluster() != "", Log: log})
	mailer, err := notify.NewMailer(cfg.SMTPURL, cfg.SMTPFrom)
	if err != nil {
		buf.Close(ctx)
		geo.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	notifier := &notify.Service{Store: db, Sites: registry, Report: rep, Mailer: mailer, PublicURL: cfg.PublicURL,
		Node: fmt.Sprintf("%s:%d", host, os.Getpid()), Log: log}
	a := &App{Notify: notifier, auth: users, report: rep, Buffer: buf, Sites: registry, Metrics: m, Privacy: priv, db: db, bufferDir: bufferDir, geo: geo, rdns: resolver, log: log}
	a.HTTP = httpapi.New(httpapi.Deps{
		Pipeline: pipeline, Privacy: priv, Sites: registry, Metrics: m,
		Report: rep,
		SaveSite: func(ctx context.Context, s model.Site) error {
			if err := db.PutSite(ctx, s); err != nil {
				return err
			}
			return registry.Load(ctx)
		},
		Notify: notifier,
		Auth:   users, Script: script, Demo: trackerjs.Demo, Dashboard: dash, Ready: a.ready,
		TrustedProxies: cfg.TrustedProxies, RateLimit: cfg.RateLimit, ShareRateLimit: cfg.ShareLimit, HeavyRequests: cfg.Heavy,
		PublicURL: cfg.PublicURL, Log: log,
	})
	a.MetricsHTTP = httpapi.NewMetrics(m, cfg.MetricsToken, log)
	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go registry.Run(bg)
	go priv.RunRetention(bg, 24*time.Hour)
	go revocations.Poll(bg, db, consent.PollInterval, log)
	go a.runSealing(bg, SealInterval)
	go notifier.Run(bg, time.Minute)
	return a, nil
}

// SealInterval is how often a node seals the closed days' exact counts
// (clickhouse.DB.SealDays), their days since the last visit
// (report.Service.SealLoyalty) and the preset periods' windows
// (clickhouse.DB.SealWindows, with report.Service.SealWindowVisitors and
// SealWindowDecisions); a day or window with late events or decisions, or
// an erasure, is read from the daily states until the next run seals it
// again.
const SealInterval = 10 * time.Minute

// runSealing seals every site's closed days within its retention, at start
// and then every interval, until ctx ends.
func (a *App) runSealing(ctx context.Context, every time.Duration) {
	for {
		now := time.Now().UTC()
		for _, site := range a.Sites.All() {
			n, err := Seal(ctx, a.db, a.report, site.ID, site.RetentionMonths, now)
			switch {
			case err != nil && ctx.Err() == nil:
				a.log.Warn("sealing closed days failed; retrying at the next run", "site", site.ID, "err", err)
			case n > 0:
				a.log.Debug("closed days sealed", "site", site.ID, "days and windows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Seal seals a site's closed days within its retention and the windows of
// the preset periods as of now; it returns how many days and windows it
// sealed.
func Seal(ctx context.Context, db *clickhouse.DB, rep *report.Service, site string, retentionMonths int, now time.Time) (int, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, -retentionMonths, 0)
	n, err := db.SealDays(ctx, site, from, today)
	if err != nil {
		return n, err
	}
	l, err := rep.SealLoyalty(ctx, site, from, today)
	n += l
	if err != nil {
		return n, err
	}
	var windows []clickhouse.Window
	for _, w := range report.SealedWindows(now) {
		windows = append(windows, clickhouse.Window{End: w.End, Days: w.Days})
	}
	w, err := db.SealWindows(ctx, site, windows, rep.SealWindowVisitors, rep.SealWindowDecisions)
	return n + w, err
}

func (a *App) ready(ctx context.Context) error {
	if err := a.db.Ping(ctx); err != nil {
		return errors.New("clickhouse unreachable")
	}
	if a.Buffer.Full() {
		return errors.New("buffer full")
	}
	return nil
}

// Serve answers HTTP on ln, and /metrics on metrics unless it is nil, until
// ctx ends or ln fails, then shuts down in order: stop taking requests,
// flush the buffer. The caller closes ClickHouse afterwards.
func (a *App) Serve(ctx context.Context, ln, metrics net.Listener) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.HTTP.Listener(ln) }()
	if metrics != nil {
		go func() {
			if err := a.MetricsHTTP.Listener(metrics); err != nil {
				a.log.Error("metrics server stopped", "err", err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		a.log.Error("http server stopped", "err", err)
	}
	a.log.Info("shutting down")
	if serr := a.HTTP.ShutdownWithTimeout(10 * time.Second); serr != nil {
		a.log.Warn("http shutdown", "err", serr)
	}
	if metrics != nil {
		_ = a.MetricsHTTP.ShutdownWithTimeout(time.Second)
	}
	return errors.Join(err, a.Close())
}

// Close stops the background jobs and flushes the buffer (for up to 30 s;
// what is left stays in the log for the next start). Later calls return
// the first one's error.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.cancel()
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.closeErr = a.Buffer.Close(fctx)
		a.geo.Close()
		if a.rdns != nil {
			a.rdns.Close()
		}
	})
	return a.closeErr
}

// BufferDir is the folder of the durable buffer.
func (a *App) BufferDir() string { return a.bufferDir }

// ReloadAuth re-reads users, API tokens and share links now.
func (a *App) ReloadAuth(ctx context.Context) error { return a.auth.Reload(ctx) }
