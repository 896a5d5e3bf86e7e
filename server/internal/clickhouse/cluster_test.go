package clickhouse_test

import (
	"strings"
	"testing"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
)

func TestClusterStatements_EveryMigrationDistributes(t *testing.T) {
	migs, err := clickhouse.LoadMigrations(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range migs {
		stmts, err := clickhouse.ClusterStatements(m.Statements(), "c1", "crumb")
		if err != nil {
			t.Fatalf("%04d_%s: %v", m.Version, m.Name, err)
		}
		all = append(all, stmts...)
	}
	joined := strings.Join(all, "\n;\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS `crumb`.`events_local` ON CLUSTER `c1` (",
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/crumb/events_local', '{replica}')",
		"CREATE TABLE IF NOT EXISTS `crumb`.`events` ON CLUSTER `c1` AS `crumb`.`events_local` ENGINE = Distributed(`c1`, `crumb`, `events_local`, ",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/crumb/sites', '{shard}-{replica}', version)",
		"ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/crumb/report_dims_local', '{replica}')",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS `crumb`.`report_totals_mv` ON CLUSTER `c1` TO `crumb`.`report_totals_local` AS",
		"FROM `crumb`.`consent_impressions_local`",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("cluster statements lack %q", want)
		}
	}
	for _, s := range all {
		if strings.HasPrefix(s, "CREATE") && !strings.Contains(s, "ON CLUSTER") {
			t.Errorf("statement not ON CLUSTER: %.80s", s)
		}
		if strings.Contains(s, "MATERIALIZED VIEW") && strings.Contains(s, "FROM `crumb`.`events`") {
			t.Errorf("view reads the Distributed table: %.80s", s)
		}
	}
}

func TestClusterStatements_RefusesUnknownTables(t *testing.T) {
	for _, stmt := range []string{
		"CREATE TABLE IF NOT EXISTS surprise (x UInt8) ENGINE = MergeTree ORDER BY x",
		"CREATE TABLE IF NOT EXISTS events (x UInt8) ENGINE = Memory",
		"DROP TABLE events",
	} {
		if _, err := clickhouse.ClusterStatements([]string{stmt}, "c1", "crumb"); err == nil {
			t.Errorf("%q: no error", stmt)
		}
	}
	got, err := clickhouse.ClusterStatements([]string{"ALTER TABLE events ADD COLUMN x UInt8"}, "c1", "crumb")
	if err != nil || len(got) != 2 || !strings.Contains(got[0], "`events_local` ON CLUSTER") || !strings.Contains(got[1], "`events` ON CLUSTER") {
		t.Fatalf("ALTER: %q, %v", got, err)
	}
}
