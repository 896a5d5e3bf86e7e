package report

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"net/url"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report/plan"
	"github.com/crumbhq/crumb/server/internal/report/query"
	"github.com/crumbhq/crumb/server/internal/report/result"
)

// ErrUnknownSite is returned for a site that is not configured.
var ErrUnknownSite = errors.New("report: unknown site")

// ErrNotFound is returned when a requested record (a consent ID) has no
// data.
var ErrNotFound = errors.New("report: not found")

// ErrUnknownBanner is returned for a texts hash no node has kept.
var ErrUnknownBanner = errors.New("report: no banner kept under this texts hash")

// ErrTimeout is returned when ClickHouse stopped a query at the server-side
// time limit.
var ErrTimeout = errors.New("report: the query took too long; choose a shorter date range or fewer filters")

// ErrBusy is returned when ClickHouse has no connection or memory to spare
// for a query now.
var ErrBusy = errors.New("report: the server is busy; try again in a few seconds")

// Sites finds a configured site, for its k.
type Sites interface {
	Get(ctx context.Context, id string) (*model.Site, bool)
}

// Options tune the service; the zero value is the default.
type Options struct {
	// MaxExecutionTime is the server-side limit of every query
	// (ClickHouse's max_execution_time); default 20 s.
	MaxExecutionTime time.Duration
	// ExportTime is the server-side limit of a proof export; default 10 min.
	ExportTime time.Duration
	// SessionSampleEvents is how many events of a range the session
	// metrics of an overview or time series (bounce rate, visit duration,
	// returning visitors) read before they are estimated on a sample of
	// visitors; default 1,000,000. Every other number is exact.
	SessionSampleEvents uint64
	// ExactEvents is the most events (consent decisions, for consent
	// numbers) a range may hold for every distinct count (visitors,
	// visits, consents) to be read from the exact sets; larger ranges read
	// the sketches first. Default 1,000,000.
	ExactEvents uint64
	// ExactCount: in larger ranges, a distinct count whose estimate is
	// under ExactCount plus 10% is counted again exactly, so that every
	// count up to ExactCount is exact (the sketch errs by 0.3%, far less
	// than the margin). Default 100,000.
	ExactCount uint64
	// ExactRowEvents: in ranges beyond ExactEvents, a breakdown row with
	// at most this many page views (events, for event dimensions) is
	// counted exactly; larger rows are estimated. Default 1,000.
	ExactRowEvents uint64
	// MinEstimated is the smallest number of returning visitors a sampled
	// session query may estimate: below it (with a 10% margin for the
	// sample's error) the query runs again on every visitor, so a count
	// up to MinEstimated is always exact; default 100,000.
	MinEstimated uint64
	// Now is the clock (realtime); default time.Now.
	Now func() time.Time
	// Cluster is set in cluster mode, where events and the report tables
	// are Distributed tables: subqueries of IN are then run once and
	// sent to the shards (GLOBAL IN), as on one server.
	Cluster bool
	Log     *slog.Logger
}

// Service answers report queries from ClickHouse. It only reads.
type Service struct {
	conn  driver.Conn
	sites Sites
	opts  Options

	// forceRaw makes queries without filters read events too (tests
	// compare both paths).
	forceRaw bool
	// trace, when set, sees every statement before it runs (tests).
	trace func(sql string, args []any)

	orderMu sync.Mutex
	order   int // 0 unknown, 1 first half of a UUID is more significant, 2 second half

	// flight runs identical one-row statements in flight at once once.
	flight singleflight.Group
}

