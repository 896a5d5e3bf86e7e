package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/model"
)

// Configuration rows are never changed in place: every change inserts a new
// row with a higher version, and reads keep the newest (ReplacingMergeTree
// read with FINAL), so that crumb nodes sharing the database agree.

func version(now time.Time) uint64 { return uint64(now.UnixNano()) }

// PutSite stores a new version of site.
func (db *DB) PutSite(ctx context.Context, s model.Site) error {
	return db.putSite(ctx, s, false)
}

// DeleteSite marks a site deleted.
func (db *DB) DeleteSite(ctx context.Context, s model.Site) error {
	return db.putSite(ctx, s, true)
}

func (db *DB) putSite(ctx context.Context, s model.Site, deleted bool) error {
	banner, err := json.Marshal(s.Banner)
	if err != nil {
		return fmt.Errorf("clickhouse: site banner: %w", err)
	}
	goals, err := jsonList(s.Goals)
	if err != nil {
		return fmt.Errorf("clickhouse: site goals: %w", err)
	}
	funnels, err := jsonList(s.Funnels)
	if err != nil {
		return fmt.Errorf("clickhouse: site funnels: %w", err)
	}
	alerts, err := jsonList(s.Alerts)
	if err != nil {
		return fmt.Errorf("clickhouse: site alerts: %w", err)
	}
	extra, params := s.ExtraDomains, s.SearchParams
	if extra == nil {
		extra = []string{}
	}
	if params == nil {
		params = []string{}
	}
	now := time.Now().UTC()
	return insert(ctx, db, migrations.Sites, insertSite, 1, func(int) []any {
		return []any{
			s.ID, version(now), boolU8(deleted), s.Domain, s.Name, extra, s.PolicyVersion,
			uint16(s.ConsentLifetimeDays), uint16(s.RetentionMonths), uint16(s.ConsentRetentionMonths), uint16(s.K), params,
			boolU8(s.AnonymousCounting), string(banner), goals, funnels, alerts, s.CreatedAt.UTC(), now,
		}
	})
}

