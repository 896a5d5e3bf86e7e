package consent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

func TestSigner_RoundTripAndTampering(t *testing.T) {
	s, err := NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	c := Claims{SiteID: "site1", ConsentID: uuid.New(), PolicyVersion: 3,
		Granted: model.Categories{Performance: true, Targeting: true}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	tok := s.Sign(c)
	got, err := s.Verify(tok, now.Add(time.Minute))
	if err != nil || got != c {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, c)
	}
	if _, err := s.Verify(tok, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	other, _ := NewSigner([]byte(strings.Repeat("x", 32)))
	if _, err := other.Verify(tok, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("foreign secret: %v", err)
	}
	// Flip one character of the payload.
	b := []byte(tok)
	b[5] ^= 1
	if _, err := s.Verify(string(b), now); err == nil {
		t.Fatal("tampered token verified")
	}
	for _, bad := range []string{"", ".", "abc", "a.b", strings.Repeat("a", 600)} {
		if _, err := s.Verify(bad, now); err == nil {
			t.Fatalf("Verify(%q) succeeded", bad)
		}
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestGranted(t *testing.T) {
	site := model.NewSite("s", "example.com", "", time.Now())
	noTargeting := site
	noTargeting.Banner.Categories = []model.CategoryConfig{{ID: "performance"}}
	all := model.Categories{Performance: true, Functionality: true, Targeting: true}
	tests := []struct {
		name    string
		site    model.Site
		action  model.Action
		chosen  []string
		gpc     bool
		want    model.Categories
		wantErr bool
	}{
		{"accept all", site, model.AcceptAll, nil, false, all, false},
		{"accept all with GPC keeps targeting off", site, model.AcceptAll, nil, true, model.Categories{Performance: true, Functionality: true}, false},
		{"custom with GPC may turn targeting on", site, model.Customize, []string{"targeting"}, true, model.Categories{Targeting: true}, false},
		{"accept all, site asks performance only", noTargeting, model.AcceptAll, nil, false, model.Categories{Performance: true}, false},
		{"reject all ignores choices", site, model.RejectAll, []string{"performance"}, false, model.Categories{}, false},
		{"withdraw", site, model.Withdraw, nil, false, model.Categories{}, false},
		{"custom", site, model.Customize, []string{"necessary", "performance"}, false, model.Categories{Performance: true}, false},
		{"custom unknown category", site, model.Customize, []string{"marketing"}, false, model.Categories{}, true},
		{"custom category not offered", noTargeting, model.Customize, []string{"targeting"}, false, model.Categories{}, true},
		{"unknown action", site, "maybe", nil, false, model.Categories{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Granted(&tt.site, tt.action, tt.chosen, tt.gpc)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Granted = %+v, %v; want %+v (err %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