// New returns a report service reading through conn (a clickhouse-go v2
// connection, such as clickhouse.DB.Conn()).
func New(conn driver.Conn, sites Sites, opts Options) *Service {
	if opts.MaxExecutionTime <= 0 {
		opts.MaxExecutionTime = 20 * time.Second
	}
	if opts.ExportTime <= 0 {
		opts.ExportTime = 10 * time.Minute
	}
	if opts.SessionSampleEvents == 0 {
		opts.SessionSampleEvents = 1_000_000
	}
	if opts.ExactEvents == 0 {
		opts.ExactEvents = 1_000_000
	}
	if opts.ExactCount == 0 {
		opts.ExactCount = 100_000
	}
	if opts.ExactRowEvents == 0 {
		opts.ExactRowEvents = 1_000
	}
	if opts.MinEstimated == 0 {
		opts.MinEstimated = 100_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{conn: conn, sites: sites, opts: opts}
}

type planKind int

const (
	planSums        planKind = iota // sums: pre-aggregated without filters, else events; distinct counts estimated in large ranges
	planSessions                    // session metrics: events, on a sample of visitors when large
	planSessionRows                 // session breakdowns and paths: events; exact
	planConsent                     // consent decisions: like planSums, large by their decisions
)

// newPlan validates q and decides how to answer it.
func (s *Service) newPlan(ctx context.Context, q query.Query, kind planKind) (*plan.Plan, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	site, ok := s.sites.Get(ctx, q.Site)
	if !ok {
		return nil, ErrUnknownSite
	}
	var err error
	p := &plan.Plan{Site: q.Site, From: q.From, To: q.To, Filters: q.Filters, K: siteK(site), MV: len(q.Filters) == 0 && !s.forceRaw, Sample: plan.Sampling{Rate: 1}}
	if p.Goals, err = goalSteps(site, q.Filters); err != nil {
		return nil, err
	}
	switch kind {
	case planSums, planConsent:
		if !p.MV {
			return p, nil
		}
		// Estimates only where the numbers are large enough to allow them,
		// and from the sealed window of the closed days when there is one:
		// the range's size and the window's seal in one statement.
		size := plan.SizeSQL(p)
		if kind == planConsent {
			size = plan.ConsentSizeSQL(p)
		}
		w, withWindow := s.window(p)
		var n, ms uint64
		if withWindow && kind == planSums && p.K <= plan.ExactK {
			if err := s.queryRow(ctx, plan.SizeAndWindowSQL(size, p.Site, w.End, w.Days), &n, &ms); err != nil {
				return nil, err
			}
		} else if err := s.queryRow(ctx, size, &n); err != nil {
			return nil, err
		}
		// Events are always counted exactly: only the pre-aggregated
		// tables have sketches.
		p.Estimate = n > s.opts.ExactEvents
		if p.Estimate && ms > 0 {
			w.SealedMS = ms
			p.Window = &w
		}
		return p, nil
	case planSessionRows:
		return p, nil
	}
	budget := s.opts.SessionSampleEvents
	events, err := s.rangeEvents(ctx, p)
	if err != nil {
		return nil, err
	}
	if events > budget {
		// The largest power-of-two share of visitors within the budget.
		n := bits.Len64((events - 1) / budget)
		if n > 20 {
			n = 20
		}
		if p.Sample, err = s.sampleRange(ctx, n); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// goalSteps returns the steps of the goals that filters name; a goal the
// site does not have is a bad request.
func goalSteps(site *model.Site, filters []query.Filter) (map[string]query.Step, error) {
	var out map[string]query.Step
	for _, f := range filters {
		if f.Dimension != query.DimGoal {
			continue
		}
		g, ok := site.Goal(f.Value)
		if !ok {
			return nil, query.BadParam("filter", "the site has no goal called %q", query.Clip(f.Value, 60))
		}
		st, err := query.ParseStep(g.Match)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]query.Step{}
		}
		out[g.Name] = st
	}
	return out, nil
}

// window is the run of closed days of p's range that a sealed window may
// cover: the days before today (today is read from the daily tables), or
// all of them; false when there are fewer than two.
func (s *Service) window(p *plan.Plan) (plan.Window, bool) {
	today := s.opts.Now().UTC().Truncate(24 * time.Hour)
	end, live := p.To, time.Time{}
	if p.To.Equal(today) {
		end, live = today.AddDate(0, 0, -1), today
	}
	days := int(end.Sub(p.From).Hours()/24) + 1
	return plan.Window{End: end, Days: days, Live: live}, days >= 2
}

// exactBelow reports whether an estimated distinct count must be counted
// again exactly: it may be ExactCount or less.
func (s *Service) exactBelow(estimate uint64) bool {
	return estimate < s.opts.ExactCount+s.opts.ExactCount/10
}

// sketchNote says how the distinct counts of large ranges are estimated.
func (s *Service) sketchNote() string {
	return fmt.Sprintf("visitors, visits and consents over %d in a range of more than %d events: HyperLogLog with 2^17 registers (standard error 0.3%%); every smaller count is exact",
		s.opts.ExactCount, s.opts.ExactEvents)
}

// rowsNote says how the distinct counts of large breakdown rows are
// estimated.
func (s *Service) rowsNote() string {
	return fmt.Sprintf("visitors and visits of breakdown rows with more than %d page views (events) in a range of more than %d events, and the breakdown's totals over %d: HyperLogLog with 2^12 registers (standard error 1.6%%); every other row is exact",
		s.opts.ExactRowEvents, s.opts.ExactEvents, s.opts.ExactCount)
}

// sketched collects the metrics of an answer that have a number estimated
// with a sketch: m with the totals' (sketchNote), rows with the
// breakdown rows' (rowsNote).
type sketched struct {
	mu      sync.Mutex
	m, rows []query.Metric
}

func (e *sketched) add(ms ...query.Metric)     { e.addTo(&e.m, ms) }
func (e *sketched) addRows(ms ...query.Metric) { e.addTo(&e.rows, ms) }

func (e *sketched) addTo(list *[]query.Metric, ms []query.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range ms {
		if !slices.Contains(*list, m) {
			*list = append(*list, m)
		}
	}
}

// meta describes q's answer: its sample rates and its sketched metrics.
func (s *Service) meta(q query.Query, e *sketched, rates ...float64) result.Meta {
	m := result.MetaOf(q, rates...)
	if e != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		m.Note(s.sketchNote(), e.m...)
		m.Note(s.rowsNote(), e.rows...)
	}
	return m
}

