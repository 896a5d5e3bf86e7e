// Package chrecord records the statements crumb sends to the test server
// (ClickHouse 18.16), each with the server's answer, into a file that
// server/testkit/chcompat replays on current ClickHouse (chDB) to compare the
// answers. Tests record only when CRUMB_CHCOMPAT_DIR names a folder for the
// files; make test sets it.
package chrecord

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

// DirEnv names the folder the recordings are written to.
const DirEnv = "CRUMB_CHCOMPAT_DIR"

// File is one recording. server/testkit/chcompat reads it with a copy of these types.
type File struct {
	// Server is the version of the server that answered.
	Server string `json:"server"`
	// Database is the database the statements ran in; some name it.
	Database string `json:"database"`
	Steps    []Step `json:"steps"`
}

// Step is one statement, run in order.
type Step struct {
	// Part names what the statement belongs to ("migration", "dashboard",
	// "erasure"…), for the check's counts and messages.
	Part string `json:"part"`
	SQL  string `json:"sql"`
	// Answer is the server's answer as TabSeparated, for statements that
	// return rows; nil for those run for their effect.
	Answer *string `json:"answer,omitempty"`
	// Mutation says that the statement starts mutations: the answers
	// after it were taken once every mutation of the database was done.
	Mutation bool `json:"mutation,omitempty"`
}

// Recorder collects the steps of one recording.
type Recorder struct {
	t   testing.TB
	db  *clickhouse.DB
	srv *chserver.Server // the test server, asked over HTTP

	mu   sync.Mutex
	part string
	seen map[string]bool
	file File
}

// Skip skips the test unless CRUMB_CHCOMPAT_DIR is set.
func Skip(t testing.TB) {
	t.Helper()
	if os.Getenv(DirEnv) == "" {
		t.Skip("set " + DirEnv + "=folder to record statements for server/testkit/chcompat")
	}
}

// New returns a recorder of statements on db, a database of the test server
// (chtest.DB). It skips the test unless CRUMB_CHCOMPAT_DIR is set.
func New(t testing.TB, db *clickhouse.DB) *Recorder {
	t.Helper()
	Skip(t)
	srv := chtest.LocalServer(t)
	if srv == nil || srv.HTTPAddr() == "" {
		t.Skip("needs the test's own ClickHouse server (its HTTP interface)")
	}
	r := &Recorder{t: t, db: db, srv: srv, seen: map[string]bool{}}
	v, err := db.Version()
	if err != nil {
		t.Fatal(err)
	}
	r.file.Server, r.file.Database = v.String(), db.Database()
	return r
}

// Part names the part the following steps belong to.
func (r *Recorder) Part(name string) {
	r.mu.Lock()
	r.part = name
	r.mu.Unlock()
}

// Exec records a statement that was run for its effect.
func (r *Recorder) Exec(sql string) { r.add(Step{SQL: sql}) }

// Query runs sql on the test server and records it with its answer. A
// statement already recorded in the current part is not recorded again.
func (r *Recorder) Query(sql string) {
	r.mu.Lock()
	key := r.part + "\x00" + sql
	dup := r.seen[key]
	r.seen[key] = true
	r.mu.Unlock()
	if dup {
		return
	}
	answer, err := r.ask(sql + "\nFORMAT TabSeparated")
	if err != nil {
		r.t.Errorf("chrecord: %v\n%s", err, sql)
		return
	}
	r.add(Step{SQL: sql, Answer: &answer})
}

// Migrations records every migration's statements, split as crumb's
// migrator splits them.
func (r *Recorder) Migrations() {
	migs, err := migrations.All()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, m := range migs {
		r.Part(fmt.Sprintf("migration %04d_%s", m.Version, m.Name))
		stmts, err := m.Statements(migrations.Target{})
		if err != nil {
			r.t.Fatal(err)
		}
		for _, s := range stmts {
			r.Exec(s)
		}
	}
}

// Rows records the rows stored in tables as one INSERT per table.
func (r *Recorder) Rows(tables ...string) {
	for _, table := range tables {
		values, err := r.ask("SELECT * FROM " + table + " FORMAT Values")
		if err != nil {
			r.t.Fatal(err)
		}
		if values != "" {
			r.Exec("INSERT INTO " + table + " VALUES " + values)
		}
	}
}

// Write saves the recording as name.json in the CRUMB_CHCOMPAT_DIR folder.
func (r *Recorder) Write(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.MarshalIndent(r.file, "", " ")
	if err != nil {
		r.t.Fatal(err)
	}
	dir := os.Getenv(DirEnv)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("%d statements recorded in %s", len(r.file.Steps), path)
}

func (r *Recorder) add(s Step) {
	r.mu.Lock()
	s.Part = r.part
	r.file.Steps = append(r.file.Steps, s)
	r.mu.Unlock()
}

// ask sends q to the test server's HTTP interface, in the recorder's
// database.
func (r *Recorder) ask(q string) (string, error) {
	u := "http://" + r.srv.HTTPAddr() + "/?database=" + url.QueryEscape(r.db.Database())
	req, err := http.NewRequest("POST", u, strings.NewReader(q))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(chserver.User, r.srv.Password())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s", b)
	}
	return string(b), nil
}

// waitMutations waits until the database has no unfinished mutation.
func (r *Recorder) waitMutations() {
	q := "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, err := r.ask(q)
		if err != nil {
			r.t.Fatal(err)
		}
		if strings.TrimSpace(n) == "0" {
			return
		}
	}
	r.t.Fatal("chrecord: mutations still pending after 30 s")
}

