// Command chdbcheck replays the report layer's statements on current
// ClickHouse (chDB, in-process) and compares the answers with those of
// ClickHouse 18.16. It is a module of its own so that chdb-go stays out of
// Crumb's build.
//
//	CRUMB_REPORT_DUMP=/tmp/dump.json go test -run TestDump_ForCurrentClickHouse ./server/internal/report
//	cd server/internal/report/testdata/chdbcheck
//	GONOSUMDB=github.com/chdb-io CHDB_LIB_PATH=…/libchdb.so go run . -migrations ../../../../../migrations -dump /tmp/dump.json
//
// libchdb.so comes from the npm package @chdb/lib-linux-x64-gnu.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/chdb-io/chdb-go/v2/chdb"
)

func main() {
	migrations := flag.String("migrations", "../../../../../migrations", "the migrations folder")
	dumpFile := flag.String("dump", "/tmp/dump.json", "statements recorded by TestDump_ForCurrentClickHouse")
	flag.Parse()
	var dump struct {
		Inserts []string `json:"inserts"`
		Queries []struct {
			SQL string `json:"sql"`
			TSV string `json:"tsv"`
		} `json:"queries"`
	}
	b, err := os.ReadFile(*dumpFile)
	if err != nil {
		fatal(err)
	}
	if err := json.Unmarshal(b, &dump); err != nil {
		fatal(err)
	}
	dir, err := os.MkdirTemp("", "chdbcheck-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := chdb.NewSession(dir)
	if err != nil {
		fatal(err)
	}
	defer s.Cleanup()
	exec := func(q string) string {
		r, err := s.Query(q, "TabSeparated")
		if err != nil {
			return "ERROR: " + err.Error()
		}
		if r.Error() != nil {
			return "ERROR: " + r.Error().Error()
		}
		return r.String()
	}
	if out := exec("CREATE DATABASE IF NOT EXISTS crumb"); strings.HasPrefix(out, "ERROR") {
		fatal(fmt.Errorf("%s", out))
	}
	exec("USE crumb")
	version := exec("SELECT version()")
	files, _ := filepath.Glob(filepath.Join(*migrations, "*.up.sql"))
	sort.Strings(files)
	for _, f := range files {
		for _, st := range statements(f) {
			if out := exec(st); strings.HasPrefix(out, "ERROR") {
				fatal(fmt.Errorf("%s: %s\n%s", filepath.Base(f), out, st))
			}
		}
	}
	for _, ins := range dump.Inserts {
		if out := exec(ins); strings.HasPrefix(out, "ERROR") {
			fatal(fmt.Errorf("%s: %.200s", out, ins))
		}
	}
	fails := 0
	for _, q := range dump.Queries {
		got := exec(q.SQL)
		// Rows without ORDER BY may come in any order.
		if got != q.TSV && (strings.Contains(q.SQL, "ORDER BY") || sortLines(got) != sortLines(q.TSV)) {
			fails++
			if fails <= 10 {
				fmt.Printf("DIFFERENT\n%s\n-- 18.16:\n%s-- %s:\n%s\n", q.SQL, q.TSV, strings.TrimSpace(version), got)
			}
		}
	}
	fmt.Printf("ClickHouse %s: %d statements, %d answered differently from 18.16\n", strings.TrimSpace(version), len(dump.Queries), fails)
	if fails > 0 {
		os.Exit(1)
	}
}

func sortLines(s string) string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// statements splits a migration as crumb's migrator does.
func statements(file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			keep = append(keep, line)
		}
	}
	var out []string
	for _, st := range regexp.MustCompile(`;\s*\n`).Split(strings.Join(keep, "\n")+"\n", -1) {
		if st = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(st), ";")); st != "" {
			out = append(out, st)
		}
	}
	return out
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "chdbcheck:", err)
	os.Exit(1)
}