// rangeEvents counts the site's events in the plan's days.
func (s *Service) rangeEvents(ctx context.Context, p *plan.Plan) (uint64, error) {
	var events uint64
	if err := s.queryRow(ctx, plan.SizeSQL(p), &events); err != nil {
		return 0, err
	}
	return events, nil
}

// sampleRange returns the range of visitor IDs holding 1/2^n of random
// (version 4) UUIDs, in this server's order of UUIDs.
func (s *Service) sampleRange(ctx context.Context, n int) (plan.Sampling, error) {
	s.orderMu.Lock()
	defer s.orderMu.Unlock()
	if s.order == 0 {
		var firstHalf uint8
		if err := s.queryRow(ctx, new(plan.Stmt).Add(plan.UUIDOrderSQL), &firstHalf); err != nil {
			return plan.Sampling{}, err
		}
		s.order = 2
		if firstHalf == 1 {
			s.order = 1
		}
	}
	var lo, hi uuid.UUID
	if s.order == 1 {
		// Ordered as strings: random bits from the first byte on.
		lo[15] = 1
		binary.BigEndian.PutUint64(hi[:8], 1<<(64-n))
	} else {
		// Ordered by the second half first; its first two bits are the
		// variant (10), the rest random.
		binary.BigEndian.PutUint64(lo[8:], 1<<63)
		binary.BigEndian.PutUint64(hi[8:], 1<<63+1<<(62-n))
	}
	return plan.Sampling{Rate: 1 / float64(uint64(1)<<n), Lo: lo.String(), Hi: hi.String()}, nil
}

// ctx adds the server-side time limit to a query's context.
func (s *Service) ctx(ctx context.Context) context.Context {
	secs := int(math.Ceil(s.opts.MaxExecutionTime.Seconds()))
	return ch.Context(ctx, ch.WithSettings(ch.Settings{"max_execution_time": secs}))
}

// inSubquery finds the IN subqueries of a statement; the builder writes
// every one as "IN (SELECT" (values are bound, never in the text).
var inSubquery = regexp.MustCompile(`\b(NOT )?IN \(SELECT\b`)

// sql is the text of st as this service's ClickHouse runs it.
func (s *Service) sql(st *plan.Stmt) string {
	if !s.opts.Cluster {
		return st.String()
	}
	return inSubquery.ReplaceAllString(st.String(), "GLOBAL ${1}IN (SELECT")
}

func (s *Service) query(ctx context.Context, st *plan.Stmt) (driver.Rows, error) {
	if s.trace != nil {
		s.trace(s.sql(st), st.Args())
	}
	rows, err := s.conn.Query(s.ctx(ctx), s.sql(st), st.Args()...)
	if err != nil {
		return nil, s.wrap(ctx, err)
	}
	return rows, nil
}

// exec runs a statement that writes (the seals), without the time limit
// of reads. In cluster mode it returns once the rows are on their shards:
// a window's rows are all there before report_daily_window marks its seal
// complete (clickhouse.DB.SealWindows).
func (s *Service) exec(ctx context.Context, st *plan.Stmt) error {
	if s.trace != nil {
		s.trace(s.sql(st), st.Args())
	}
	if s.opts.Cluster {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_distributed_sync": 1}))
	}
	if err := s.conn.Exec(ctx, s.sql(st), st.Args()...); err != nil {
		return s.wrap(ctx, err)
	}
	return nil
}