// Conn wraps a connection so that the statements sent through it are
// recorded: queries with their answers, other statements for their effect
// (a mutation is waited for, so that later answers see it), and batch
// inserts as INSERT … VALUES statements.
func (r *Recorder) Conn(c driver.Conn) driver.Conn { return &conn{Conn: c, r: r} }

type conn struct {
	driver.Conn
	r *Recorder
}

func (c *conn) Exec(ctx context.Context, query string, args ...any) error {
	if err := c.Conn.Exec(ctx, query, args...); err != nil {
		return err
	}
	sql := c.r.render(query, args)
	mutation := isMutation(sql)
	if mutation {
		c.r.waitMutations()
	}
	c.r.add(Step{SQL: sql, Mutation: mutation})
	return nil
}

func (c *conn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	c.r.Query(c.r.render(query, args))
	return c.Conn.Query(ctx, query, args...)
}

func (c *conn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	c.r.Query(c.r.render(query, args))
	return c.Conn.QueryRow(ctx, query, args...)
}

func (c *conn) Select(ctx context.Context, dest any, query string, args ...any) error {
	c.r.Query(c.r.render(query, args))
	return c.Conn.Select(ctx, dest, query, args...)
}

func (c *conn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	b, err := c.Conn.PrepareBatch(ctx, query, opts...)
	if err != nil {
		return nil, err
	}
	return &batch{Batch: b, r: c.r, insert: query}, nil
}

type batch struct {
	driver.Batch
	r      *Recorder
	insert string
	rows   []string
	cols   [][]any // values appended column by column (Column)
}

// Column records values appended column by column; Send turns them into
// rows.
func (b *batch) Column(i int) driver.BatchColumn {
	for len(b.cols) <= i {
		b.cols = append(b.cols, nil)
	}
	return &column{BatchColumn: b.Batch.Column(i), b: b, i: i}
}

type column struct {
	driver.BatchColumn
	b *batch
	i int
}

func (c *column) Append(v any) error {
	if err := c.BatchColumn.Append(v); err != nil {
		return err
	}
	rv := reflect.ValueOf(v)
	for j := 0; j < rv.Len(); j++ {
		c.b.cols[c.i] = append(c.b.cols[c.i], rv.Index(j).Interface())
	}
	return nil
}

func (c *column) AppendRow(v any) error {
	if err := c.BatchColumn.AppendRow(v); err != nil {
		return err
	}
	c.b.cols[c.i] = append(c.b.cols[c.i], v)
	return nil
}

// columnRows turns the values appended by column into rows.
func (b *batch) columnRows() {
	if len(b.cols) == 0 {
		return
	}
	for r := range b.cols[0] {
		lits := make([]string, len(b.cols))
		for k, col := range b.cols {
			if r >= len(col) {
				b.r.t.Errorf("chrecord: %s: column %d has %d values, column 0 has %d", b.insert, k, len(col), len(b.cols[0]))
				return
			}
			l, err := Literal(col[r])
			if err != nil {
				b.r.t.Errorf("chrecord: %s: %v", b.insert, err)
			}
			lits[k] = l
		}
		b.rows = append(b.rows, "("+strings.Join(lits, ", ")+")")
	}
}

func (b *batch) Append(v ...any) error {
	if err := b.Batch.Append(v...); err != nil {
		return err
	}
	lits := make([]string, len(v))
	for i, x := range v {
		l, err := Literal(x)
		if err != nil {
			b.r.t.Errorf("chrecord: %s: %v", b.insert, err)
		}
		lits[i] = l
	}
	b.rows = append(b.rows, "("+strings.Join(lits, ", ")+")")
	return nil
}

// AppendStruct is not recorded: crumb appends values.
func (b *batch) AppendStruct(v any) error {
	b.r.t.Errorf("chrecord: %s: rows appended with AppendStruct are not recorded", b.insert)
	return b.Batch.AppendStruct(v)
}

func (b *batch) Send() error {
	if err := b.Batch.Send(); err != nil {
		return err
	}
	b.columnRows()
	b.r.Exec(b.insert + " VALUES " + strings.Join(b.rows, ", "))
	return nil
}

func (r *Recorder) render(query string, args []any) string {
	s, err := Render(query, args...)
	if err != nil {
		r.t.Errorf("chrecord: %v", err)
	}
	return s
}

func isMutation(sql string) bool {
	s := strings.ToUpper(strings.TrimSpace(sql))
	return strings.HasPrefix(s, "DELETE FROM") ||
		strings.HasPrefix(s, "ALTER TABLE") && (strings.Contains(s, " DELETE ") || strings.Contains(s, " UPDATE "))
}

// Render binds args into sql's ? placeholders as literals, as clickhouse-go
// does.
func Render(sql string, args ...any) (string, error) {
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
			lit, err := Literal(args[i])
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

// Literal writes v as a ClickHouse literal.
func Literal(v any) (string, error) {
	quote := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(s) + "'"
	}
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case uuid.UUID:
		return quote(x.String()), nil
	case time.Time:
		return "toDateTime(" + quote(x.UTC().Format(time.DateTime)) + ", 'UTC')", nil
	case ch.GroupSet:
		parts := make([]string, len(x.Value))
		for i, s := range x.Value {
			l, err := Literal(s)
			if err != nil {
				return "", err
			}
			parts[i] = l
		}
		return "(" + strings.Join(parts, ", ") + ")", nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return quote(rv.String()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprint(v), nil
	case reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			l, err := Literal(rv.Index(i).Interface())
			if err != nil {
				return "", err
			}
			parts[i] = l
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("no literal for %T", v)
}
