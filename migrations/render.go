package migrations

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// Target is where statements run: one server (Cluster empty) or every
// server of a ClickHouse cluster, in Database.
//
// The SQL files are Go templates rendered for a target. On one server they
// are plain statements on unqualified names; in cluster mode every table is
// a Replicated*MergeTree created ON CLUSTER, and the sharded tables of the
// registry get a Distributed table over them. The functions:
//
//	{{local "events"}}        the table that holds the rows on each server
//	                          (events_local for a sharded table in cluster mode)
//	{{table "events"}}        the table crumb reads and writes (the Distributed
//	                          table of a sharded table in cluster mode)
//	{{view "events_mv"}}      a materialized view's name
//	{{onCluster}}             " ON CLUSTER `name`" in cluster mode
//	{{engine "events" "MergeTree" "args"…}}
//	                          the engine, replicated in cluster mode
//	{{distributed "events"}}  in cluster mode, the statement creating the
//	                          Distributed table of a sharded table
//	{{alter "events" "ADD COLUMN x UInt8"}}
//	                          the ALTER of the table and, when sharded, its
//	                          Distributed table made again over it
//
// A name missing from the registry is an error, and so is a CREATE or
// ALTER that a cluster would run on one server only (but for the ALTER of
// a full copy, which replication carries to every server).
//
// ZooKeeper paths are /clickhouse/tables/{shard}/DATABASE/TABLE for sharded
// tables (replica {replica}) and /clickhouse/tables/all/DATABASE/TABLE for
// the copies on every server (replica {shard}-{replica}); both macros must
// be defined on every server.
type Target struct {
	Cluster  string
	Database string
	// Scope is appended to the WHERE clause of every backfill (see
	// Rebuilds); empty in migrations.
	Scope string
}

// source is what a shared SELECT of a migration reads: {{template "x"
// (mv "events")}} in a materialized view (the local table, every row),
// {{template "x" (backfill "events")}} in its backfill (the table crumb
// reads, restricted by the target's Scope).
type source struct {
	From  string
	Scope string
}

// LocalSuffix names the shard-local table under a Distributed table.
const LocalSuffix = "_local"

func quote(s string) string { return "`" + strings.ReplaceAll(s, "`", "") + "`" }

func lookup(name string) (Table, error) {
	t, ok := Lookup(name)
	if !ok {
		return Table{}, fmt.Errorf("table %s is not in the registry (migrations/tables.go)", name)
	}
	return t, nil
}

func (t Target) qualify(name string) string {
	if t.Cluster == "" {
		return name
	}
	return quote(t.Database) + "." + quote(name)
}

func (t Target) localName(tb Table) string {
	if t.Cluster != "" && tb.Sharded() {
		return tb.Name + LocalSuffix
	}
	return tb.Name
}

// Local is the table holding name's rows on each server, as a statement
// names it; mutations (erasure, retention) go there.
func (t Target) Local(name string) (string, error) {
	tb, err := lookup(name)
	if err != nil {
		return "", err
	}
	return t.qualify(t.localName(tb)), nil
}

// Table is the registered table name as crumb's reads and inserts name it.
func (t Target) Table(name string) (string, error) {
	tb, err := lookup(name)
	if err != nil {
		return "", err
	}
	return t.qualify(tb.Name), nil
}

// OnCluster is " ON CLUSTER `name`" in cluster mode and "" otherwise.
func (t Target) OnCluster() string {
	if t.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quote(t.Cluster)
}

func (t Target) engine(name, engine string, args ...string) (string, error) {
	tb, err := lookup(name)
	if err != nil {
		return "", err
	}
	if t.Cluster != "" {
		if !strings.HasSuffix(engine, "MergeTree") {
			return "", fmt.Errorf("table %s: engine %s cannot be replicated", name, engine)
		}
		path, replica := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s'", t.Database, t.localName(tb)), "'{replica}'"
		if !tb.Sharded() {
			path, replica = fmt.Sprintf("'/clickhouse/tables/all/%s/%s'", t.Database, tb.Name), "'{shard}-{replica}'"
		}
		engine, args = "Replicated"+engine, append([]string{path, replica}, args...)
	}
	if len(args) == 0 {
		return engine, nil
	}
	return engine + "(" + strings.Join(args, ", ") + ")", nil
}