// queryRow reads the one row of st into dest. Identical statements in
// flight at once run once and share their row: the panels of one
// dashboard load that need the same totals, or many loads of one share
// link, cost ClickHouse one query.
func (s *Service) queryRow(ctx context.Context, st *plan.Stmt, dest ...any) error {
	var key strings.Builder
	key.WriteString(s.sql(st))
	fmt.Fprintf(&key, "\x00%#v", st.Args())
	for _, d := range dest {
		fmt.Fprintf(&key, "\x00%T", d)
	}
	for attempt := 0; ; attempt++ {
		done := s.flight.DoChan(key.String(), func() (any, error) {
			vals := make([]any, len(dest))
			for i, d := range dest {
				vals[i] = reflect.New(reflect.TypeOf(d).Elem()).Interface()
			}
			return vals, s.queryRowOnce(ctx, st, vals...)
		})
		var r singleflight.Result
		select {
		case r = <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.Err != nil {
			// The first asker gave up (its client left): ask again.
			if attempt < 3 && ctx.Err() == nil && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)) {
				continue
			}
			return r.Err
		}
		for i, v := range r.Val.([]any) {
			src := reflect.ValueOf(v).Elem()
			if src.Kind() == reflect.Slice && !src.IsNil() {
				// Each asker gets its own copy.
				c := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
				reflect.Copy(c, src)
				src = c
			}
			reflect.ValueOf(dest[i]).Elem().Set(src)
		}
		return nil
	}
}

func (s *Service) queryRowOnce(ctx context.Context, st *plan.Stmt, dest ...any) error {
	rows, err := s.query(ctx, st)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return s.wrap(ctx, err)
		}
		return s.wrap(ctx, errors.New("no result row"))
	}
	if err := rows.Scan(dest...); err != nil {
		return s.wrap(ctx, err)
	}
	return s.wrap(ctx, rows.Err())
}

// wrap turns a ClickHouse time-limit error into ErrTimeout and prefixes
// the others.
func (s *Service) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ch.ErrAcquireConnTimeout) {
		return ErrBusy
	}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 159, 160, 158, 307, 396: // TIMEOUT_EXCEEDED, TOO_SLOW, TOO_MANY_ROWS, TOO_MANY_BYTES, TOO_MANY_ROWS_OR_BYTES
			return ErrTimeout
		case 241, 202: // MEMORY_LIMIT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES
			return ErrBusy
		}
	}
	return fmt.Errorf("report: %w", err)
}

// withheld is Meta.Withheld when q's filters leave fewer than k
// visitors (visitors counted exactly: filtered answers read events), ""
// otherwise. Without filters nothing is withheld: the site's own totals
// say nothing of any visitor's attributes.
func withheld(q query.Query, visitors int64, k int) string {
	return withheldOf(q, visitors, k, "visitors")
}

// withheldOf is withheld for n of what ("consents": consent IDs).
func withheldOf(q query.Query, n int64, k int, what string) string {
	if len(q.Filters) == 0 || n >= int64(k) {
		return ""
	}
	return fmt.Sprintf("fewer than %d %s match these filters: their numbers are withheld", k, what)
}

// kOf is the k of a site.
func (s *Service) kOf(ctx context.Context, site string) int {
	if st, ok := s.sites.Get(ctx, site); ok {
		return siteK(st)
	}
	return model.DefaultK
}

// parallel runs fns at once and returns the first error.
func parallel(fns ...func() error) error {
	return parallelN(len(fns), fns...)
}

// parallelN runs fns, at most n at a time, and returns the first error.
func parallelN(n int, fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(n, 1))
	for i, fn := range fns {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			// A panic here would end the process: the request's recover
			// middleware only covers its own goroutine.
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("report: panic: %v\n%s", r, debug.Stack())
				}
			}()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// WindowPeriods are the preset periods whose closed days are sealed as
// windows (with the periods before them, for comparison).
var WindowPeriods = []string{"7d", "30d", "month", "last_month"}

// SealedWindows lists the runs of closed days that the preset periods, and
// the periods before them, read at now: what a node seals
// (clickhouse.DB.SealWindows) so that their estimated queries merge one
// window instead of a state a day.
func SealedWindows(now time.Time) []plan.Window {
	today := now.UTC().Truncate(24 * time.Hour)
	var out []plan.Window
	seen := map[plan.Window]bool{}
	for _, period := range WindowPeriods {
		q, err := query.ParseQuery(url.Values{"site": {"x"}, "period": {period}}, now)
		if err != nil {
			continue
		}
		for _, r := range []query.Query{q, q.Previous()} {
			end := r.To
			if !end.Before(today) {
				end = today.AddDate(0, 0, -1)
			}
			days := int(end.Sub(r.From).Hours()/24) + 1
			w := plan.Window{End: end, Days: days}
			if days >= 2 && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}
