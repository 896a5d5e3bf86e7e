package report

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// Proof of consent: the only part of the report layer that returns IDs. A
// site's owner uses it to show who consented to what, when, under which
// banner version (the consent ID is the visitor's random cookie value, not
// a person).

// ConsentHistory returns the decisions of one consent ID, oldest first;
// ErrNotFound when there are none.
func (s *Service) ConsentHistory(ctx context.Context, site, consentID string) (*result.ConsentHistory, error) {
	id, err := uuid.Parse(consentID)
	if err != nil || id == uuid.Nil {
		return nil, query.BadParam("consent_id", "not a consent ID (UUID)")
	}
	if _, ok := s.sites.Get(ctx, site); !ok {
		return nil, ErrUnknownSite
	}
	h := &result.ConsentHistory{Site: site, ConsentID: id, Decisions: []result.ProofDecision{}}
	err = s.eachDecision(ctx, plan.ProofHistorySQL(site, id.String()), s.opts.MaxExecutionTime, func(d result.ProofDecision) error {
		h.Decisions = append(h.Decisions, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(h.Decisions) == 0 {
		return nil, ErrNotFound
	}
	return h, nil
}

// BannerVersion returns the banner a decision's texts hash names, as
// visitors were shown it; ErrUnknownBanner for a hash no node has kept.
func (s *Service) BannerVersion(ctx context.Context, site, hash string) (*result.BannerVersion, error) {
	if len(hash) != 32 || strings.Trim(hash, "0123456789abcdef") != "" {
		return nil, query.BadParam("hash", "not a texts hash (32 hexadecimal digits)")
	}
	if _, ok := s.sites.Get(ctx, site); !ok {
		return nil, ErrUnknownSite
	}
	rows, err := s.query(ctx, plan.BannerVersionSQL(site, hash))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, s.wrap(ctx, err)
		}
		return nil, ErrUnknownBanner
	}
	b := &result.BannerVersion{Site: site, TextsHash: hash}
	var cfg string
	if err := rows.Scan(&b.PolicyVersion, &b.Language, &cfg, &b.FirstSeen); err != nil {
		return nil, s.wrap(ctx, err)
	}
	b.Banner = json.RawMessage(cfg)
	return b, s.wrap(ctx, rows.Err())
}

// MaxExportDays is the longest range of one proof export.
const MaxExportDays = 400

// ValidateExport checks the arguments of ExportDecisions without reading
// any decision, so that an HTTP handler can answer 4xx before it streams.
func (s *Service) ValidateExport(ctx context.Context, site string, from, to time.Time) error {
	q := query.Query{Site: site, From: from, To: to, Interval: query.Day}
	if err := q.Validate(); err != nil {
		return err
	}
	if q.Days() > MaxExportDays {
		return query.BadParam("to", "export at most %d days at a time", MaxExportDays)
	}
	if _, ok := s.sites.Get(ctx, site); !ok {
		return ErrUnknownSite
	}
	return nil
}

// ExportDecisions calls fn with every decision recorded in the days from
// to to (inclusive), oldest first, streaming from ClickHouse with the
// export time limit. An error from fn stops the query.
func (s *Service) ExportDecisions(ctx context.Context, site string, from, to time.Time, fn func(result.ProofDecision) error) error {
	if err := s.ValidateExport(ctx, site, from, to); err != nil {
		return err
	}
	return s.eachDecision(ctx, plan.ProofExportSQL(site, from, to), s.opts.ExportTime, fn)
}

func (s *Service) eachDecision(ctx context.Context, st *plan.Stmt, limit time.Duration, fn func(result.ProofDecision) error) error {
	// Cancelling stops the query on the server; closing the rows alone
	// would read them to the end.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.trace != nil {
		s.trace(st.String(), st.Args())
	}
	qctx := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_execution_time": int(math.Ceil(limit.Seconds()))}))
	rows, err := s.conn.Query(qctx, s.sql(st), st.Args()...)
	if err != nil {
		return s.wrap(ctx, err)
	}
	defer rows.Close()
	defer cancel()
	for rows.Next() {
		var (
			d                  result.ProofDecision
			action             string
			perf, fnc, tgt, gp uint8
		)
		var ms uint64
		var gpcSource string
		if err := rows.Scan(&d.DecisionID, &d.ConsentID, &ms, &d.Seq, &d.PolicyVersion, &d.TextsHash, &action,
			&perf, &fnc, &tgt, &gp, &gpcSource, &d.Path, &d.Language, &d.Country, &d.Device); err != nil {
			return s.wrap(ctx, err)
		}
		d.Time = time.UnixMilli(int64(ms)).UTC()
		d.Action = model.Action(action)
		d.Granted = model.Categories{Performance: perf == 1, Functionality: fnc == 1, Targeting: tgt == 1}
		d.GPC, d.GPCSource = gp == 1, model.GPCSource(gpcSource)
		if err := fn(d); err != nil {
			return err
		}
	}
	return s.wrap(ctx, rows.Err())
}
