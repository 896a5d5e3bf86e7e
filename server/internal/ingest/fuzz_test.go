package ingest

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/buffer"
	"github.com/crumbhq/crumb/server/internal/consent"
	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/referrer"
	"github.com/crumbhq/crumb/server/internal/useragent"
)

type fakeSites map[string]*model.Site

func (f fakeSites) Get(_ context.Context, id string) (*model.Site, bool) {
	s, ok := f[id]
	return s, ok
}

func (f fakeSites) Fresh(ctx context.Context, id string) (*model.Site, bool) { return f.Get(ctx, id) }

type fakeBuffer struct{ n int }

func (b *fakeBuffer) Append(recs ...buffer.Record) error {
	for _, r := range recs {
		if r.Event != nil && r.Event.SiteID == "" {
			return errors.New("event without site reached the buffer")
		}
	}
	b.n += len(recs)
	return nil
}

type fakeGeo struct{}

func (fakeGeo) Lookup(netip.Addr) geoip.Location { return geoip.Location{Country: "DE"} }

type fakeAgents struct{}

func (fakeAgents) Parse(ua string) useragent.Agent {
	return useragent.Agent{Browser: "Firefox", Device: "desktop", Bot: strings.Contains(ua, "bot")}
}

type fakeRefs struct{}

func (fakeRefs) Classify(ref, host, s, m string) referrer.Source {
	return referrer.Source{Channel: "Direct"}
}

type nopCounter struct{}

func (nopCounter) Accept(string, int) {}
func (nopCounter) Drop(string, int)   {}

func fuzzPipeline(t testing.TB) (*Pipeline, string) {
	signer, err := consent.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	site := model.NewSite("site1", "example.com", "", now)
	site.AnonymousCounting = true
	tok := signer.Sign(consent.Claims{SiteID: "site1", ConsentID: [16]byte{1}, PolicyVersion: 1,
		Granted: model.Categories{Performance: true}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	p := New(Deps{Sites: fakeSites{"site1": &site}, Signer: signer, Geo: fakeGeo{}, Agents: fakeAgents{},
		Referrers: fakeRefs{}, Buffer: &fakeBuffer{}, Counter: nopCounter{}, Now: func() time.Time { return now }})
	return p, tok
}

// checkClientError fails unless err is nil or a client error with a message.
func checkClientError(t *testing.T, err error) {
	if err == nil {
		return
	}
	var ie *Error
	if !errors.As(err, &ie) || ie.Code == 0 || ie.Message == "" || ie.Reason == "" {
		t.Fatalf("not a client error: %#v", err)
	}
	if ie.Code == Unavailable {
		t.Fatalf("bad input answered as unavailable: %v", err)
	}
}

func FuzzEvents(f *testing.F) {
	p, tok := fuzzPipeline(f)
	f.Add([]byte(`{"site":"site1","visitor":"0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a","session":"1c7a9d6f-9d2b-4d6f-8b6f-1c7a9d6f9d2b","consent":"` + tok + `","events":[{"type":"pageview","url":"https://example.com/a?utm_source=x"}]}`))
	f.Add([]byte(`{"site":"site1","events":[{"type":"pageview","url":"https://example.com/"},{"type":"custom","name":"x","props":{"a":"b"}}]}`))
	f.Add([]byte(`{"site":"site1","visitor":"0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a","session":"1c7a9d6f-9d2b-4d6f-8b6f-1c7a9d6f9d2b","consent":"` + tok + `","events":[{"type":"search","url":"https://example.com/?q=shoes"},{"type":"outbound","url":"https://example.com/","link":"https://x.org"},{"type":"engagement","url":"https://example.com","duration":5}]}`))
	f.Add([]byte(`{"site":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := p.Events(context.Background(), &Request{Body: body, UserAgent: "Mozilla/5.0", IP: netip.MustParseAddr("81.2.69.160")})
		checkClientError(t, err)
		if err == nil && res.Accepted+len(res.Rejected) == 0 && res.Dropped == "" {
			t.Fatalf("accepted request with nothing accepted or rejected: %+v", res)
		}
	})
}

func FuzzConsent(f *testing.F) {
	p, _ := fuzzPipeline(f)
	f.Add([]byte(`{"site":"site1","consent_id":"0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a","policy_version":1,"action":"accept_all","url":"https://example.com/x","lang":"de"}`))
	f.Add([]byte(`{"site":"site1","consent_id":"0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a","policy_version":1,"action":"custom","categories":["performance","necessary"],"gpc":true}`))
	f.Add([]byte(`{"site":"site1","consent_id":"x","action":"withdraw"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := p.Consent(context.Background(), &Request{Body: body, UserAgent: "Mozilla/5.0"})
		checkClientError(t, err)
		if err == nil && res.Token != "" && !res.Granted.Performance {
			t.Fatalf("token for a decision without performance")
		}
	})
}

func FuzzImpression(f *testing.F) {
	p, _ := fuzzPipeline(f)
	f.Add([]byte(`{"site":"site1","policy_version":1,"url":"https://example.com/","undeclared_cookies":["_ga"]}`))
	f.Add([]byte(`{"site":"site1","undeclared_cookies":[""]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := p.Impression(context.Background(), &Request{Body: body, UserAgent: "Mozilla/5.0"})
		checkClientError(t, err)
	})
}
