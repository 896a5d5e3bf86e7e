package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/crumbhq/crumb/server/internal/app"
	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/sites"
)

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg config.Serve
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.Register(fs)
	if err := parseFlags(fs, args, "Usage: crumb serve [flags]\n\nRuns the Crumb server."); err != nil {
		return err
	}
	cfg.Defaults()
	log, err := newLogger(&cfg.Common, os.Stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return err
	}
	if cfg.MemoryLimitMB > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMB) << 20)
	}
	secret, err := loadSecret(&cfg, log)
	if err != nil {
		return err
	}
	// Bind the port first, so that a port in use fails before anything starts.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	mln, err := listenMetrics(&cfg, log)
	if err != nil {
		return err
	}
	if mln != nil {
		defer mln.Close()
	}

	st, err := openStore(ctx, &cfg.Common, log, true)
	if err != nil {
		return err
	}
	defer st.Close()

	if cfg.Demo {
		if err := ensureDemo(ctx, st.db, &cfg, stdout); err != nil {
			return err
		}
	}
	a, err := app.New(ctx, &cfg, st.db, secret, log)
	if err != nil {
		return err
	}
	metricsAddr := "off"
	if mln != nil {
		metricsAddr = mln.Addr().String()
	}
	log.Info("crumb serving", "listen", ln.Addr().String(), "metrics", metricsAddr, "public_url", cfg.PublicURL, "buffered", a.Buffer.Depth())
	// Shutdown order: stop taking requests and flush the buffer (Serve), then
	// close ClickHouse and stop the embedded server (deferred above).
	err = a.Serve(ctx, ln, mln)
	log.Info("stopped")
	return err
}

// listenMetrics binds --metrics-listen, or returns nil if it is empty. A
// listener off loopback without --metrics-token is warned about.
func listenMetrics(cfg *config.Serve, log *slog.Logger) (net.Listener, error) {
	if cfg.MetricsToken != "" && len(cfg.MetricsToken) < 16 {
		return nil, errors.New("--metrics-token must be at least 16 characters")
	}
	if cfg.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (--metrics-listen): %w", cfg.MetricsListen, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() && cfg.MetricsToken == "" {
		log.Warn("/metrics is served off loopback without --metrics-token: anyone who reaches it reads the metrics", "metrics_listen", ln.Addr().String())
	}
	return ln, nil
}

// loadSecret returns --secret, or the secret of the data folder, generated
// on first start.
func loadSecret(cfg *config.Serve, log *slog.Logger) ([]byte, error) {
	if cfg.Secret != "" {
		if len(cfg.Secret) < 32 {
			return nil, errors.New("--secret must be at least 32 characters")
		}
		return []byte(cfg.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "secret")
	if b, err := os.ReadFile(path); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	log.Info("generated a consent-token secret; give every crumb node the same one with CRUMB_SECRET_FILE", "path", path)
	return []byte(s), nil
}

// ensureDemo creates a site for localhost and an admin login if there are
// none, and prints how to use them.
func ensureDemo(ctx context.Context, db *clickhouse.DB, cfg *config.Serve, w io.Writer) error {
	all, err := db.Sites(ctx)
	if err != nil {
		return err
	}
	var demo *model.Site
	for i := range all {
		if all[i].Domain == "localhost" {
			demo = &all[i]
		}
	}
	if demo == nil {
		s := model.NewSite(sites.NewID(), "localhost", "Demo site", time.Now())
		s.ExtraDomains = []string{"127.0.0.1"}
		if err := db.PutSite(ctx, s); err != nil {
			return err
		}
		demo = &s
	}
	pwFile := filepath.Join(cfg.DataDir, "admin-password")
	users, err := db.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		pw := auth.RandomPassword()
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		if err := db.PutUser(ctx, model.User{Email: "admin@localhost", PasswordHash: hash, Role: "admin"}); err != nil {
			return err
		}
		if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, `
Crumb is running.
  Script tag:  <script defer src="%[1]s/t.js" data-site="%[2]s"></script>
  Demo page:   %[1]s/demo/
  Dashboards:  %[1]s/dashboard/
  Login:       admin@localhost, password in %[3]s
`, cfg.PublicURL, demo.ID, pwFile)
	return nil
}
