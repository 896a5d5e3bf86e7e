package migrations

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.up\.sql$`)

// Load reads every NNNN_name.up.sql file of fsys, in order.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations: two migrations numbered %04d", out[i].Version)
		}
	}
	return out, nil
}

// Statements renders a migration for target t and splits it into its
// statements (see Render).
func (m Migration) Statements(t Target) ([]string, error) {
	return Render(fmt.Sprintf("%04d_%s", m.Version, m.Name), m.SQL, t)
}

// All returns the embedded migrations, in order.
func All() ([]Migration, error) { return Load(FS) }

// RebuildScope restricts a rebuild to one site (the first argument) and a
// list of days (the second, as YYYY-MM-DD strings).
const RebuildScope = " AND site_id = ? AND date IN (SELECT toDate(arrayJoin(?)))"

// Rebuilds returns, for each of tables, the INSERT … SELECT statements
// that fill it from its source (the backfills of its views), restricted to
// a site and days by RebuildScope: deleting a table's rows of those days
// and running these restores them from the source rows that remain. A
// migration that creates the table starts its list anew; one that only
// adds a view to it adds the view's backfill.
func Rebuilds(t Target, tables []string) (map[string][]string, error) {
	migs, err := All()
	if err != nil {
		return nil, err
	}
	t.Scope = RebuildScope
	out := map[string][]string{}
	want := map[string]bool{}
	for _, name := range tables {
		want[name] = true
	}
	for _, m := range migs {
		stmts, err := m.Statements(t)
		if err != nil {
			return nil, err
		}
		found := map[string][]string{}
		created := map[string]bool{}
		for _, s := range stmts {
			if rest, ok := strings.CutPrefix(s, "CREATE TABLE IF NOT EXISTS "); ok {
				name, _, _ := strings.Cut(rest, " ")
				created[strings.TrimSuffix(strings.Trim(name[strings.LastIndex(name, ".")+1:], "`"), LocalSuffix)] = true
			}
			if !strings.HasPrefix(s, "INSERT INTO ") || !strings.Contains(s, RebuildScope) {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(s, "INSERT INTO "), " ")
			name = strings.Trim(name[strings.LastIndex(name, ".")+1:], "`")
			if want[name] {
				found[name] = append(found[name], s)
			}
		}
		for name, list := range found {
			if created[name] {
				out[name] = list
			} else {
				out[name] = append(out[name], list...)
			}
		}
	}
	for _, name := range tables {
		if len(out[name]) == 0 {
			return nil, fmt.Errorf("migrations: no rebuild for table %s", name)
		}
	}
	return out, nil
}
