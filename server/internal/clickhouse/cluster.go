package clickhouse

import (
	"fmt"
	"regexp"
	"strings"
)

// Cluster mode. With a cluster name, every table of a migration is created
// ON CLUSTER as a Replicated*MergeTree, and the tables that grow with
// traffic are split across the shards:
//
//   - events, consent records and the pre-aggregated report tables are
//     stored in NAME_local on each shard (replicated within the shard), and
//     NAME becomes a Distributed table over them. Crumb reads and writes NAME
//     as on a single server; materialized views read NAME_local and write
//     the shard's own report tables, so each event is aggregated once, on
//     the replica that received it, and the aggregate replicates with it.
//   - configuration (sites, users, tokens, share links, schema_migrations)
//     is small and read at every start: one replicated copy on every server
//     of the cluster, read locally with FINAL.
//
// The ZooKeeper paths are /clickhouse/tables/{shard}/DATABASE/TABLE for
// sharded tables and /clickhouse/tables/all/DATABASE/TABLE for the copies
// on every server, whose replica name is {shard}-{replica}; both macros must
// be defined on every server.

// placement of a table in cluster mode: "" keeps a full copy on every
// server; otherwise the table is sharded and the value is the sharding key
// of its Distributed table.
var placement = map[string]string{
	"schema_migrations": "",
	"sites":             "",
	"users":             "",
	"api_tokens":        "",
	"share_links":       "",
	// A visitor's events stay on one shard; anonymous page views (zero
	// visitor ID) are spread evenly.
	"events":                     "if(visitor_id = toUUID('00000000-0000-0000-0000-000000000000'), rand(), cityHash64(toString(visitor_id)))",
	"consent_decisions":          "cityHash64(toString(consent_id))",
	"consent_impressions":        "rand()",
	"report_totals":              "rand()",
	"report_daily":               "rand()",
	"report_dims":                "rand()",
	"report_consent_decisions":   "rand()",
	"report_consent_impressions": "rand()",
}

// LocalSuffix names the shard-local table under a Distributed table.
const LocalSuffix = "_local"

var (
	createTableRe = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+) (\(.*\))\s*ENGINE = (\w+)(\(([^)]*)\))?(.*)$`)
	createViewRe  = regexp.MustCompile(`(?s)^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\s+(.*)$`)
	fromRe        = regexp.MustCompile(`\bFROM (\w+)\b`)
	alterRe       = regexp.MustCompile(`(?s)^ALTER TABLE (\w+) ((ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN .*)$`)
	insertRe      = regexp.MustCompile(`(?s)^INSERT INTO \w+`)
)

// ClusterStatements rewrites the single-server statements of a migration
// for cluster mode in database db of cluster. Statements it does not know
// how to distribute are an error, so that a new migration cannot silently
// create a table on one server only.
func ClusterStatements(stmts []string, cluster, db string) ([]string, error) {
	c := clusterSQL{cluster: cluster, db: db}
	var out []string
	for _, s := range stmts {
		rewritten, err := c.rewrite(s)
		if err != nil {
			return nil, err
		}
		out = append(out, rewritten...)
	}
	return out, nil
}

type clusterSQL struct{ cluster, db string }

func (c clusterSQL) onCluster() string { return " ON CLUSTER " + quoteIdent(c.cluster) }

func (c clusterSQL) name(table string) string { return quoteIdent(c.db) + "." + quoteIdent(table) }

// local is the table that holds the rows of table on each server.
func (c clusterSQL) local(table string) string {
	if key, ok := placement[table]; ok && key != "" {
		return table + LocalSuffix
	}
	return table
}

func (c clusterSQL) rewrite(stmt string) ([]string, error) {
	switch {
	case createTableRe.MatchString(stmt):
		m := createTableRe.FindStringSubmatch(stmt)
		table, columns, engine, args, rest := m[1], m[2], m[3], m[5], m[6]
		key, known := placement[table]
		if !known {
			return nil, fmt.Errorf("migrate: table %s has no cluster placement (add it to placement in cluster.go)", table)
		}
		if !strings.HasSuffix(engine, "MergeTree") {
			return nil, fmt.Errorf("migrate: table %s: engine %s cannot be replicated", table, engine)
		}
		path, replica := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s'", c.db, c.local(table)), "'{replica}'"
		if key == "" {
			path, replica = fmt.Sprintf("'/clickhouse/tables/all/%s/%s'", c.db, table), "'{shard}-{replica}'"
		}
		engineArgs := path + ", " + replica
		if strings.TrimSpace(args) != "" {
			engineArgs += ", " + args
		}
		out := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s %s ENGINE = Replicated%s(%s)%s",
			c.name(c.local(table)), c.onCluster(), columns, engine, engineArgs, rest)}
		if key != "" {
			out = append(out, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s ENGINE = Distributed(%s, %s, %s, %s)",
				c.name(table), c.onCluster(), c.name(c.local(table)),
				quoteIdent(c.cluster), quoteIdent(c.db), quoteIdent(c.local(table)), key))
		}
		return out, nil
	case createViewRe.MatchString(stmt):
		m := createViewRe.FindStringSubmatch(stmt)
		view, target, query := m[1], m[2], m[3]
		sources := fromRe.FindAllStringSubmatch(query, -1)
		if len(sources) != 1 {
			return nil, fmt.Errorf("migrate: view %s: cluster mode needs exactly one FROM table", view)
		}
		query = fromRe.ReplaceAllString(query, "FROM "+c.name(c.local(sources[0][1])))
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s AS\n%s",
			c.name(view), c.onCluster(), c.name(c.local(target)), query)}, nil
	case alterRe.MatchString(stmt):
		m := alterRe.FindStringSubmatch(stmt)
		table, change := m[1], m[2]
		if _, known := placement[table]; !known {
			return nil, fmt.Errorf("migrate: table %s has no cluster placement", table)
		}
		out := []string{fmt.Sprintf("ALTER TABLE %s%s %s", c.name(c.local(table)), c.onCluster(), change)}
		if c.local(table) != table {
			out = append(out, fmt.Sprintf("ALTER TABLE %s%s %s", c.name(table), c.onCluster(), change))
		}
		return out, nil
	case insertRe.MatchString(stmt):
		// Backfills read and write the Distributed tables.
		return []string{stmt}, nil
	}
	first, _, _ := strings.Cut(stmt, "\n")
	return nil, fmt.Errorf("migrate: cluster mode cannot distribute %q", first)
}
