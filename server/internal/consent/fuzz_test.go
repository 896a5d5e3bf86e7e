package consent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

// fuzzNow is the clock of FuzzVerify; the committed corpus holds tokens
// signed with fuzzSecret that are valid at this time.
var fuzzNow = time.Unix(1_800_000_000, 0).UTC()

const fuzzSecret = "fuzz-secret-fuzz-secret-fuzz-secret"

// FuzzVerify feeds Verify arbitrary tokens, as they arrive in the events
// payload. It must never panic, must refuse with one of its three errors,
// and whatever verifies must survive a round trip through Sign.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner([]byte(fuzzSecret))
	if err != nil {
		f.Fatal(err)
	}
	c := Claims{SiteID: "site1", ConsentID: uuid.MustParse("0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a"), PolicyVersion: 2,
		Granted: model.Categories{Performance: true}, IssuedAt: fuzzNow, ExpiresAt: fuzzNow.Add(time.Hour)}
	f.Add(s.Sign(c))
	c.SiteID, c.Granted = "", model.Categories{Performance: true, Functionality: true, Targeting: true}
	f.Add(s.Sign(c))
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("A", 51) + "." + strings.Repeat("A", 22))
	f.Fuzz(func(t *testing.T, token string) {
		got, err := s.Verify(token, fuzzNow)
		switch {
		case err == nil, errors.Is(err, ErrExpired):
			// The signature held: the claims are what was signed.
			again, err2 := s.Verify(s.Sign(got), fuzzNow)
			if again != got || (err == nil) != (err2 == nil) {
				t.Fatalf("claims %+v do not round-trip: %+v, %v", got, again, err2)
			}
			if err == nil && !fuzzNow.Before(got.ExpiresAt) {
				t.Fatalf("accepted a token that expired at %v", got.ExpiresAt)
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrSignature):
			if got != (Claims{}) {
				t.Fatalf("refused token returned claims %+v", got)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
