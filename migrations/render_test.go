package migrations_test

import (
	"strings"
	"testing"

	"github.com/crumbhq/crumb/migrations"
)

func TestRender_SplitsAtLineEndSemicolons(t *testing.T) {
	got, err := migrations.Render("t", "-- c;\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Memory;\n\nCREATE TABLE b (y UInt8) ENGINE = Memory;\n", migrations.Target{})
	if err != nil || len(got) != 2 || got[0] != "CREATE TABLE a (x String DEFAULT ';') ENGINE = Memory" {
		t.Fatalf("statements = %q, %v", got, err)
	}
}

func TestRender_OneServerIsPlainSQL(t *testing.T) {
	migs, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		stmts, err := m.Statements(migrations.Target{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if strings.Contains(s, "{{") || strings.Contains(s, "ON CLUSTER") || strings.Contains(s, "Replicated") || strings.Contains(s, "`") {
				t.Errorf("%04d: single-server statement %.80q", m.Version, s)
			}
		}
	}
}

func TestRender_EveryMigrationDistributes(t *testing.T) {
	migs, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	c1 := migrations.Target{Cluster: "c1", Database: "crumb"}
	all, err := migrations.Render("schema_migrations", migrations.SchemaMigrationsSQL, c1)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		stmts, err := m.Statements(c1)
		if err != nil {
			t.Fatalf("%04d_%s: %v", m.Version, m.Name, err)
		}
		all = append(all, stmts...)
	}
	joined := strings.Join(all, "\n;\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS `crumb`.`schema_migrations` ON CLUSTER `c1` (",
		"CREATE TABLE IF NOT EXISTS `crumb`.`events_local` ON CLUSTER `c1` (",
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/crumb/events_local', '{replica}')",
		"CREATE TABLE IF NOT EXISTS `crumb`.`events` ON CLUSTER `c1` AS `crumb`.`events_local` ENGINE = Distributed(`c1`, `crumb`, `events_local`, ",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/crumb/sites', '{shard}-{replica}', version)",
		"ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/crumb/report_dims_local', '{replica}')",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS `crumb`.`report_totals_mv` ON CLUSTER `c1` TO `crumb`.`report_totals_local` AS",
		"FROM `crumb`.`consent_impressions_local`",
		"INSERT INTO `crumb`.`report_totals` (",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("cluster statements lack %q", want)
		}
	}
	for _, s := range all {
		if strings.Contains(s, "MATERIALIZED VIEW") && strings.Contains(s, "FROM `crumb`.`events`") {
			t.Errorf("view reads the Distributed table: %.80s", s)
		}
	}
	// Every registered table but the configuration is sharded and has its
	// Distributed table.
	for _, tb := range migrations.Tables {
		if tb.Sharded() && !strings.Contains(joined, "CREATE TABLE IF NOT EXISTS `crumb`.`"+tb.Name+"` ON CLUSTER `c1` AS `crumb`.`"+tb.Name+"_local`") {
			t.Errorf("%s: no Distributed table", tb.Name)
		}
	}
}

func TestRender_RefusesWhatACusterCannotRun(t *testing.T) {
	c1 := migrations.Target{Cluster: "c1", Database: "crumb"}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS {{local "surprise"}}{{onCluster}} (x UInt8) ENGINE = MergeTree ORDER BY x;`,
		`CREATE TABLE IF NOT EXISTS {{local "events"}}{{onCluster}} (x UInt8) ENGINE = {{engine "events" "Memory"}};`,
		`CREATE TABLE IF NOT EXISTS plain (x UInt8) ENGINE = MergeTree ORDER BY x;`,
		`ALTER TABLE events ADD COLUMN x UInt8;`,
		`INSERT INTO {{table "nope"}} SELECT 1;`,
	} {
		if _, err := migrations.Render("t", stmt, c1); err == nil {
			t.Errorf("%q: no error", stmt)
		}
	}
	got, err := migrations.Render("t", `{{alter "events" "ADD COLUMN x UInt8"}};`, c1)
	if err != nil || len(got) != 3 || !strings.Contains(got[0], "`events_local` ON CLUSTER") ||
		!strings.HasPrefix(got[1], "DROP TABLE IF EXISTS `crumb`.`events` ON CLUSTER") || !strings.Contains(got[2], "AS `crumb`.`events_local` ENGINE = Distributed") {
		t.Fatalf("ALTER: %q, %v", got, err)
	}
	got, err = migrations.Render("t", `{{alter "events" "ADD COLUMN x UInt8"}};`, migrations.Target{})
	if err != nil || len(got) != 1 || got[0] != "ALTER TABLE events ADD COLUMN x UInt8" {
		t.Fatalf("ALTER on one server: %q, %v", got, err)
	}
}

// TestRebuilds_EveryViewOfATable: a table's rebuild runs the backfill of
// every view that fills it, from the migration that created it on, on one
// server and in a cluster.
func TestRebuilds_EveryViewOfATable(t *testing.T) {
	for _, target := range []migrations.Target{{}, {Cluster: "c", Database: "crumb"}} {
		got, err := migrations.Rebuilds(target, []string{migrations.ReportDims, migrations.ReportDaily})
		if err != nil {
			t.Fatal(err)
		}
		if len(got[migrations.ReportDaily]) != 1 {
			t.Errorf("cluster %q: report_daily rebuilds %d statements, want 1", target.Cluster, len(got[migrations.ReportDaily]))
		}
		// Page views, engagement, events, properties (0012), domain types (0014).
		var dims []string
		for _, s := range got[migrations.ReportDims] {
			dims = append(dims, s[strings.Index(s, "SELECT"):][:60])
		}
		if len(dims) != 5 || !strings.Contains(got[migrations.ReportDims][4], "'domain_type' AS dim") {
			t.Errorf("cluster %q: report_dims rebuilds %d statements: %q", target.Cluster, len(dims), dims)
		}
	}
}
