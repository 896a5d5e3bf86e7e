package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// userEnv is a migrated database and the crumb command over it.
type userEnv struct {
	t   *testing.T
	url string
	db  *clickhouse.DB
	dir string
}

func newUserEnv(t *testing.T) *userEnv {
	t.Helper()
	url := chtest.NewDatabaseURL(t)
	db, err := clickhouse.Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &userEnv{t: t, url: url, db: db, dir: t.TempDir()}
}

// crumb runs the command with --clickhouse-url and returns its output.
func (e *userEnv) crumb(args ...string) (string, error) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(args, "--clickhouse-url", e.url, "--log-level", "warn"), &out, &errOut)
	return out.String(), err
}

// passwordFile writes pw into a file and returns its path.
func (e *userEnv) passwordFile(pw string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// login logs in as a dashboard would and returns the session cookie.
func (e *userEnv) login(email, pw string) (string, error) {
	a := auth.New(e.db, []byte("0123456789abcdef0123456789abcdef"), nil)
	return a.Login(context.Background(), email, pw, netip.MustParseAddr("81.2.69.160"))
}

func (e *userEnv) liveSessions(email string) int {
	e.t.Helper()
	list, err := e.db.Sessions(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, s := range list {
		if s.Email == email {
			n++
		}
	}
	return n
}

func TestUserCommands_PasswordAndRemoveEndSessions(t *testing.T) {
	e := newUserEnv(t)
	if out, err := e.crumb("user", "add", "--email", "Ana@Example.org", "--role", "admin", "--password-file", e.passwordFile("first password")); err != nil || !strings.Contains(out, "user ana@example.org saved (admin)") {
		t.Fatalf("user add: %q, %v", out, err)
	}
	if _, err := e.crumb("user", "add", "--email", "bob@example.org", "--password", "bob's password"); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"ana@example.org", "ana@example.org", "bob@example.org"} {
		pw := map[bool]string{true: "first password", false: "bob's password"}[strings.HasPrefix(who, "ana")]
		if _, err := e.login(who, pw); err != nil {
			t.Fatalf("login %s: %v", who, err)
		}
	}
	out, err := e.crumb("user", "list")
	if err != nil || !regexpLine(out, `ana@example.org\s+admin\s+2\s`) || !regexpLine(out, `bob@example.org\s+viewer\s+1\s`) {
		t.Fatalf("user list:\n%s%v", out, err)
	}

	// The e-mail as an argument, before or after the flags.
	out, err = e.crumb("user", "password", "ana@example.org", "--password-file", e.passwordFile("second password"))
	if err != nil || !strings.Contains(out, "password of ana@example.org changed; 2 sessions ended") {
		t.Fatalf("user password: %q, %v", out, err)
	}
	if n := e.liveSessions("ana@example.org"); n != 0 {
		t.Fatalf("ana has %d live sessions after a new password", n)
	}
	if _, err := e.login("ana@example.org", "first password"); err == nil {
		t.Fatal("the old password still works")
	}
	if _, err := e.login("ana@example.org", "second password"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if n := e.liveSessions("bob@example.org"); n != 1 {
		t.Fatalf("bob has %d live sessions, want 1", n)
	}

	out, err = e.crumb("user", "remove", "--log-format", "text", "bob@example.org")
	if err != nil || !strings.Contains(out, "user bob@example.org removed") {
		t.Fatalf("user remove: %q, %v", out, err)
	}
	if n := e.liveSessions("bob@example.org"); n != 0 {
		t.Fatalf("bob has %d live sessions after removal", n)
	}
	if out, _ := e.crumb("user", "list"); strings.Contains(out, "bob@") {
		t.Fatalf("bob still listed:\n%s", out)
	}
	if _, err := e.login("bob@example.org", "bob's password"); err == nil {
		t.Fatal("a removed user logs in")
	}
}

func TestUserCommands_ReadThePasswordFromStandardInput(t *testing.T) {
	e := newUserEnv(t)
	if _, err := e.crumb("user", "add", "--email", "ana@example.org", "--password", "first password"); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("typed password\n")
	w.Close()
	stdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = stdin }()
	if out, err := e.crumb("user", "password", "ana@example.org"); err != nil || !strings.Contains(out, "changed") {
		t.Fatalf("user password from stdin: %q, %v", out, err)
	}
	if _, err := e.login("ana@example.org", "typed password"); err != nil {
		t.Fatalf("the typed password: %v", err)
	}
}

func TestUserCommands_RefuseBadInput(t *testing.T) {
	e := newUserEnv(t)
	if _, err := e.crumb("user", "add", "--email", "ana@example.org", "--password", "first password"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"user", "remove", "nobody@example.org"}, `no user "nobody@example.org"`},
		{[]string{"user", "remove"}, "name the login's e-mail"},
		{[]string{"user", "password", "nobody@example.org", "--password", "long enough pw"}, `no user "nobody@example.org"`},
		{[]string{"user", "password", "ana@example.org", "--password", "short"}, "at least 10 characters"},
		{[]string{"user", "password", "ana@example.org", "--password-file", filepath.Join(e.dir, "missing")}, "--password-file"},
		{[]string{"user", "remove", "ana@example.org", "bob@example.org"}, `unexpected argument "bob@example.org"`},
		{[]string{"user", "disable"}, `unknown command "disable"`},
	} {
		if _, err := e.crumb(tc.args...); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("crumb %s: %v, want %q", strings.Join(tc.args, " "), err, tc.msg)
		}
	}
	if out, _ := e.crumb("user", "list"); !strings.Contains(out, "ana@example.org") {
		t.Fatalf("a refused command changed the logins:\n%s", out)
	}
}

