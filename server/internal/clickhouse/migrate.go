package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crumbhq/crumb/migrations"
)

// MigrationState is the newest recorded migration.
type MigrationState struct {
	Version int
	Dirty   bool
}

// MigrationState returns the newest recorded migration (version 0 if none).
func (db *DB) MigrationState(ctx context.Context) (MigrationState, error) {
	create, err := createSchemaMigrationsSQL(db.Target())
	if err != nil {
		return MigrationState{}, err
	}
	if err := db.conn.Exec(ctx, create); err != nil {
		return MigrationState{}, fmt.Errorf("migrate: %w", err)
	}
	rows, err := db.conn.Query(ctx, selectMigrationState)
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
func (db *DB) Migrate(ctx context.Context, migs []migrations.Migration) ([]int, error) {
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
	for _, m := range migs {
		if m.Version <= st.Version {
			continue
		}
		if err := db.recordMigration(ctx, m.Version, true); err != nil {
			return applied, err
		}
		stmts, err := m.Statements(db.Target())
		if err != nil {
			return applied, fmt.Errorf("migrate: %w", err)
		}
		for _, stmt := range stmts {
			sctx := db.insertContext(ctx)
			if db.cluster != "" {
				// A statement ON CLUSTER waits for every server; a busy one
				// took over the default 180 s. Migrations are rare: wait up
				// to 9 minutes (under the connection's read timeout)
				// rather than leave the schema half-migrated.
				sctx = ch.Context(sctx, ch.WithSettings(ch.Settings{"insert_distributed_sync": 1, "distributed_ddl_task_timeout": db.signedSetting(540)}))
			}
			if err := db.conn.Exec(sctx, stmt); err != nil {
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

// Target is where this database's statements run: one server, or every
// server of its cluster.
func (db *DB) Target() migrations.Target {
	return migrations.Target{Cluster: db.cluster, Database: db.database}
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
	b, err := db.conn.PrepareBatch(db.insertContext(ctx), insertMigration)
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
