package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/banner"
	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/rdns"
	"github.com/crumbhq/crumb/server/internal/referrer"
	"github.com/crumbhq/crumb/server/internal/useragent"
)

// recBuffer keeps what it is given, or answers err.
type recBuffer struct {
	err  error
	recs []buffer.Record
}

func (b *recBuffer) Append(recs ...buffer.Record) error {
	if b.err != nil {
		return b.err
	}
	b.recs = append(b.recs, recs...)
	return nil
}

// recCounter records every count as "accept kind n" or "drop reason n".
type recCounter struct{ log []string }

func (c *recCounter) Accept(kind string, n int) {
	c.log = append(c.log, fmt.Sprintf("accept %s %d", kind, n))
}
func (c *recCounter) Drop(reason string, n int) {
	c.log = append(c.log, fmt.Sprintf("drop %s %d", reason, n))
}

type testRig struct {
	p     *Pipeline
	buf   *recBuffer
	count *recCounter
	token string
	now   time.Time
}

func newRig(t *testing.T) *testRig {
	t.Helper()
	signer, err := consent.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	site := model.NewSite("site1", "example.com", "", now)
	site.AnonymousCounting = true
	closed := model.NewSite("closed", "closed.example", "", now)
	tok := signer.Sign(consent.Claims{SiteID: "site1", ConsentID: uuid.MustParse("0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"),
		PolicyVersion: 1, Granted: model.Categories{Performance: true}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	r := &testRig{buf: &recBuffer{}, count: &recCounter{}, token: tok, now: now}
	r.p = New(Deps{Sites: fakeSites{"site1": &site, "closed": &closed}, Signer: signer, Geo: fakeGeo{}, Agents: fakeAgents{},
		Referrers: fakeRefs{}, Buffer: r.buf, Counter: r.count, Now: func() time.Time { return r.now }})
	return r
}

const (
	testVisitor = "11111111-2222-4333-8444-555555555555"
	testSession = "66666666-7777-4888-9999-aaaaaaaaaaaa"
	browser     = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
)

// testOrigin is the Origin header of a test request: the site's own
// unless the test names one ("none": no header).
func testOrigin(o string) string {
	switch o {
	case "":
		return "https://example.com"
	case "none":
		return ""
	}
	return o
}

func outcome(err error, dropped string) string {
	var ie *Error
	switch {
	case err == nil && dropped != "":
		return "dropped " + dropped
	case err == nil:
		return "ok"
	case errors.As(err, &ie):
		return fmt.Sprintf("error %d %s: %s", ie.Code, ie.Reason, ie.Message)
	}
	return "error " + err.Error()
}

func TestEvents(t *testing.T) {
	consented := func(events string) string {
		return `{"site":"site1","visitor":"` + testVisitor + `","session":"` + testSession + `","consent":"TOKEN","events":[` + events + `]}`
	}
	tests := []struct {
		name, body, origin, ua string
		bufErr                 error
		want                   string
		counts                 []string
	}{
		{name: "consented pageview", body: consented(`{"type":"pageview","url":"https://Example.com/a/b?utm_source=news&utm_medium=mail&x=1#f","referrer":"https://www.google.com/","sw":1440,"lang":"en_us"}`),
			want: "ok accepted 1 rejected []", counts: []string{"accept event 1"}},
		{name: "mixed batch", body: consented(`{"type":"pageview","url":"https://example.com/"},{"type":"nope","url":"https://example.com/"},{"type":"search","url":"https://example.com/?q=Red+Shoes"},{"type":"outbound","url":"https://example.com/","link":"ftp://x"},{"type":"custom","name":" signup ","props":{"b":"2","a":"1"},"url":"https://example.com/"}`),
			want:   `ok accepted 3 rejected [{1 unknown event type "nope"} {3 link must be an absolute http(s) URL}]`,
			counts: []string{"drop invalid 1", "drop invalid 1", "accept event 3"}},
		{name: "anonymous", body: `{"site":"site1","events":[{"type":"pageview","url":"https://example.com/"},{"type":"custom","name":"x","url":"https://example.com/"}]}`,
			want:   "ok accepted 1 rejected [{1 only page views are counted without consent}]",
			counts: []string{"drop not_anonymous 1", "accept event 1"}},
		{name: "bot", body: consented(`{"type":"pageview","url":"https://example.com/"},{"type":"pageview","url":"https://example.com/x"}`), ua: "somebot/1.0",
			want: "dropped bot accepted 0 rejected []", counts: []string{"drop bot 2"}},
		{name: "unknown site", body: `{"site":"nope","events":[{"type":"pageview","url":"https://example.com/"},{"type":"pageview","url":"https://example.com/"}]}`,
			want: `error 2 unknown_site: unknown site "nope"`, counts: []string{"drop unknown_site 2"}},
		{name: "missing site", body: `{"events":[{"type":"pageview","url":"https://example.com/"}]}`,
			want: "error 1 invalid: missing site", counts: []string{"drop invalid 1"}},
		{name: "foreign origin", body: consented(`{"type":"pageview","url":"https://example.com/"}`), origin: "https://evil.example",
			want: `error 2 foreign_origin: origin "https://evil.example" is not one of the site's domains`, counts: []string{"drop foreign_origin 1"}},
		{name: "subdomain origin", body: consented(`{"type":"pageview","url":"https://example.com/"}`), origin: "https://shop.example.com",
			want: "ok accepted 1 rejected []", counts: []string{"accept event 1"}},
		{name: "no anonymous counting", body: `{"site":"closed","events":[{"type":"pageview","url":"https://closed.example/"}]}`, origin: "https://closed.example",
			want: "error 2 no_consent: no visitor consent, and this site does not count anonymously", counts: []string{"drop no_consent 1"}},
		{name: "bad token", body: strings.Replace(consented(`{"type":"pageview","url":"https://example.com/"}`), "TOKEN", "x.y", 1),
			want: "error 2 consent_invalid: invalid consent token", counts: []string{"drop consent_invalid 1"}},
		{name: "no origin", body: consented(`{"type":"pageview","url":"https://example.com/"}`), origin: "none",
			want: "error 2 no_origin: no Origin header", counts: []string{"drop no_origin 1"}},
		{name: "null origin", body: consented(`{"type":"pageview","url":"https://example.com/"}`), origin: "null",
			want: "error 2 no_origin: no Origin header", counts: []string{"drop no_origin 1"}},
		{name: "foreign url", body: consented(`{"type":"pageview","url":"https://evil.example/"},{"type":"pageview","url":"https://www.example.com/ok"}`),
			want:   "ok accepted 1 rejected [{0 url is not on one of the site's domains}]",
			counts: []string{"drop foreign_url 1", "accept event 1"}},
		{name: "visitor without session", body: strings.Replace(consented(`{"type":"pageview","url":"https://example.com/"}`), `"session":"`+testSession+`",`, "", 1),
			want: "error 1 invalid: session must be a UUID", counts: []string{"drop invalid 1"}},
		{name: "malformed", body: `{"site":`, want: "error 1 invalid: malformed JSON", counts: []string{"drop invalid 1"}},
		{name: "wrong type", body: `{"site":1}`, want: `error 1 invalid: field "site" must be a string`, counts: []string{"drop invalid 1"}},
		{name: "no valid events", body: consented(`{"type":"pageview","url":"mailto:x@example.com"}`),
			want: "error 1 invalid: no valid events: url must be an absolute http(s) URL", counts: []string{"drop invalid 1", "drop invalid 1"}},
		{name: "buffer full", body: consented(`{"type":"pageview","url":"https://example.com/"}`), bufErr: buffer.ErrFull,
			want: "error 3 buffer_full: buffer full, retry later", counts: []string{"drop buffer_full 1"}},
		{name: "shutting down", body: consented(`{"type":"pageview","url":"https://example.com/"}`), bufErr: fmt.Errorf("x: %w", buffer.ErrClosed),
			want: "error 3 shutting_down: server shutting down, retry later", counts: []string{"drop shutting_down 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.buf.err = tt.bufErr
			ua := tt.ua
			if ua == "" {
				ua = browser
			}
			req := &Request{Body: []byte(strings.Replace(tt.body, "TOKEN", r.token, 1)), Origin: testOrigin(tt.origin), UserAgent: ua, IP: netip.MustParseAddr("81.2.69.160")}
			res, err := r.p.Events(context.Background(), req)
			got := outcome(err, res.Dropped)
			if err == nil {
				got += fmt.Sprintf(" accepted %d rejected %v", res.Accepted, res.Rejected)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !slices.Equal(r.count.log, tt.counts) {
				t.Errorf("counts %q, want %q", r.count.log, tt.counts)
			}
			if err == nil && res.Dropped == "" && (req.IP.IsValid() || req.UserAgent != "") {
				t.Errorf("IP %v and user agent %q not forgotten", req.IP, req.UserAgent)
			}
			if len(r.buf.recs) != res.Accepted {
				t.Errorf("%d records buffered, %d accepted", len(r.buf.recs), res.Accepted)
			}
		})
	}
}

func TestEvents_Enrichment(t *testing.T) {
	r := newRig(t)
	body := `{"site":"site1","visitor":"` + testVisitor + `","session":"` + testSession + `","consent":"` + r.token + `","events":[` +
		`{"type":"pageview","url":"https://Example.com/a/b?utm_source=news&utm_medium=mail&utm_campaign=c&utm_content=d&utm_term=e&x=1#f","referrer":"https://www.google.com/","sw":1440,"lang":"en_us","ts":1799999999000},` +
		`{"type":"search","url":"https://example.com/?s=Red++Shoes","sw":375},` +
		`{"type":"download","url":"https://example.com/","link":"https://CDN.example.com/f.pdf?sig=secret"},` +
		`{"type":"engagement","url":"https://example.com/","duration":1500},` +
		`{"type":"error","url":"https://example.com/missing"},` +
		`{"type":"custom","name":" signup ","props":{"b":"2","a":"1"},"url":"https://example.com/"}]}`
	if _, err := r.p.Events(context.Background(), &Request{Body: []byte(body), Origin: testOrigin(""), UserAgent: browser, IP: netip.MustParseAddr("81.2.69.160")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range r.buf.recs {
		e := *rec.Event
		if e.ID == uuid.Nil {
			t.Error("event without ID")
		}
		e.ID = uuid.Nil
		got = append(got, fmt.Sprintf("%+v", e))
	}
	consentID := "0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"
	common := "VisitorID:" + testVisitor + " SessionID:" + testSession + " ConsentID:" + consentID
	geoUA := "Country:DE Region: City: ASN:0 Provider: Browser:Firefox BrowserVersion: OS: OSVersion: Device:desktop"
	want := []string{
		"{ID:00000000-0000-0000-0000-000000000000 SiteID:site1 Time:2027-01-15 07:59:59 +0000 UTC Type:pageview " + common +
			" Hostname:example.com Path:/a/b ReferrerHost: ReferrerPath: Source: Channel:Direct UTMSource:news UTMMedium:mail UTMCampaign:c UTMContent:d UTMTerm:e " +
			geoUA + " Screen:desktop Language:en-US Name: PropKeys:[] PropValues:[] SearchTerm: LinkURL: DurationMS:0 Status:0 GPC:false DomainType:unknown DomainSuffix: DomainSource:}",
		"{ID:00000000-0000-0000-0000-000000000000 SiteID:site1 Time:2027-01-15 08:00:00 +0000 UTC Type:search " + common +
			" Hostname:example.com Path:/ ReferrerHost: ReferrerPath: Source: Channel:Direct UTMSource: UTMMedium: UTMCampaign: UTMContent: UTMTerm: " +
			geoUA + " Screen:mobile Language: Name: PropKeys:[] PropValues:[] SearchTerm:red shoes LinkURL: DurationMS:0 Status:0 GPC:false DomainType:unknown DomainSuffix: DomainSource:}",
		"{ID:00000000-0000-0000-0000-000000000000 SiteID:site1 Time:2027-01-15 08:00:00 +0000 UTC Type:download " + common +
			" Hostname:example.com Path:/ ReferrerHost: ReferrerPath: Source: Channel:Direct UTMSource: UTMMedium: UTMCampaign: UTMContent: UTMTerm: " +
			geoUA + " Screen: Language: Name: PropKeys:[] PropValues:[] SearchTerm: LinkURL:https://cdn.example.com/f.pdf DurationMS:0 Status:0 GPC:false DomainType:unknown DomainSuffix: DomainSource:}",
		"{ID:00000000-0000-0000-0000-000000000000 SiteID:site1 Time:2027-01-15 08:00:00 +0000 UTC Type:engagement " + common +
			" Hostname:example.com Path:/ ReferrerHost: ReferrerPath: Source: Channel:Direct UTMSource: UTMMedium: UTMCampaign: UTMContent: UTMTerm: " +
			geoUA + " Screen: Language: Name: PropKeys:[] PropValues:[] SearchTerm: LinkURL: DurationMS:1500 Status:0 GPC:false DomainType:unknown DomainSuffix: DomainSource:}",
		"{ID:00000000-0000-0000-0000-000000000000 SiteID:site1 Time:2027-01-15 08:00:00 +0000 UTC Type:error " + common +
			" Hostname:example.com Path:/missing ReferrerHost: ReferrerPath: Source: Channel:Direct UTMSource: UTMMedium: UTMCampaign: UTMContent: UTMTerm: " +
			geoUA + " Screen: Language: Name: PropKeys:[] PropValues:[] SearchTerm: LinkURL: DurationMS:0 Status:404 GPC:false DomainType:unknown DomainSuffix: DomainSource:}",
		"{ID:00000000-0000-0000-0000-000000000000 SiteID:site1 Time:2027-01-15 08:00:00 +0000 UTC Type:custom " + common +
			" Hostname:example.com Path:/ ReferrerHost: ReferrerPath: Source: Channel:Direct UTMSource: UTMMedium: UTMCampaign: UTMContent: UTMTerm: " +
			geoUA + " Screen: Language: Name:signup PropKeys:[a b] PropValues:[1 2] SearchTerm: LinkURL: DurationMS:0 Status:0 GPC:false DomainType:unknown DomainSuffix: DomainSource:}",
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// A page view of a visit under way whose browser sent no referrer (a
// Referrer-Policy of no-referrer) is a step inside the site, not a Direct
// arrival; a referrer or UTM tags still name where it came from.
func TestEvents_ContinuedVisit(t *testing.T) {
	r := newRig(t)
	refs, err := referrer.New()
	if err != nil {
		t.Fatal(err)
	}
	r.p.refs = refs
	body := `{"site":"site1","visitor":"` + testVisitor + `","session":"` + testSession + `","consent":"` + r.token + `","events":[` +
		`{"type":"pageview","url":"https://example.com/"},` +
		`{"type":"pageview","url":"https://example.com/a","continued":true},` +
		`{"type":"pageview","url":"https://example.com/b","referrer":"https://www.google.com/","continued":true},` +
		`{"type":"pageview","url":"https://example.com/c?utm_source=newsletter&utm_medium=email","continued":true}]}`
	if _, err := r.p.Events(context.Background(), &Request{Body: []byte(body), Origin: testOrigin(""), UserAgent: browser, IP: netip.MustParseAddr("81.2.69.160")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range r.buf.recs {
		got = append(got, rec.Event.Path+" "+rec.Event.Channel+" "+rec.Event.Source)
	}
	want := []string{"/ Direct ", "/a Internal ", "/b Organic Search Google", "/c Email newsletter"}
	if !slices.Equal(got, want) {
		t.Errorf("channels %q, want %q", got, want)
	}
}

func TestConsentAndImpression(t *testing.T) {
	const cid = "0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"
	const url = `,"url":"https://example.com/x?y=1"`
	for _, tt := range []struct {
		name, kind, body, ua, origin string
		want                         string
		counts                       []string
	}{
		{"accept", "consent", `{"site":"site1","consent_id":"` + cid + `","policy_version":1,"action":"accept_all","url":"https://example.com/x?y=1","lang":"DE","decision_ms":4200}`, "", "",
			"ok new {SiteID:site1 PolicyVersion:1 Action:accept_all Granted:{Performance:true Functionality:true Targeting:true} GPC:false Path:/x Language:de Country:DE Device:desktop Seq:1 Revokes:false DecisionMS:4200} token",
			[]string{"accept decision 1"}},
		{"custom", "consent", `{"site":"site1","policy_version":1,"action":"custom","categories":["functionality"]` + url + `}`, "", "",
			"ok new {SiteID:site1 PolicyVersion:1 Action:custom Granted:{Performance:false Functionality:true Targeting:false} GPC:false Path:/x Language: Country:DE Device:desktop Seq:1 Revokes:false DecisionMS:0} no token",
			[]string{"accept decision 1"}},
		{"withdraw held", "consent", `{"site":"site1","consent_id":"` + cid + `","consent_key":"KEY","seq":3,"policy_version":1,"action":"withdraw"` + url + `}`, "", "",
			"ok held {SiteID:site1 PolicyVersion:1 Action:withdraw Granted:{Performance:false Functionality:false Targeting:false} GPC:false Path:/x Language: Country:DE Device:desktop Seq:3 Revokes:true DecisionMS:0} no token",
			[]string{"accept decision 1"}},
		{"accept held", "consent", `{"site":"site1","consent_id":"` + cid + `","consent_key":"KEY","seq":2,"policy_version":1,"action":"accept_all"` + url + `}`, "", "",
			"ok held {SiteID:site1 PolicyVersion:1 Action:accept_all Granted:{Performance:true Functionality:true Targeting:true} GPC:false Path:/x Language: Country:DE Device:desktop Seq:2 Revokes:false DecisionMS:0} token",
			[]string{"accept decision 1"}},
		{"consent not held", "consent", `{"site":"site1","consent_id":"` + cid + `","consent_key":"guessed","policy_version":1,"action":"withdraw"` + url + `}`, "", "",
			"error 2 consent_not_held", []string{"drop consent_not_held 1"}},
		{"consent foreign url", "consent", `{"site":"site1","policy_version":1,"action":"accept_all","url":"https://evil.example/"}`, "", "",
			"error 2 foreign_url", []string{"drop foreign_url 1"}},
		{"consent no url", "consent", `{"site":"site1","policy_version":1,"action":"accept_all"}`, "", "",
			"error 2 foreign_url", []string{"drop foreign_url 1"}},
		{"consent no origin", "consent", `{"site":"site1","policy_version":1,"action":"accept_all"` + url + `}`, "", "none",
			"error 2 no_origin", []string{"drop no_origin 1"}},
		{"consent bot", "consent", `{"site":"site1","consent_id":"` + cid + `","policy_version":1,"action":"accept_all"` + url + `}`, "somebot/2.0", "",
			"dropped bot", []string{"drop bot 1"}},
		{"consent unknown category", "consent", `{"site":"site1","consent_id":"` + cid + `","policy_version":1,"action":"custom","categories":["x"]` + url + `}`, "", "",
			"error 1 invalid", []string{"drop invalid 1"}},
		{"consent time over a day", "consent", `{"site":"site1","policy_version":1,"action":"accept_all","decision_ms":86400001` + url + `}`, "", "",
			"error 1 invalid: decision_ms over 86400000 (a day)", []string{"drop invalid 1"}},
		{"consent negative time", "consent", `{"site":"site1","policy_version":1,"action":"accept_all","decision_ms":-5` + url + `}`, "", "",
			`error 1 invalid: field "decision_ms" must be a whole number from 0 to 4294967295`, []string{"drop invalid 1"}},
		{"consent unknown site", "consent", `{"site":"x","consent_id":"` + cid + `","policy_version":1,"action":"accept_all"}`, "", "",
			`error 2 unknown_site: unknown site "x"`, []string{"drop unknown_site 1"}},
		{"consent newer policy", "consent", `{"site":"site1","policy_version":99,"action":"accept_all"` + url + `}`, "", "",
			"error 1 invalid: policy_version 99 is newer than the site's policy (version 1)", []string{"drop invalid 1"}},
		{"impression", "impression", `{"site":"site1","url":"https://example.com/shop?a=1","lang":"en-gb","gpc":true,"undeclared_cookies":["_ga"]}`, "", "",
			"ok {SiteID:site1 PolicyVersion:1 Path:/shop Language:en-GB Country:DE Device:desktop GPC:true UndeclaredCookies:[_ga]}",
			[]string{"accept impression 1"}},
		{"impression foreign url", "impression", `{"site":"site1","url":"https://evil.example/"}`, "", "", "error 2 foreign_url", []string{"drop foreign_url 1"}},
		{"impression newer policy", "impression", `{"site":"site1","policy_version":12345` + url + `}`, "", "",
			"error 1 invalid: policy_version 12345 is newer than the site's policy (version 1)", []string{"drop invalid 1"}},
		{"impression bot", "impression", `{"site":"site1"` + url + `}`, "somebot/2.0", "", "dropped bot", []string{"drop bot 1"}},
		{"impression bad cookie", "impression", `{"site":"site1","undeclared_cookies":[""]}`, "", "", "error 1 invalid: cookie names must be 1 to 128 bytes", []string{"drop invalid 1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			ua := tt.ua
			if ua == "" {
				ua = browser
			}
			body := strings.Replace(tt.body, "KEY", r.p.signer.HolderKey("site1", uuid.MustParse(cid)), 1)
			req := &Request{Body: []byte(body), Origin: testOrigin(tt.origin), UserAgent: ua, IP: netip.MustParseAddr("81.2.69.160")}
			var got string
			if tt.kind == "consent" {
				res, err := r.p.Consent(context.Background(), req)
				got = outcome(err, res.Dropped)
				if err == nil && res.Dropped == "" {
					d := *r.buf.recs[0].Decision
					switch {
					case d.ConsentID.String() == cid:
						got += " held"
					case d.ConsentID != uuid.Nil:
						got += " new"
					}
					got += fmt.Sprintf(" {SiteID:%s PolicyVersion:%d Action:%s Granted:%+v GPC:%v Path:%s Language:%s Country:%s Device:%s Seq:%d Revokes:%v DecisionMS:%d}",
						d.SiteID, d.PolicyVersion, d.Action, d.Granted, d.GPC, d.Path, d.Language, d.Country, d.Device, d.Seq, d.Revokes, d.DecisionMS)
					if d.Time != r.now || d.ID == uuid.Nil || d.TextsHash == "" {
						t.Errorf("decision time %v, id %v, texts hash %q", d.Time, d.ID, d.TextsHash)
					}
					if res.ConsentID != d.ConsentID.String() || !r.p.signer.Holds("site1", d.ConsentID, res.ConsentKey) {
						t.Errorf("answer names consent %s with key %q; recorded %s", res.ConsentID, res.ConsentKey, d.ConsentID)
					}
					if res.Token != "" {
						got += " token"
					} else {
						got += " no token"
					}
				}
			} else {
				dropped, err := r.p.Impression(context.Background(), req)
				got = outcome(err, dropped)
				if err == nil && dropped == "" {
					im := *r.buf.recs[0].Impression
					got += fmt.Sprintf(" {SiteID:%s PolicyVersion:%d Path:%s Language:%s Country:%s Device:%s GPC:%v UndeclaredCookies:%v}",
						im.SiteID, im.PolicyVersion, im.Path, im.Language, im.Country, im.Device, im.GPC, im.UndeclaredCookies)
				}
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !slices.Equal(r.count.log, tt.counts) {
				t.Errorf("counts %q, want %q", r.count.log, tt.counts)
			}
			if strings.HasPrefix(got, "ok") && (req.IP.IsValid() || req.UserAgent != "") {
				t.Errorf("IP %v and user agent %q not forgotten", req.IP, req.UserAgent)
			}
		})
	}
}

// TestWithdrawalStopsTokens: once a withdrawal is recorded, the consent's
// earlier token is refused, and a later acceptance's new token counts.
func TestWithdrawalStopsTokens(t *testing.T) {
	r := newRig(t)
	cid := uuid.MustParse("0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a")
	events := func(token string) string {
		return `{"site":"site1","visitor":"` + testVisitor + `","session":"` + testSession + `","consent":"` + token + `","events":[{"type":"pageview","url":"https://example.com/"}]}`
	}
	send := func(body string) error {
		_, err := r.p.Events(context.Background(), &Request{Body: []byte(body), Origin: testOrigin(""), UserAgent: browser, IP: netip.MustParseAddr("81.2.69.160")})
		return err
	}
	decide := func(action string) ConsentResult {
		body := `{"site":"site1","consent_id":"` + cid.String() + `","consent_key":"` + r.p.signer.HolderKey("site1", cid) +
			`","policy_version":1,"action":"` + action + `","url":"https://example.com/"}`
		res, err := r.p.Consent(context.Background(), &Request{Body: []byte(body), Origin: testOrigin(""), UserAgent: browser, IP: netip.MustParseAddr("81.2.69.160")})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if err := send(events(r.token)); err != nil {
		t.Fatalf("before the withdrawal: %v", err)
	}
	decide("withdraw")
	var ie *Error
	if err := send(events(r.token)); !errors.As(err, &ie) || ie.Reason != ReasonWithdrawn {
		t.Fatalf("after the withdrawal: %v, want %s", err, ReasonWithdrawn)
	}
	r.now = r.now.Add(time.Millisecond)
	res := decide("accept_all")
	if res.Token == "" {
		t.Fatal("no token for the new acceptance")
	}
	if err := send(events(res.Token)); err != nil {
		t.Fatalf("with the new token: %v", err)
	}
	if err := send(events(r.token)); err == nil {
		t.Fatal("the withdrawn token counts again")
	}
}

type nopBuffer struct{}

func (nopBuffer) Append(...buffer.Record) error { return nil }

// BenchmarkEvents runs the events pipeline on the benchmark's request (one
// page view with a consent token), with the real user agent parser and
// referrer classifier, and a buffer that keeps nothing.
func BenchmarkEvents(b *testing.B) {
	signer, err := consent.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	site := model.NewSite("site1", "example.com", "", now)
	refs, err := referrer.New()
	if err != nil {
		b.Fatal(err)
	}
	p := New(Deps{Sites: fakeSites{"site1": &site}, Signer: signer, Geo: fakeGeo{}, Agents: useragent.New(100),
		Referrers: refs, Buffer: nopBuffer{}, Counter: nopCounter{}})
	tok := signer.Sign(consent.Claims{SiteID: "site1", ConsentID: uuid.New(), PolicyVersion: 1,
		Granted: model.Categories{Performance: true}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	body := []byte(`{"site":"site1","visitor":"` + testVisitor + `","session":"` + testSession + `","consent":"` + tok +
		`","events":[{"type":"pageview","url":"https://example.com/products/item-0?utm_source=newsletter","referrer":"https://www.google.com/","sw":1440,"lang":"en-US"}]}`)
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		res, err := p.Events(context.Background(), &Request{Body: body, UserAgent: ua, IP: netip.MustParseAddr("81.2.69.160")})
		if err != nil || res.Accepted != 1 {
			b.Fatal(res, err)
		}
	}
}

type countingDomains struct{ n int }

func (c *countingDomains) Lookup(netip.Addr, string) rdns.Result {
	c.n++
	return rdns.Result{Type: rdns.Unknown}
}

// Only events store a domain type: a banner's impression or decision never
// has its visitor's network looked up (no DNS query about it).
func TestDomainTypeOnlyForEvents(t *testing.T) {
	r := newRig(t)
	doms := &countingDomains{}
	r.p.doms = doms
	ctx := context.Background()
	req := func(body string) *Request {
		return &Request{Body: []byte(body), Origin: testOrigin(""), UserAgent: browser, IP: netip.MustParseAddr("81.2.69.160")}
	}
	if _, err := r.p.Consent(ctx, req(`{"site":"site1","policy_version":1,"action":"reject_all","url":"https://example.com/"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.p.Impression(ctx, req(`{"site":"site1","url":"https://example.com/"}`)); err != nil {
		t.Fatal(err)
	}
	if doms.n != 0 {
		t.Fatalf("%d lookups for a decision and an impression", doms.n)
	}
	if _, err := r.p.Events(ctx, req(`{"site":"site1","visitor":"`+testVisitor+`","session":"`+testSession+`","consent":"`+r.token+`","events":[{"type":"pageview","url":"https://example.com/"}]}`)); err != nil {
		t.Fatal(err)
	}
	if doms.n != 1 {
		t.Fatalf("%d lookups for an events batch, want 1", doms.n)
	}
}

type fakeBanners map[string]uint32 // "site hash": policy version

func (f fakeBanners) Known(site, hash string) (uint32, bool) {
	v, ok := f[site+" "+hash]
	return v, ok
}

// A decision names the banner its page showed, when that is a kept banner
// of the site under the decision's policy; else the site's current one
// (current policy) or none (an older policy).
func TestConsent_TextsHashOfTheBannerShown(t *testing.T) {
	const old, cur, other = "11111111111111111111111111111111", "22222222222222222222222222222222", "33333333333333333333333333333333"
	for _, tt := range []struct {
		name   string
		policy int
		hash   string
		want   string
	}{
		{"older policy, its banner", 1, old, old},
		{"older policy, a newer banner's hash", 1, cur, ""},
		{"older policy, another site's banner", 1, other, ""},
		{"current policy, its banner", 2, cur, cur},
		{"current policy, no hash", 2, "", "current"},
		{"current policy, unknown hash", 2, "44444444444444444444444444444444", "current"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			site, _ := r.p.sites.Get(context.Background(), "site1")
			site.PolicyVersion = 2
			r.p.bans = fakeBanners{"site1 " + old: 1, "site1 " + cur: 2, "closed " + other: 1}
			body := fmt.Sprintf(`{"site":"site1","policy_version":%d,"action":"reject_all","texts_hash":%q,"url":"https://example.com/","lang":"en"}`, tt.policy, tt.hash)
			if _, err := r.p.Consent(context.Background(), &Request{Body: []byte(body), Origin: testOrigin(""), UserAgent: browser, IP: netip.MustParseAddr("81.2.69.160")}); err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "current" {
				want = banner.Hash(site, "en")
			}
			if got := r.buf.recs[0].Decision.TextsHash; got != want {
				t.Errorf("texts hash %q, want %q", got, want)
			}
		})
	}
}