// regexpLine reports whether a line of out matches pattern.
func regexpLine(out, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range strings.Split(out, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

func TestCommands_AWrongClickHousePasswordFailsAtOnce(t *testing.T) {
	e := newUserEnv(t)
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("default", "not-the-password")
	wrong := u.String()
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"user", "list", "--clickhouse-url", wrong, "--log-level", "warn"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "check the user and password") {
		t.Fatalf("crumb user list with a wrong password: %v, want the login named as the problem", err)
	}
	if strings.Contains(errOut.String(), "retrying") {
		t.Errorf("a refused login was retried:\n%s", errOut.String())
	}
}

// The site list shows every domain a site takes events from.
func TestSiteList_ShowsEveryDomain(t *testing.T) {
	e := newUserEnv(t)
	out, err := e.crumb("site", "add", "--domain", "shop.example", "--name", "Shop")
	if err != nil {
		t.Fatal(err, out)
	}
	list, err := e.db.Sites(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("%d sites, %v", len(list), err)
	}
	if out, err := e.crumb("site", "update", "--id", list[0].ID, "--extra-domains", "shop.example.org,127.0.0.1"); err != nil {
		t.Fatal(err, out)
	}
	out, err = e.crumb("site", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "MORE DOMAINS") || !strings.Contains(out, "shop.example.org,127.0.0.1") {
		t.Errorf("site list:\n%s", out)
	}
}

// Visitors are asked again when the banner asks about a category they
// never answered, and a policy version never goes back (older decisions
// would count again).
func TestSiteUpdate_PolicyVersionFollowsTheQuestions(t *testing.T) {
	e := newUserEnv(t)
	if out, err := e.crumb("site", "add", "--domain", "shop.example"); err != nil {
		t.Fatal(err, out)
	}
	list, _ := e.db.Sites(context.Background())
	id := list[0].ID
	if out, err := e.crumb("site", "update", "--id", id, "--categories", "performance"); err != nil || !strings.Contains(out, "policy version 1") {
		t.Fatalf("fewer categories: %v %s", err, out)
	}
	out, err := e.crumb("site", "update", "--id", id, "--categories", "performance,targeting")
	if err != nil || !strings.Contains(out, "policy version 2; the banner now asks about targeting") {
		t.Fatalf("a new category: %v %s", err, out)
	}
	if out, err := e.crumb("site", "update", "--id", id, "--policy-version", "1"); err == nil || !strings.Contains(err.Error(), "only goes up") {
		t.Fatalf("a lower version: %v %s", err, out)
	}
	if out, err := e.crumb("site", "update", "--id", id, "--retention-months", "36"); err == nil || !strings.Contains(err.Error(), "at least 43 months") {
		t.Fatalf("events kept longer than their proof: %v %s", err, out)
	}
}
