// Command chcompat checks that crumb's SQL means the same on current
// ClickHouse as on ClickHouse 18.16. Tests record, on their 18.16 server,
// the statements crumb sends with the server's answers (package
// server/testkit/chrecord): every migration as the migrator splits
// it, the fixture's inserts, every dashboard query, the writer's duplicate
// checks, the configuration reads (FINAL), the privacy reads, the retention
// and erasure mutations, and each table's contents after them. chcompat
// replays those recordings, in order, on the ClickHouse engine that chDB
// runs in process, and compares every answer. Any difference or error
// makes it exit with status 1.
//
// It is a module of its own so that chdb-go, which needs libchdb.so as soon
// as it starts, stays out of crumb's build. make test runs it:
//
//	CRUMB_CHCOMPAT_DIR=/tmp/rec go test -count=1 -run '^TestRecord_ForCurrentClickHouse$' \
//		./server/internal/clickhouse ./server/internal/report
//	cd server/testkit/chcompat && CHDB_LIB_PATH=…/libchdb.so go run . /tmp/rec
//
// libchdb.so comes from the npm package @chdb/lib-linux-x64-gnu (need_chdb
// in server/scripts/lib.sh).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chdb-io/chdb-go/v2/chdb"
)

// file and step are chrecord.File and chrecord.Step.
type file struct {
	Server   string `json:"server"`
	Database string `json:"database"`
	Steps    []step `json:"steps"`
}

type step struct {
	Part     string  `json:"part"`
	SQL      string  `json:"sql"`
	Answer   *string `json:"answer,omitempty"`
	Mutation bool    `json:"mutation,omitempty"`
}

// tally counts one part's statements.
type tally struct {
	part                 string
	statements, compared int
	different            int
}

func main() {
	workers := flag.Int("workers", runtime.NumCPU(), "sessions that run queries in parallel")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: chcompat [-workers n] folder-of-recordings")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ok, err := run(flag.Arg(0), max(*workers, 1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chcompat:", err)
	}
	if !ok || err != nil {
		os.Exit(1)
	}
}

// run checks every recording in folder.
func run(folder string, workers int) (bool, error) {
	names, _ := filepath.Glob(filepath.Join(folder, "*.json"))
	if len(names) == 0 {
		return false, fmt.Errorf("no recordings (*.json) in %s", folder)
	}
	dir, err := os.MkdirTemp("", "chcompat-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	sessions := make([]*chdb.Session, workers)
	for i := range sessions {
		if sessions[i], err = chdb.NewSession(dir); err != nil {
			return false, err
		}
		defer sessions[i].Close()
		// chDB runs mutations synchronously unless told otherwise; a
		// server runs them in the background, and so does the check.
		if _, err := query(sessions[i], "SET mutations_sync = 0"); err != nil {
			return false, err
		}
	}
	version, err := query(sessions[0], "SELECT version()")
	if err != nil {
		return false, err
	}
	version = "ClickHouse " + strings.TrimSpace(version) + " (chDB)"
	ok := true
	for _, name := range names {
		good, err := check(sessions, name, version)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		ok = ok && good
	}
	return ok, nil
}

// check replays one recording in a database of its own and reports whether
// every statement ran and every answer matched.
func check(sessions []*chdb.Session, name, version string) (bool, error) {
	start := time.Now()
	b, err := os.ReadFile(name)
	if err != nil {
		return false, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return false, err
	}
	base := strings.TrimSuffix(filepath.Base(name), ".json")
	// The recording's own database name, which statements may contain.
	db := "`" + strings.ReplaceAll(f.Database, "`", "") + "`"
	if _, err := query(sessions[0], "CREATE DATABASE "+db); err != nil {
		return false, err
	}
	for _, s := range sessions {
		if _, err := query(s, "USE "+db); err != nil {
			return false, err
		}
	}

	var tallies []*tally
	byPart := map[string]*tally{}
	shown := 0
	report := func(st step, what, got string) {
		shown++
		if shown > 10 {
			return
		}
		fmt.Printf("--- %s, %s: %s\n%s\n", base, st.Part, what, st.SQL)
		if st.Answer != nil {
			fmt.Printf("-- %s:\n%s-- %s:\n%s\n", f.Server, *st.Answer, version, got)
		}
	}
	failed := false
	for i := 0; i < len(f.Steps); {
		// A run of queries is read-only: spread it over the sessions.
		j := i
		for j < len(f.Steps) && f.Steps[j].Answer != nil && !f.Steps[j].Mutation {
			j++
		}
		if j == i {
			j = i + 1
		}
		run := f.Steps[i:j]
		got := make([]string, len(run))
		errs := make([]error, len(run))
		var wg sync.WaitGroup
		next := make(chan int)
		for _, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range next {
					got[k], errs[k] = query(s, run[k].SQL)
					if errs[k] == nil && run[k].Mutation {
						errs[k] = waitMutations(s)
					}
				}
			}()
		}
		for k := range run {
			next <- k
		}
		close(next)
		wg.Wait()
		for k, st := range run {
			t := byPart[st.Part]
			if t == nil {
				t = &tally{part: st.Part}
				byPart[st.Part] = t
				tallies = append(tallies, t)
			}
			t.statements++
			if st.Answer != nil {
				t.compared++
			}
			switch {
			case errs[k] != nil:
				t.different++
				failed = true
				report(st, "error: "+errs[k].Error(), "")
			case st.Answer != nil && !same(st.SQL, *st.Answer, got[k]):
				t.different++
				failed = true
				report(st, "different answer", got[k])
			}
		}
		i = j
	}
	var statements, compared, different int
	for _, t := range tallies {
		statements += t.statements
		compared += t.compared
		different += t.different
	}
	fmt.Printf("%s vs ClickHouse %s, %s: %d statements run, %d answers compared, %d different (%.1f s)\n",
		version, f.Server, base, statements, compared, different, time.Since(start).Seconds())
	for _, t := range tallies {
		fmt.Printf("    %-40s %5d statements, %5d answers compared, %d different\n", t.part, t.statements, t.compared, t.different)
	}
	return !failed, nil
}

// query runs q in session s and returns its answer as TabSeparated.
func query(s *chdb.Session, q string) (string, error) {
	r, err := s.Query(q, "TabSeparated")
	if err != nil {
		return "", err
	}
	defer r.Free()
	if err := r.Error(); err != nil {
		return "", err
	}
	return r.String(), nil
}

// waitMutations waits until the session's database has no unfinished
// mutation, as the recording did after each mutation.
func waitMutations(s *chdb.Session) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n, err := query(s, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0")
		if err != nil {
			return err
		}
		if strings.TrimSpace(n) == "0" {
			return nil
		}
	}
	return fmt.Errorf("mutations still pending after 30 s")
}

// same compares two answers. Rows of a statement without ORDER BY may
// come in any order.
func same(sql, want, got string) bool {
	if want == got {
		return true
	}
	return !strings.Contains(sql, "ORDER BY") && slices.Equal(sortedLines(want), sortedLines(got))
}

func sortedLines(s string) []string {
	lines := strings.Split(s, "\n")
	sort.Strings(lines)
	return lines
}