func (t Target) distributed(name string) (string, error) {
	tb, err := lookup(name)
	if err != nil {
		return "", err
	}
	if t.Cluster == "" || !tb.Sharded() {
		return "", nil
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s ENGINE = Distributed(%s, %s, %s, %s);",
		t.qualify(tb.Name), t.OnCluster(), t.qualify(t.localName(tb)),
		quote(t.Cluster), quote(t.Database), quote(t.localName(tb)), tb.ShardKey), nil
}

func (t Target) alter(name, change string) (string, error) {
	tb, err := lookup(name)
	if err != nil {
		return "", err
	}
	if t.Cluster != "" && !tb.Sharded() {
		// A full copy is one replicated table on every server: ALTER ON
		// CLUSTER would run on one replica of each shard, the second time
		// on a table that already changed (18.16: "column with this name
		// already exists"). On one server, replication carries it to
		// every copy.
		return fmt.Sprintf("ALTER TABLE %s %s", t.qualify(tb.Name), change), nil
	}
	out := fmt.Sprintf("ALTER TABLE %s%s %s", t.qualify(t.localName(tb)), t.OnCluster(), change)
	if t.localName(tb) != tb.Name {
		// A Distributed table cannot be altered ON CLUSTER where shards
		// replicate (18.16 refuses it); it holds no rows, so it is made
		// again over the altered table.
		dist, err := t.distributed(name)
		if err != nil {
			return "", err
		}
		out += fmt.Sprintf(";\nDROP TABLE IF EXISTS %s%s;\n%s", t.qualify(tb.Name), t.OnCluster(), strings.TrimSuffix(dist, ";"))
	}
	return out, nil
}

// replicatedAlter reports whether s alters a full copy (a table not
// sharded), which replication carries to every server.
func (t Target) replicatedAlter(s string) bool {
	rest, ok := strings.CutPrefix(s, "ALTER TABLE ")
	if !ok {
		return false
	}
	name, _, _ := strings.Cut(rest, " ")
	name = strings.Trim(name[strings.LastIndex(name, ".")+1:], "`")
	tb, ok := Lookup(name)
	return ok && !tb.Sharded()
}

func (t Target) funcs() template.FuncMap {
	return template.FuncMap{
		"local":       t.Local,
		"table":       t.Table,
		"view":        func(name string) string { return t.qualify(name) },
		"onCluster":   t.OnCluster,
		"engine":      t.engine,
		"distributed": t.distributed,
		"alter":       t.alter,
		"mv": func(name string) (source, error) {
			from, err := t.Local(name)
			return source{From: from}, err
		},
		"backfill": func(name string) (source, error) {
			from, err := t.Table(name)
			return source{From: from, Scope: t.Scope}, err
		},
	}
}

var statementEnd = regexp.MustCompile(`;\s*\n`)

// Render executes the template text (a migration called name) for t and
// splits the result into statements: comment lines dropped, split at
// semicolons that end a line.
func Render(name, text string, t Target) ([]string, error) {
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(t.funcs()).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var rendered strings.Builder
	if err := tmpl.Execute(&rendered, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var b strings.Builder
	for _, line := range strings.Split(rendered.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for _, s := range statementEnd.Split(b.String()+"\n", -1) {
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";"))
		if s == "" {
			continue
		}
		if t.Cluster != "" && (strings.HasPrefix(s, "CREATE") || strings.HasPrefix(s, "ALTER")) && !strings.Contains(s, " ON CLUSTER ") && !t.replicatedAlter(s) {
			first, _, _ := strings.Cut(s, "\n")
			return nil, fmt.Errorf("%s: %q would run on one server of the cluster only (use {{onCluster}})", name, first)
		}
		out = append(out, s)
	}
	return out, nil
}

// SchemaMigrationsSQL creates the table recording applied migrations.
const SchemaMigrationsSQL = `CREATE TABLE IF NOT EXISTS {{local "schema_migrations"}}{{onCluster}} (
    version UInt32,
    dirty UInt8,
    seq UInt64,
    applied_at DateTime('UTC')
) ENGINE = {{engine "schema_migrations" "MergeTree"}} ORDER BY (version, seq)`
