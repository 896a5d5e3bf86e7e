// Package clickhouse is Crumb's storage layer for ClickHouse: the connection,
// the migrator, the batch writer of the ingest buffer, the shared site/user/
// token configuration and the visitor privacy operations. The dashboards'
// aggregate queries live in package report.
//
// Every statement the store sends is in sql.go. Each runs on ClickHouse
// 18.16 and on current releases: inserts go through PrepareBatch with
// explicit columns, times are bound as time.Time, and deletions are
// ALTER TABLE … DELETE mutations.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
)

// DB is a connection pool to one ClickHouse database, on one server or on a
// cluster.
type DB struct {
	conn     driver.Conn
	database string
	cluster  string
	log      *slog.Logger

	// Inserts carry query IDs insertPrefix + a sequence number, so that a
	// retry can wait until an earlier attempt has ended on the server.
	insertPrefix string
	insertSeq    atomic.Uint64

	wrap func(driver.Conn) driver.Conn // WithConnWrapper
}

// An Option changes how Open connects.
type Option func(*DB)

// WithCluster selects cluster mode: tables are created ON CLUSTER name as
// replicated and distributed tables (see migrations.Target). Empty means one
// server.
func WithCluster(name string) Option { return func(db *DB) { db.cluster = name } }

// WithConnWrapper wraps the connection the DB sends its statements
// through (tests record them).
func WithConnWrapper(wrap func(driver.Conn) driver.Conn) Option {
	return func(db *DB) { db.wrap = wrap }
}

// Open connects to the ClickHouse server named by dsn
// (clickhouse://user:password@host:port/database), creating the database if
// it does not exist yet. Several comma-separated host:port pairs are tried
// in order, so a cluster node that is down is skipped.
func Open(ctx context.Context, dsn string, log *slog.Logger, options ...Option) (*DB, error) {
	d := &DB{insertPrefix: "crumb-insert-" + uuid.NewString() + "-"}
	for _, o := range options {
		o(d)
	}
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
	// How long a statement may send nothing back. Reads are bounded by
	// their contexts and max_execution_time; the ones that answer only at
	// the end need long: sealing the windows of a site with 100 million
	// events a month (INSERT … SELECT) took over a minute on 2 cores, and
	// a statement ON CLUSTER answers once every server has run it, which
	// a busy replicated table may take minutes to do.
	opts.ReadTimeout = 10 * time.Minute
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
		create := migrations.Target{Database: db}
		if d.cluster != "" {
			if err = checkCluster(ctx, conn, d.cluster); err == nil {
				create.Cluster = d.cluster
			}
		}
		if err == nil {
			err = conn.Exec(ctx, createDatabaseSQL(create))
		}
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
	if d.cluster != "" && db == "default" {
		if err := checkCluster(ctx, conn, d.cluster); err != nil {
			conn.Close()
			return nil, err
		}
	}
	d.conn, d.database, d.log = driver.Conn(conn), db, log
	if d.wrap != nil {
		d.conn = d.wrap(d.conn)
	}
	return d, nil
}

// Refused reports whether err is a server turning a login away (an unknown
// user, a wrong or missing password, no access to the database): waiting
// will not change the answer.
func Refused(err error) bool {
	var ex *ch.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 192, 193, 194, 516, 497: // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED, ACCESS_DENIED
		return true
	}
	return false
}

// checkCluster fails unless the server knows the cluster.
func checkCluster(ctx context.Context, conn driver.Conn, cluster string) error {
	var n uint64
	if err := conn.QueryRow(ctx, selectClusterKnown, cluster).Scan(&n); err != nil {
		return fmt.Errorf("clickhouse: cluster %s: %w", cluster, err)
	}
	if n == 0 {
		return fmt.Errorf("clickhouse: the server has no cluster named %q in its remote_servers configuration", cluster)
	}
	return nil
}

// Cluster is the cluster name in cluster mode, or "".
func (db *DB) Cluster() string { return db.cluster }

// insertContext makes inserts into Distributed tables synchronous: the
// insert returns once every shard has stored its part, so that an
// acknowledged batch is on the shards and a retried one can be checked
// there for duplicates.
func (db *DB) insertContext(ctx context.Context) context.Context {
	opts := []ch.QueryOption{ch.WithQueryID(db.insertPrefix + strconv.FormatUint(db.insertSeq.Add(1), 10))}
	if db.cluster != "" {
		opts = append(opts, ch.WithSettings(ch.Settings{"insert_distributed_sync": 1}))
	}
	return ch.Context(ctx, opts...)
}

// waitInserts waits until none of this DB's inserts runs on the server any
// more: an insert the client gave up on (a timeout, a closed connection)
// may still be writing its rows, and a retry that looked for them too early
// would write them twice. It gives up after a minute.
func (db *DB) waitInserts(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var n uint64
		if err := db.conn.QueryRow(ctx, selectRunningInserts, db.insertPrefix).Scan(&n); err != nil {
			return fmt.Errorf("clickhouse: running inserts: %w", err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse: %d earlier inserts still running after a minute", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Conn is the underlying driver connection, for the read-only query layer.
func (db *DB) Conn() driver.Conn { return db.conn }

// Database is the name of the database in use.
func (db *DB) Database() string { return db.database }

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error { return db.conn.Ping(ctx) }

// Close closes every connection.
func (db *DB) Close() error { return db.conn.Close() }

// DropDatabase removes the database and everything in it. Tests use it.
func (db *DB) DropDatabase(ctx context.Context) error {
	return db.conn.Exec(ctx, dropDatabaseSQL(db.Target()))
}

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
