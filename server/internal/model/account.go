package model

import "time"

// User is a dashboard login.
type User struct {
	Email        string
	PasswordHash string
	// Role is "admin" (every site) or "viewer".
	Role string
	// SiteRoles maps site IDs to a role on that site ("viewer", "editor").
	SiteRoles map[string]string
	CreatedAt time.Time
}

// Token is an API token, stored only as a hash.
type Token struct {
	ID        string
	Hash      string
	Name      string
	SiteID    string // empty: every site the token's owner may read
	Revoked   bool
	CreatedAt time.Time
}

// ShareLink is a public, read-only link to one site's dashboard.
type ShareLink struct {
	ID        string
	SiteID    string
	Name      string
	Revoked   bool
	CreatedAt time.Time
}

// Session is a dashboard login session. Only a hash of the secret its
// cookie carries is stored.
type Session struct {
	ID         string
	Email      string
	SecretHash string
	Revoked    bool
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Recipient is an address that gets a site's e-mail digest: every week,
// every month, or never (Every empty: only sends asked for by hand).
// Token is the secret of its unsubscribe link; an unsubscribed address is
// kept, Unsubscribed, so that nothing mails it by mistake.
type Recipient struct {
	SiteID       string
	Address      string
	Every        string // week, month or ""
	Unsubscribed bool
	Token        string
	AddedBy      string // the dashboard login or "cli"
	CreatedAt    time.Time
	UpdatedAt    time.Time
}
