package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crumbhq/crumb/server/internal/chtest"
	"github.com/crumbhq/crumb/server/internal/report/reporttest"
)

// TestDump_ForCurrentClickHouse records, for a check on current
// ClickHouse, the fixture's rows and every statement the report layer
// makes with its answer on the test server (18.16). It runs only with
// CRUMB_REPORT_DUMP=file.json; testdata/chdbcheck replays the file on
// ClickHouse 26 (chDB) and compares the answers.
func TestDump_ForCurrentClickHouse(t *testing.T) {
	out := os.Getenv("CRUMB_REPORT_DUMP")
	if out == "" {
		t.Skip("set CRUMB_REPORT_DUMP=file.json to record the statements for testdata/chdbcheck")
	}
	srv := chtest.LocalServer(t)
	if srv == nil {
		t.Skip("needs the test's own ClickHouse server (its HTTP interface)")
	}
	conn := chtest.DB(t)
	dbName := conn.Database()
	f := reporttest.Load(t, conn)
	httpQuery := func(q string) (string, error) {
		u := "http://" + srv.HTTPAddr() + "/?database=" + url.QueryEscape(dbName)
		res, err := http.Post(u, "text/plain", strings.NewReader(q))
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return "", fmt.Errorf("%s", b)
		}
		return string(b), nil
	}
	var dump struct {
		Inserts []string `json:"inserts"`
		Queries []struct {
			SQL string `json:"sql"`
			TSV string `json:"tsv"`
		} `json:"queries"`
	}
	for _, table := range []string{"sites", "events", "consent_decisions", "consent_impressions"} {
		values, err := httpQuery("SELECT * FROM " + table + " FORMAT Values")
		if err != nil {
			t.Fatal(err)
		}
		dump.Inserts = append(dump.Inserts, "INSERT INTO "+table+" VALUES "+values)
	}
	seen := map[string]bool{}
	var mu sync.Mutex
	svc := New(conn.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }})
	svc.trace = func(sql string, args []any) {
		r, err := render(sql, args)
		if err != nil {
			t.Errorf("render: %v", err)
			return
		}
		mu.Lock()
		seen[r] = true
		mu.Unlock()
	}
	runJobs(t, everyQuery(context.Background(), svc, f), 2)
	sampled := New(conn.Conn(), reporttest.Sites{f.Site.ID: &f.Site}, Options{Now: func() time.Time { return reporttest.Now }, SessionSampleEvents: 1, FilterSampleEvents: 1})
	sampled.trace = svc.trace
	runJobs(t, everyQuery(context.Background(), sampled, f)[:60], 2)
	var sqls []string
	for s := range seen {
		sqls = append(sqls, s)
	}
	sort.Strings(sqls)
	for _, s := range sqls {
		tsv, err := httpQuery(s + " FORMAT TabSeparated")
		if err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
		dump.Queries = append(dump.Queries, struct {
			SQL string `json:"sql"`
			TSV string `json:"tsv"`
		}{s, tsv})
	}
	b, err := json.MarshalIndent(dump, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d statements written to %s", len(sqls), out)
}

// render binds args into sql as literals, as clickhouse-go does.
func render(sql string, args []any) (string, error) {
	var b strings.Builder
	i := 0
	inQuote := false
	for j := 0; j < len(sql); j++ {
		c := sql[j]
		switch {
		case c == '\\' && inQuote:
			b.WriteByte(c)
			j++
			if j < len(sql) {
				b.WriteByte(sql[j])
			}
			continue
		case c == '\'':
			inQuote = !inQuote
		case c == '?' && !inQuote:
			if i >= len(args) {
				return "", fmt.Errorf("more placeholders than arguments in %s", sql)
			}
			lit, err := literal(args[i])
			if err != nil {
				return "", err
			}
			b.WriteString(lit)
			i++
			continue
		}
		b.WriteByte(c)
	}
	if i != len(args) {
		return "", fmt.Errorf("%d arguments for %d placeholders in %s", len(args), i, sql)
	}
	return b.String(), nil
}

func literal(v any) (string, error) {
	quote := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(s) + "'"
	}
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case int:
		return fmt.Sprint(x), nil
	case uint64:
		return fmt.Sprint(x), nil
	case time.Time:
		return "toDateTime(" + quote(x.UTC().Format("2006-01-02 15:04:05")) + ", 'UTC')", nil
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case ch.GroupSet:
		parts := make([]string, len(x.Value))
		for i, s := range x.Value {
			l, err := literal(s)
			if err != nil {
				return "", err
			}
			parts[i] = l
		}
		return "(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", fmt.Errorf("no literal for %T", v)
}
