// Package clickhouse is Crumb's storage layer for ClickHouse: the connection,
// the migrator, the batch writer of the ingest buffer, the shared site/user/
// token configuration and the visitor privacy operations. The dashboards'
// aggregate queries live in package report.
//
// Every statement here runs on ClickHouse 18.16 and on current releases:
// inserts go through PrepareBatch with explicit columns, times are bound as
// time.Time, and deletions are ALTER TABLE … DELETE mutations.
package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DB is a connection pool to one ClickHouse database.
type DB struct {
	conn     driver.Conn
	database string
	log      *slog.Logger
}

// Open connects to the ClickHouse server named by dsn
// (clickhouse://user:password@host:port/database), creating the database if
// it does not exist yet.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: bad address %q: %w", redact(dsn), err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	opts.DialTimeout = 5 * time.Second
	opts.ReadTimeout = 60 * time.Second
	opts.MaxOpenConns = 16
	opts.MaxIdleConns = 8
	opts.ConnMaxLifetime = 10 * time.Minute

	if db != "default" {
		boot := *opts
		boot.Auth.Database = "default"
		conn, err := ch.Open(&boot)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: %w", err)
		}
		err = conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db))
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("clickhouse: create database %s: %w", db, err)
		}
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse: ping %s: %w", strings.Join(opts.Addr, ","), err)
	}
	return &DB{conn: conn, database: db, log: log}, nil
}

// Conn is the underlying driver connection, for the read-only query layer.
func (db *DB) Conn() driver.Conn { return db.conn }

// Database is the name of the database in use.
func (db *DB) Database() string { return db.database }

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error { return db.conn.Ping(ctx) }

// Close closes every connection.
func (db *DB) Close() error { return db.conn.Close() }

// ServerVersion returns the server's version string, such as "18.16.1".
func (db *DB) ServerVersion(ctx context.Context) (string, error) {
	v, err := db.conn.ServerVersion()
	if err != nil {
		return "", fmt.Errorf("clickhouse: server version: %w", err)
	}
	return fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch), nil
}

// DropDatabase removes the database and everything in it. Tests use it.
func (db *DB) DropDatabase(ctx context.Context) error {
	return db.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(db.database))
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "") + "`" }

// redact hides the password in a DSN for messages.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		userinfo = userinfo[:i] + ":***"
	}
	return dsn[:scheme+3] + userinfo + dsn[at:]
}
