package clickhouse

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.up\.sql$`)

// LoadMigrations reads every NNNN_name.up.sql file of fsys, in order.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrate: two migrations numbered %04d", out[i].Version)
		}
	}
	return out, nil
}

// Statements splits a migration into its statements: comments dropped,
// split at semicolons that end a line.
func (m Migration) Statements() []string {
	var b strings.Builder
	for _, line := range strings.Split(m.SQL, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for _, s := range regexp.MustCompile(`;\s*\n`).Split(b.String()+"\n", -1) {
		if s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// MigrationState is the newest recorded migration.
type MigrationState struct {
	Version int
	Dirty   bool
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    dirty UInt8,
    seq UInt64,
    applied_at DateTime('UTC')
) ENGINE = MergeTree ORDER BY (version, seq)`

// MigrationState returns the newest recorded migration (version 0 if none).
func (db *DB) MigrationState(ctx context.Context) (MigrationState, error) {
	create, err := db.statements([]string{createMigrationsTable})
	if err != nil {
		return MigrationState{}, err
	}
	if err := db.conn.Exec(ctx, create[0]); err != nil {
		return MigrationState{}, fmt.Errorf("migrate: %w", err)
	}
	rows, err := db.conn.Query(ctx, `SELECT version, dirty FROM schema_migrations ORDER BY version DESC, seq DESC LIMIT 1`)
	if err != nil {
		return MigrationState{}, fmt.Errorf("migrate: %w", err)
	}
	defer rows.Close()
	var st MigrationState
	for rows.Next() {
		var v uint32
		var d uint8
		if err := rows.Scan(&v, &d); err != nil {
			return MigrationState{}, fmt.Errorf("migrate: %w", err)
		}
		st = MigrationState{Version: int(v), Dirty: d == 1}
	}
	return st, rows.Err()
}

// Migrate applies every migration newer than the recorded state, each one
// recorded dirty before it runs and clean after, since ClickHouse DDL is not
// transactional. It returns the versions it applied; none is a no-op. A
// server older than MinVersion is refused before anything changes.
func (db *DB) Migrate(ctx context.Context, migrations []Migration) ([]int, error) {
	if err := db.CheckVersion(); err != nil {
		return nil, err
	}
	st, err := db.MigrationState(ctx)
	if err != nil {
		return nil, err
	}
	if st.Dirty {
		return nil, fmt.Errorf("migrate: migration %04d failed half-way earlier (dirty); repair the schema by hand, then run `crumb migrate --force %d`", st.Version, st.Version)
	}
	var applied []int
	for _, m := range migrations {
		if m.Version <= st.Version {
			continue
		}
		if err := db.recordMigration(ctx, m.Version, true); err != nil {
			return applied, err
		}
		stmts, err := db.statements(m.Statements())
		if err != nil {
			return applied, fmt.Errorf("migrate: %04d_%s: %w", m.Version, m.Name, err)
		}
		for _, stmt := range stmts {
			if err := db.conn.Exec(db.insertContext(ctx), stmt); err != nil {
				return applied, fmt.Errorf("migrate: %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		if err := db.recordMigration(ctx, m.Version, false); err != nil {
			return applied, err
		}
		db.log.Info("migration applied", "version", m.Version, "name", m.Name)
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// statements are stmts as this database runs them: unchanged on one
// server, rewritten for the cluster in cluster mode.
func (db *DB) statements(stmts []string) ([]string, error) {
	if db.cluster == "" {
		return stmts, nil
	}
	return ClusterStatements(stmts, db.cluster, db.database)
}

// ForceMigration records version as cleanly applied, after a failed
// migration was repaired by hand.
func (db *DB) ForceMigration(ctx context.Context, version int) error {
	if _, err := db.MigrationState(ctx); err != nil {
		return err
	}
	return db.recordMigration(ctx, version, false)
}

func (db *DB) recordMigration(ctx context.Context, version int, dirty bool) error {
	b, err := db.conn.PrepareBatch(db.insertContext(ctx), "INSERT INTO schema_migrations (version, dirty, seq, applied_at)")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	now := time.Now().UTC()
	if err := b.Append(uint32(version), boolU8(dirty), uint64(now.UnixNano()), now); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
