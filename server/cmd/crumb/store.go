package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
)

// database is the name of crumb's database on the embedded ClickHouse.
const database = "crumb"

// store is an open ClickHouse, and the embedded server if crumb started one.
type store struct {
	db       *clickhouse.DB
	server   *chserver.Server
	addrFile string
}

// Close closes the connection and stops an embedded server this process
// started.
func (s *store) Close() {
	s.db.Close()
	if s.server != nil {
		_ = s.server.Stop()
		os.Remove(s.addrFile)
	}
}

// openStore connects to the configured ClickHouse; with none configured it
// uses the embedded server of the data folder, starting it if no crumb
// process runs it already, with the password of the server's folder
// (chserver.PasswordFile). It applies pending migrations.
func openStore(ctx context.Context, c *config.Common, log *slog.Logger, doMigrate bool) (*store, error) {
	st := &store{}
	dsn := c.ClickHouseURL
	if dsn == "" && c.Cluster != "" {
		return nil, fmt.Errorf("cluster mode (%s) needs --clickhouse-url with the cluster's servers", c.Cluster)
	}
	if dsn == "" {
		dir, err := filepath.Abs(filepath.Join(c.DataDir, "clickhouse"))
		if err != nil {
			return nil, err
		}
		st.addrFile = filepath.Join(dir, "crumb-addr")
		if b, err := os.ReadFile(st.addrFile); err == nil {
			// Another crumb process of this data folder runs the server.
			addr := strings.TrimSpace(string(b))
			password, err := chserver.ReadPassword(dir)
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("%w: run crumb as the user that runs crumb serve", err)
			}
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			db, err := clickhouse.Open(pctx, chserver.DSN(addr, password, database), log, clickhouse.WithCluster(c.Cluster))
			cancel()
			if err == nil {
				st.db = db
				if doMigrate {
					err = migrateOrCheck(ctx, db, log)
				}
				return st, err
			}
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		srv, err := chserver.Start(ctx, chserver.Options{Dir: dir, Log: log})
		if err != nil {
			return nil, err
		}
		st.server = srv
		if err := os.WriteFile(st.addrFile, []byte(srv.Addr()+"\n"), 0o600); err != nil {
			srv.Stop()
			return nil, err
		}
		dsn = srv.URL(database)
	}
	db, err := openWithRetry(ctx, dsn, log, clickhouse.WithCluster(c.Cluster))
	if err != nil {
		st.closeServer()
		return nil, err
	}
	st.db = db
	if doMigrate {
		if err := migrateOrCheck(ctx, db, log); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// migrateOrCheck migrates on one server. In cluster mode, where several
// nodes start at once and a migration's backfill must run once, it only
// checks that `crumb migrate --clickhouse-cluster` has been run.
func migrateOrCheck(ctx context.Context, db *clickhouse.DB, log *slog.Logger) error {
	if db.Cluster() == "" {
		return migrate(ctx, db, log)
	}
	migs, err := migrations.All()
	if err != nil {
		return err
	}
	st, err := db.MigrationState(ctx)
	if err != nil {
		return err
	}
	if latest := migs[len(migs)-1].Version; st.Version < latest || st.Dirty {
		return fmt.Errorf("the cluster's schema is at version %d (dirty: %v), this crumb needs %d: run `crumb migrate --cluster %s` once first",
			st.Version, st.Dirty, latest, db.Cluster())
	}
	return nil
}

func (s *store) closeServer() {
	if s.server != nil {
		_ = s.server.Stop()
		os.Remove(s.addrFile)
	}
}

// openWithRetry waits up to a minute for ClickHouse to answer.
func openWithRetry(ctx context.Context, dsn string, log *slog.Logger, opts ...clickhouse.Option) (*clickhouse.DB, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		db, err := clickhouse.Open(ctx, dsn, log, opts...)
		if err == nil {
			return db, nil
		}
		if clickhouse.Refused(err) {
			return nil, fmt.Errorf("%w (check the user and password of --clickhouse-url; the private server of a data folder is reached with --data-dir alone)", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("clickhouse not reachable yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func migrate(ctx context.Context, db *clickhouse.DB, log *slog.Logger) error {
	migs, err := migrations.All()
	if err != nil {
		return err
	}
	applied, err := db.Migrate(ctx, migs)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info("schema migrated", "applied", applied)
	}
	return nil
}

// newLogger returns the structured logger the flags ask for.
func newLogger(c *config.Common, w *os.File) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad --log-format %q (text or json)", c.LogFormat)
}

// parseFlags parses args into fs, then applies the environment.
func parseFlags(fs *flag.FlagSet, args []string, summary string) error {
	fs.Usage = config.Usage(fs, summary)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return config.Bind(fs, os.Getenv)
}

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	var c config.Common
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	c.Register(fs)
	force := fs.Int("force", 0, "record this migration version as applied (after repairing a failed one by hand), then migrate")
	cluster := fs.String("cluster", "", "the same as --clickhouse-cluster")
	if err := parseFlags(fs, args, "Usage: crumb migrate [flags]\n\nApplies the embedded ClickHouse schema migrations; running it again is a no-op.\nWith --cluster NAME every table is created ON CLUSTER NAME as replicated and\ndistributed tables; run it once, before starting the crumb nodes."); err != nil {
		return err
	}
	if *cluster != "" {
		c.Cluster = *cluster
	}
	log, err := newLogger(&c, os.Stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if *force > 0 {
		if err := st.db.ForceMigration(ctx, *force); err != nil {
			return err
		}
	}
	if err := migrate(ctx, st.db, log); err != nil {
		return err
	}
	state, err := st.db.MigrationState(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d\n", state.Version)
	return nil
}
