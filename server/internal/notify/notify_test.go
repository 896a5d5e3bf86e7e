package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/notify"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
	"github.com/crumbhq/crumb/server/testkit/smtptest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// sites serves a fixed set of sites.
type sites map[string]*model.Site

func (s sites) Get(_ context.Context, id string) (*model.Site, bool) { v, ok := s[id]; return v, ok }
func (s sites) All() []*model.Site {
	var out []*model.Site
	for _, v := range s {
		out = append(out, v)
	}
	return out
}

func service(t *testing.T, db *clickhouse.DB, ss sites, smtpURL string, now time.Time, node string) *notify.Service {
	t.Helper()
	m, err := notify.NewMailer(smtpURL, "crumb@example.test")
	if err != nil {
		t.Fatal(err)
	}
	rep := report.New(db.Conn(), ss, report.Options{Now: func() time.Time { return now }})
	return &notify.Service{Store: db, Sites: ss, Report: rep, Mailer: m, PublicURL: "https://crumb.example.test", Node: node,
		Now: func() time.Time { return now }}
}

// TestDigest_ArrivesWithTheNumbers: a digest of the fixture's known days
// goes through a real SMTP server (with AUTH) and carries the report
// layer's numbers in both parts, the comparison, the top rows, the
// consent rate and the goals, with a working unsubscribe link.
func TestDigest_ArrivesWithTheNumbers(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	srv := smtptest.Start(t)
	srv.User, srv.Password = "crumb", "s3cret-pass"
	ctx := context.Background()
	ss := sites{f.Site.ID: &f.Site}
	n := service(t, db, ss, srv.URL(), reporttest.Now, "a")
	p := notify.Period{Name: "8 to 10 March", From: reporttest.From, To: reporttest.To, Key: "test"}
	if err := n.SendDigest(ctx, &f.Site, "owner@example.test", p, "test"); err != nil {
		t.Fatal(err)
	}
	m := srv.Wait(t, 1)[0]
	if m.From != "crumb@example.test" || len(m.To) != 1 || m.To[0] != "owner@example.test" {
		t.Errorf("envelope from %s to %v", m.From, m.To)
	}
	// The numbers the dashboard shows for the same days.
	q := query.Query{Site: f.Site.ID, From: p.From, To: p.To, Interval: query.Day, Compare: true}
	o, err := n.Report.Overview(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if o.Metrics.Visitors != 8 {
		t.Fatalf("the fixture has %d visitors", o.Metrics.Visitors)
	}
	subject := m.Header.Get("Subject")
	if !strings.Contains(subject, "Fixture: 8 visitors") {
		t.Errorf("subject %q", subject)
	}
	for label, want := range map[string]int64{"Visitors": o.Metrics.Visitors, "Visits": o.Metrics.Visits, "Page views": o.Metrics.Pageviews} {
		if got := lineValue(m.Text, label); got != fmt.Sprint(want) {
			t.Errorf("%s: %q in the text, the report says %d", label, got, want)
		}
	}
	for _, want := range []string{
		"Bounce rate", "/pricing", "Google", "Signup", "Analytics consent:",
		"https://crumb.example.test/dashboard/?compare=1&from=2026-03-08&period=custom&site=fx&to=2026-03-10",
		"Unsubscribe: https://crumb.example.test/unsubscribe/",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, m.Text)
		}
	}
	for _, want := range []string{">8<", ">Visitors<", ">/pricing<", "Open the dashboard", "max-width:560px"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the HTML part lacks %q", want)
		}
	}
	if !strings.Contains(m.Header.Get("List-Unsubscribe"), "/unsubscribe/") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("unsubscribe headers %q %q", m.Header.Get("List-Unsubscribe"), m.Header.Get("List-Unsubscribe-Post"))
	}
	// The link's token unsubscribes; the address gets nothing more.
	token := m.Header.Get("List-Unsubscribe")
	token = strings.TrimSuffix(token[strings.LastIndex(token, "/")+1:], ">")
	if _, ok, err := n.Unsubscribe(ctx, token); err != nil || !ok {
		t.Fatalf("unsubscribe: %v %v", ok, err)
	}
	if err := n.SendDigest(ctx, &f.Site, "owner@example.test", p, "test"); err != notify.ErrUnsubscribed {
		t.Errorf("a digest to an unsubscribed address: %v", err)
	}
	if _, ok, _ := n.Unsubscribe(ctx, strings.Repeat("0", 48)); ok {
		t.Error("an unknown token unsubscribed someone")
	}
	// A wrong password is an error, not a silent loss.
	srv.Password = "other"
	if err := n.SendDigest(ctx, &f.Site, "second@example.test", p, "test"); err == nil || !strings.Contains(err.Error(), "smtp") {
		t.Errorf("send with a wrong password: %v", err)
	}
}