// jsonList is a list as JSON, "" when empty.
func jsonList[T any](list []T) (string, error) {
	if len(list) == 0 {
		return "", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// Sites returns the newest version of every site that is not deleted.
func (db *DB) Sites(ctx context.Context) ([]model.Site, error) {
	rows, err := db.conn.Query(ctx, selectSites)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: sites: %w", err)
	}
	defer rows.Close()
	var out []model.Site
	for rows.Next() {
		var (
			s                                  model.Site
			policy                             uint32
			lifetime, retention, consentRet, k uint16
			anon                               uint8
			banner, goals, funnels, alerts     string
		)
		if err := rows.Scan(&s.ID, &s.Domain, &s.Name, &s.ExtraDomains, &policy, &lifetime, &retention,
			&consentRet, &k, &s.SearchParams, &anon, &banner, &goals, &funnels, &alerts, &s.CreatedAt, &s.UpdatedAt); err != nil {
			return nil, fmt.Errorf("clickhouse: sites: %w", err)
		}
		s.PolicyVersion = policy
		s.ConsentLifetimeDays, s.RetentionMonths, s.ConsentRetentionMonths, s.K = int(lifetime), int(retention), int(consentRet), int(k)
		s.AnonymousCounting = anon == 1
		if banner != "" {
			if err := json.Unmarshal([]byte(banner), &s.Banner); err != nil {
				return nil, fmt.Errorf("clickhouse: site %s banner: %w", s.ID, err)
			}
		}
		if goals != "" {
			if err := json.Unmarshal([]byte(goals), &s.Goals); err != nil {
				return nil, fmt.Errorf("clickhouse: site %s goals: %w", s.ID, err)
			}
		}
		if funnels != "" {
			if err := json.Unmarshal([]byte(funnels), &s.Funnels); err != nil {
				return nil, fmt.Errorf("clickhouse: site %s funnels: %w", s.ID, err)
			}
		}
		if alerts != "" {
			if err := json.Unmarshal([]byte(alerts), &s.Alerts); err != nil {
				return nil, fmt.Errorf("clickhouse: site %s alerts: %w", s.ID, err)
			}
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// PutUser stores a new version of a user.
func (db *DB) PutUser(ctx context.Context, u model.User) error {
	return db.putUser(ctx, u, false)
}

// DeleteUser removes the login of email and revokes its sessions.
func (db *DB) DeleteUser(ctx context.Context, email string) error {
	if err := db.putUser(ctx, model.User{Email: email}, true); err != nil {
		return err
	}
	_, err := db.RevokeSessions(ctx, email)
	return err
}

func (db *DB) putUser(ctx context.Context, u model.User, deleted bool) error {
	roles, err := json.Marshal(u.SiteRoles)
	if err != nil {
		return fmt.Errorf("clickhouse: user roles: %w", err)
	}
	now := time.Now().UTC()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	return insert(ctx, db, migrations.Users, insertUser, 1,
		func(int) []any {
			return []any{u.Email, version(now), boolU8(deleted), u.PasswordHash, u.Role, string(roles), u.CreatedAt.UTC(), now}
		})
}

// Users returns every user.
func (db *DB) Users(ctx context.Context) ([]model.User, error) {
	rows, err := db.conn.Query(ctx, selectUsers)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: users: %w", err)
	}
	defer rows.Close()
	var out []model.User
	for rows.Next() {
		var u model.User
		var roles string
		if err := rows.Scan(&u.Email, &u.PasswordHash, &u.Role, &roles, &u.CreatedAt); err != nil {
			return nil, fmt.Errorf("clickhouse: users: %w", err)
		}
		if roles != "" && roles != "null" {
			if err := json.Unmarshal([]byte(roles), &u.SiteRoles); err != nil {
				return nil, fmt.Errorf("clickhouse: user %s roles: %w", u.Email, err)
			}
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// PutToken stores a new version of a token.
func (db *DB) PutToken(ctx context.Context, t model.Token) error {
	now := time.Now().UTC()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	return insert(ctx, db, migrations.APITokens, insertToken, 1,
		func(int) []any {
			return []any{t.ID, version(now), boolU8(t.Revoked), t.Hash, t.Name, t.SiteID, t.CreatedAt.UTC(), now}
		})
}

// Tokens returns every token, revoked ones included.
func (db *DB) Tokens(ctx context.Context) ([]model.Token, error) {
	rows, err := db.conn.Query(ctx, selectTokens)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: tokens: %w", err)
	}
	defer rows.Close()
	var out []model.Token
	for rows.Next() {
		var t model.Token
		var revoked uint8
		if err := rows.Scan(&t.ID, &t.Hash, &t.Name, &t.SiteID, &revoked, &t.CreatedAt); err != nil {
			return nil, fmt.Errorf("clickhouse: tokens: %w", err)
		}
		t.Revoked = revoked == 1
		out = append(out, t)
	}
	return out, rows.Err()
}

// PutShareLink stores a new version of a share link.
func (db *DB) PutShareLink(ctx context.Context, s model.ShareLink) error {
	now := time.Now().UTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	return insert(ctx, db, migrations.ShareLinks, insertShareLink, 1,
		func(int) []any {
			return []any{s.ID, version(now), boolU8(s.Revoked), s.SiteID, s.Name, s.CreatedAt.UTC(), now}
		})
}

// PutBannerVersions keeps banners as visitors were shown them, by their
// hash (package banner's Archiver).
func (db *DB) PutBannerVersions(ctx context.Context, vs []model.BannerVersion) error {
	return insert(ctx, db, migrations.BannerVersions, insertBannerVersion, len(vs), func(i int) []any {
		v := vs[i]
		return []any{v.SiteID, v.TextsHash, v.PolicyVersion, v.Language, v.Config, v.FirstSeen.UTC()}
	})
}

// BannerVersionKeys lists the kept banner versions: site, hash and policy
// version, without their configuration.
func (db *DB) BannerVersionKeys(ctx context.Context) ([]model.BannerVersion, error) {
	rows, err := db.conn.Query(ctx, selectBannerVersionKeys)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: banner versions: %w", err)
	}
	defer rows.Close()
	var out []model.BannerVersion
	for rows.Next() {
		var v model.BannerVersion
		if err := rows.Scan(&v.SiteID, &v.TextsHash, &v.PolicyVersion); err != nil {
			return nil, fmt.Errorf("clickhouse: banner versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ShareLinks returns every share link, revoked ones included.
func (db *DB) ShareLinks(ctx context.Context) ([]model.ShareLink, error) {
	rows, err := db.conn.Query(ctx, selectShareLinks)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: share links: %w", err)
	}
	defer rows.Close()
	var out []model.ShareLink
	for rows.Next() {
		var s model.ShareLink
		var revoked uint8
		if err := rows.Scan(&s.ID, &s.SiteID, &s.Name, &revoked, &s.CreatedAt); err != nil {
			return nil, fmt.Errorf("clickhouse: share links: %w", err)
		}
		s.Revoked = revoked == 1
		out = append(out, s)
	}
	return out, rows.Err()
}
