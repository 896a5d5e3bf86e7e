package auth

import (
	"context"
	"encoding/base64"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
)

// fuzzStore is a fixed set of users, tokens, share links and sessions,
// some revoked.
type fuzzStore struct{}

// The fixed credentials of fuzzStore; the committed corpus holds them.
const (
	fuzzSecret    = "fuzz-secret-fuzz-secret-fuzz-secret"
	fuzzToken     = "crumb_abcdefgh_0123456789abcdefghijkmnopqrstu"
	fuzzRevoked   = "crumb_revoked0_0123456789abcdefghijkmnopqrstu"
	fuzzShare     = "share-live"
	fuzzShareGone = "share-gone"
	fuzzAdmin     = "admin@example.com"
	fuzzViewer    = "viewer@example.com"
)

// fuzzSessions are the store's sessions: each user's live one and a
// revoked one of the admin's. The secret of each is its ID + "-secret".
var fuzzSessions = []model.Session{
	{ID: "sess-viewer", Email: fuzzViewer, SecretHash: hashSecret("sess-viewer-secret"), ExpiresAt: fuzzLater},
	{ID: "sess-admin", Email: fuzzAdmin, SecretHash: hashSecret("sess-admin-secret"), ExpiresAt: fuzzLater},
	{ID: "sess-revoked", Email: fuzzAdmin, Revoked: true, ExpiresAt: fuzzLater},
}

var fuzzLater = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

func (fuzzStore) Users(context.Context) ([]model.User, error) {
	return []model.User{
		{Email: fuzzAdmin, PasswordHash: "$2a$12$admin", Role: "admin"},
		{Email: fuzzViewer, PasswordHash: "$2a$12$viewer", Role: "viewer", SiteRoles: map[string]string{"site1": "viewer"}},
	}, nil
}

func (fuzzStore) Tokens(context.Context) ([]model.Token, error) {
	return []model.Token{
		{ID: TokenID(fuzzToken), Hash: HashToken(fuzzToken), SiteID: "site1"},
		{ID: TokenID(fuzzRevoked), Hash: HashToken(fuzzRevoked), Revoked: true},
	}, nil
}

func (fuzzStore) ShareLinks(context.Context) ([]model.ShareLink, error) {
	return []model.ShareLink{{ID: fuzzShare, SiteID: "site1"}, {ID: fuzzShareGone, SiteID: "site1", Revoked: true}}, nil
}

func (fuzzStore) Sessions(context.Context) ([]model.Session, error) {
	var live []model.Session
	for _, s := range fuzzSessions {
		if !s.Revoked {
			live = append(live, s)
		}
	}
	return live, nil
}

func (fuzzStore) Session(_ context.Context, id string) (model.Session, bool, error) {
	for _, s := range fuzzSessions {
		if s.ID == id {
			return s, true, nil
		}
	}
	return model.Session{}, false, nil
}

func (fuzzStore) PutSession(context.Context, model.Session) error { return nil }

// fuzzAuth returns an Auth over fuzzStore, loaded.
func fuzzAuth(t testing.TB) *Auth {
	a := New(fuzzStore{}, []byte(fuzzSecret), nil)
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

// sessionFor is a cookie of session id (secret id + "-secret") for email,
// expiring at exp.
func (a *Auth) sessionFor(email, id string, exp time.Time) string {
	a.mu.RLock()
	u := a.users[email]
	a.mu.RUnlock()
	return a.encodeCookie(sessionCookie{email: email, expires: exp, fingerprint: fingerprint(u.PasswordHash), id: id, secret: id + "-secret"})
}

// FuzzCredentials feeds the three credentials a request can carry —
// session cookie, API token and share link — to their parsers. None may
// panic, and whatever is accepted must be a live credential of the store
// with exactly its own rights.
func FuzzCredentials(f *testing.F) {
	a := fuzzAuth(f)
	f.Add(a.sessionFor(fuzzViewer, "sess-viewer", fuzzLater), fuzzToken, fuzzShare)
	f.Add(a.sessionFor(fuzzAdmin, "sess-admin", fuzzLater), fuzzRevoked, fuzzShareGone)
	f.Add(a.sessionFor(fuzzAdmin, "sess-revoked", fuzzLater), "crumb__x", "")
	f.Add(a.sessionFor(fuzzViewer, "sess-viewer", time.Unix(1, 0)), "crumb__x", "")
	f.Add(".", "Bearer "+fuzzToken, "share")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, cookie, token, share string) {
		if p := a.bySession(ctx, cookie); p != nil {
			checkSession(t, a, cookie, p)
		}
		if p := a.byToken(token); p != nil {
			id := TokenID(token)
			tok, ok := a.tokens[id]
			if !ok || tok.Revoked || tok.Hash != HashToken(token) || p.Kind != KindToken {
				t.Fatalf("token %q accepted as %+v", token, p)
			}
			if want := tok.SiteID; (want == "") != (p.Sites == nil) || (want != "" && !maps.Equal(p.Sites, map[string]bool{want: true})) {
				t.Fatalf("token %q for site %q reads %v", token, want, p.Sites)
			}
		}
		if p := a.byShare(share); p != nil {
			s, ok := a.shares[share]
			if !ok || s.Revoked || p.Kind != KindShare || !maps.Equal(p.Sites, map[string]bool{s.SiteID: true}) {
				t.Fatalf("share link %q accepted as %+v", share, p)
			}
		}
	})
}

// checkSession fails unless p is the principal of a live session of a
// known user whose password is unchanged, with the session's secret.
func checkSession(t *testing.T, a *Auth, cookie string, p *Principal) {
	t.Helper()
	payloadStr, macStr, _ := strings.Cut(cookie, ".")
	payload, err := base64.RawURLEncoding.DecodeString(payloadStr)
	if err != nil {
		t.Fatalf("session %q accepted with a payload that does not decode: %v", cookie, err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(macStr)
	if string(sig) != string(a.mac("session", string(payload))) {
		t.Fatalf("session %q accepted without its signature", cookie)
	}
	parts := strings.Split(string(payload), "\x00")
	if len(parts) != 5 {
		t.Fatalf("session %q accepted with %d fields", cookie, len(parts))
	}
	email, expStr, fp, id, secret := parts[0], parts[1], parts[2], parts[3], parts[4]
	exp, err := strconv.ParseInt(expStr, 10, 64)
	u, ok := a.users[email]
	var live bool
	for _, s := range fuzzSessions {
		live = live || s.ID == id && !s.Revoked && s.Email == email && s.SecretHash == hashSecret(secret)
	}
	switch {
	case !live:
		t.Fatalf("session %q accepted without its live session and secret", cookie)
	case !ok || p.Email != email || p.Kind != KindSession || p.Role != u.Role:
		t.Fatalf("session %q accepted as %+v", cookie, p)
	case err != nil || time.Now().Unix() >= exp:
		t.Fatalf("session %q accepted with expiry %q", cookie, expStr)
	case fp != fingerprint(u.PasswordHash):
		t.Fatalf("session %q accepted after a password change", cookie)
	case p.CSRF == "":
		t.Fatalf("session %q has no CSRF token", cookie)
	case u.Role == "admin" && p.Sites != nil, u.Role != "admin" && len(p.Sites) != len(u.SiteRoles):
		t.Fatalf("session of %s (%s) reads %v", email, u.Role, p.Sites)
	}
}