// TestDigest_OncePerPeriodOnSeveralNodes: three nodes run the schedule at
// once: each subscriber gets the last week's digest exactly once; a run
// after the nodes were down still sends the missed one, once.
func TestDigest_OncePerPeriodOnSeveralNodes(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	srv := smtptest.Start(t)
	ctx := context.Background()
	ss := sites{f.Site.ID: &f.Site}
	// Wednesday 18 March 2026: the week of 9 March is due (Monday's run
	// was missed).
	now := time.Date(2026, 3, 18, 9, 0, 0, 0, time.UTC)
	first := service(t, db, ss, srv.URL(), now, "n0")
	for _, to := range []string{"weekly@example.test", "monthly@example.test", "other@example.test"} {
		every := "week"
		if strings.HasPrefix(to, "monthly") {
			every = "month"
		}
		if _, err := first.Subscribe(ctx, f.Site.ID, to, every, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := first.Unsubscribe(ctx, mustRecipient(t, first, f.Site.ID, "other@example.test").Token); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := service(t, db, ss, srv.URL(), now, fmt.Sprint("n", i))
			if _, err := n.RunDigests(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	got := srv.Messages()
	// The weekly subscriber: the week of 9 March; the monthly one:
	// February; the one who unsubscribed: nothing.
	byTo := map[string][]string{}
	for _, m := range got {
		byTo[m.To[0]] = append(byTo[m.To[0]], m.Header.Get("Subject"))
	}
	if len(got) != 2 || len(byTo["weekly@example.test"]) != 1 || len(byTo["monthly@example.test"]) != 1 {
		t.Fatalf("messages: %v", byTo)
	}
	if !strings.Contains(byTo["weekly@example.test"][0], "week of 9 Mar 2026") || !strings.Contains(byTo["monthly@example.test"][0], "February 2026") {
		t.Errorf("subjects %v", byTo)
	}
	// Later runs of the same week send nothing more.
	if n, err := service(t, db, ss, srv.URL(), now.Add(time.Hour), "n1").RunDigests(ctx); err != nil || n != 0 {
		t.Errorf("a second run sent %d (%v)", n, err)
	}
}

// lineValue is the value after label on its line of the text part.
func lineValue(text, label string) string {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, label+" "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return ""
}

func mustRecipient(t *testing.T, n *notify.Service, site, to string) model.Recipient {
	t.Helper()
	r, ok, err := n.RecipientOf(ctx(), site, to)
	if err != nil || !ok {
		t.Fatalf("recipient %s: %v %v", to, ok, err)
	}
	return r
}

func ctx() context.Context { return context.Background() }

// TestAlert_FiresOnceForASpike: 12 visitors in the last minutes trip an
// alert "above 10 for 3 minutes": its signed webhook and its e-mail go out
// once, though two nodes check twice; an alert whose condition did not
// hold long enough stays quiet.
func TestAlert_FiresOnceForASpike(t *testing.T) {
	db := chtest.DB(t)
	srv := smtptest.Start(t)
	now := time.Date(2026, 5, 4, 12, 30, 0, 0, time.UTC)
	site := model.NewSite("spiky", "spiky.test", "Spiky", now.AddDate(0, -1, 0))
	site.Alerts = []model.Alert{
		{Name: "spike", Direction: "above", Threshold: 10, Minutes: 3, Emails: []string{"ops@example.test"}, Webhook: "", Secret: "0123456789abcdef"},
		{Name: "long spike", Direction: "above", Threshold: 10, Minutes: 30, Emails: []string{"ops@example.test"}},
		{Name: "quiet", Direction: "below", Threshold: 2, Minutes: 5, Emails: []string{"ops@example.test"}},
	}
	var (
		mu    sync.Mutex
		hooks []notify.AlertPayload
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Crumb-Signature") != notify.Signature("0123456789abcdef", body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p notify.AlertPayload
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		hooks = append(hooks, p)
		mu.Unlock()
	}))
	defer hook.Close()
	site.Alerts[0].Webhook = hook.URL
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	// 12 visitors, each with a page view every minute of the last 10.
	var events []model.Event
	for v := 0; v < 12; v++ {
		id, s := uuid.New(), uuid.New()
		for m := 0; m < 10; m++ {
			events = append(events, model.Event{ID: uuid.New(), SiteID: site.ID, Time: now.Add(-time.Duration(m) * time.Minute), Type: model.Pageview,
				VisitorID: id, SessionID: s, Hostname: "spiky.test", Path: "/"})
		}
	}
	if err := db.InsertEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	ss := sites{site.ID: &site}
	n := service(t, db, ss, srv.URL(), now, "a")
	cur, err := n.Report.CurrentVisitors(context.Background(), site.ID, 30)
	if err != nil {
		t.Fatal(err)
	}
	if cur[0] != 12 || cur[9] != 12 || cur[10] != 0 {
		t.Fatalf("current visitors by minute: %v", cur)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 2; r++ {
				if _, err := service(t, db, ss, srv.URL(), now.Add(time.Duration(r)*time.Minute), fmt.Sprint("n", i)).RunAlerts(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	mails := srv.Wait(t, 1)
	time.Sleep(200 * time.Millisecond)
	if mails = srv.Messages(); len(mails) != 1 || !strings.Contains(mails[0].Header.Get("Subject"), "Spiky has 12 current visitors") {
		t.Fatalf("%d alert mails: %v", len(mails), mails)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != 1 || hooks[0].Alert != "spike" || hooks[0].CurrentVisitors != 12 || hooks[0].Threshold != 10 {
		t.Fatalf("webhooks: %+v", hooks)
	}
}

// TestAlert_DeliveredSomewhereIsSent: an alert whose webhook works and
// whose address the SMTP server refuses counts as sent, so the webhook does
// not get it again within the hour (it used to, each time the claim went
// stale).
func TestAlert_DeliveredSomewhereIsSent(t *testing.T) {
	db := chtest.DB(t)
	srv := smtptest.Start(t)
	now := time.Date(2026, 5, 4, 12, 30, 0, 0, time.UTC)
	site := model.NewSite("halfway", "halfway.test", "Halfway", now.AddDate(0, -1, 0))
	var (
		mu    sync.Mutex
		hooks int
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hooks++
		mu.Unlock()
	}))
	defer hook.Close()
	site.Alerts = []model.Alert{{Name: "spike", Direction: "above", Threshold: 10, Minutes: 3,
		Emails: []string{"nobody@" + smtptest.RejectedDomain}, Webhook: hook.URL, Secret: "0123456789abcdef"}}
	if err := site.Validate(); err != nil {
		t.Fatal(err)
	}
	// 12 visitors, each with a page view every minute from 10 minutes
	// before now to 40 after.
	var events []model.Event
	for v := 0; v < 12; v++ {
		id, s := uuid.New(), uuid.New()
		for m := -10; m <= 40; m++ {
			events = append(events, model.Event{ID: uuid.New(), SiteID: site.ID, Time: now.Add(time.Duration(m) * time.Minute), Type: model.Pageview,
				VisitorID: id, SessionID: s, Hostname: "halfway.test", Path: "/"})
		}
	}
	if err := db.InsertEvents(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	ss := sites{site.ID: &site}
	if _, err := service(t, db, ss, srv.URL(), now, "a").RunAlerts(context.Background()); err == nil || !strings.Contains(err.Error(), "no such mailbox") {
		t.Fatalf("the refused address: %v", err)
	}
	// Half an hour later, in the next hour: still within an hour of the
	// first delivery.
	if _, err := service(t, db, ss, srv.URL(), now.Add(31*time.Minute), "b").RunAlerts(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hooks != 1 {
		t.Errorf("the webhook got the alert %d times, want once", hooks)
	}
}

// A bad SMTP URL is refused without repeating its password.
func TestNewMailer_BadURLKeepsThePassword(t *testing.T) {
	for _, raw := range []string{"smtp://user:p%zzsecret@mail.example.test", "smtp://user:secret@mail.example.test:port"} {
		_, err := notify.NewMailer(raw, "crumb@example.test")
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v", raw, err)
		}
	}
}

// A week's digest is due from 01:00 UTC on the Monday after it.
func TestDue_AnHourAfterThePeriod(t *testing.T) {
	mon := time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)
	for at, want := range map[time.Duration]string{30 * time.Minute: "2026-03-02", time.Hour: "2026-03-09", 25 * time.Hour: "2026-03-09"} {
		p, ok := notify.Due("week", mon.Add(at))
		if !ok || p.From.Format("2006-01-02") != want {
			t.Errorf("due at %s: the week from %s, want %s", mon.Add(at).Format(time.DateTime), p.From.Format("2006-01-02"), want)
		}
	}
}
