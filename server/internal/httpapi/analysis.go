package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/report/query"
)

func (h *handlers) goals(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Goals(ctx, q)
	return r, fileName(q.Site, "goals", q), err
}

// funnel answers the steps of ?step=…&window=…, or of the saved funnel
// ?funnel=NAME.
func (h *handlers) funnel(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	var f query.Funnel
	if name := v.Get("funnel"); name != "" {
		if len(v["step"]) > 0 || v.Get("window") != "" {
			return nil, "", &query.QueryError{Param: "funnel", Msg: "give a saved funnel's name or steps, not both"}
		}
		site, ok := h.Sites.Get(ctx, q.Site)
		if !ok {
			return nil, "", report.ErrUnknownSite
		}
		i := -1
		for j, sf := range site.Funnels {
			if sf.Name == name {
				i = j
			}
		}
		if i < 0 {
			return nil, "", &query.QueryError{Param: "funnel", Msg: "the site has no saved funnel called " + quote(query.Clip(name, 60))}
		}
		f, err = query.ParseFunnelSteps(site.Funnels[i].Steps, site.Funnels[i].Window)
	} else {
		f, err = query.ParseFunnel(v)
	}
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Funnel(ctx, q, f)
	return r, fileName(q.Site, "funnel", q), err
}

func (h *handlers) retention(ctx context.Context, _ *fiber.Ctx, v url.Values) (statsResult, string, error) {
	iv, err := query.ParseRetentionInterval(v.Get("interval"))
	if err != nil {
		return nil, "", err
	}
	v.Del("interval") // the cohorts' interval, not a time series'
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.Retention(ctx, q, iv)
	return r, fileName(q.Site, "retention-"+string(iv), q), err
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// analysisSettings is a site's goals and saved funnels, and whether the
// caller may change them.
type analysisSettings struct {
	Goals   []model.Goal   `json:"goals"`
	Funnels []model.Funnel `json:"funnels"`
	CanEdit bool           `json:"can_edit"`
}

// siteAnalysis answers GET /api/v1/sites/:site/analysis.
func (h *handlers) siteAnalysis(c *fiber.Ctx) error {
	site, ok := h.Sites.Get(c.UserContext(), site(c))
	if !ok {
		return report.ErrUnknownSite
	}
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	out := analysisSettings{Goals: site.Goals, Funnels: site.Funnels, CanEdit: p.CanEdit(site.ID)}
	if out.Goals == nil {
		out.Goals = []model.Goal{}
	}
	if out.Funnels == nil {
		out.Funnels = []model.Funnel{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

var errCannotEdit = errors.New("only admins and the site's editors change its goals and funnels")

// putAnalysis answers PUT /api/v1/sites/:site/goals and …/funnels: the
// body {"goals":[…]} or {"funnels":[…]} replaces the list.
func (h *handlers) putAnalysis(what string) fiber.Handler {
	return func(c *fiber.Ctx) error { return h.putList(c, what) }
}

func (h *handlers) putList(c *fiber.Ctx, what string) error {
	p, err := h.principal(c)
	if err != nil {
		return err
	}
	if !p.CanEdit(site(c)) {
		return errCannotEdit
	}
	if h.SaveSite == nil {
		return errors.New("site settings cannot be saved on this node")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	cur, ok := h.Sites.Get(ctx, site(c))
	if !ok {
		return report.ErrUnknownSite
	}
	s := *cur
	var body struct {
		Goals   *[]model.Goal   `json:"goals"`
		Funnels *[]model.Funnel `json:"funnels"`
	}
	if err := json.Unmarshal(c.Body(), &body); err != nil {
		return &query.QueryError{Msg: "the body is not JSON: " + err.Error()}
	}
	switch what {
	case "goals":
		if body.Goals == nil {
			return &query.QueryError{Param: "goals", Msg: `missing; send {"goals":[{"name":…,"match":…}]}`}
		}
		s.Goals = *body.Goals
	case "funnels":
		if body.Funnels == nil {
			return &query.QueryError{Param: "funnels", Msg: `missing; send {"funnels":[{"name":…,"steps":[…],"window":…}]}`}
		}
		s.Funnels = *body.Funnels
	default:
		return fiber.ErrNotFound
	}
	if err := s.Validate(); err != nil {
		return &query.QueryError{Msg: err.Error()}
	}
	if err := h.SaveSite(ctx, s); err != nil {
		return err
	}
	return h.siteAnalysis(c)
}

// imported answers GET /api/v1/stats/:site/imported/:dimension: an
// import's values of page, source, country, browser, device or event.
func (h *handlers) imported(ctx context.Context, c *fiber.Ctx, v url.Values) (statsResult, string, error) {
	dim := strings.Clone(c.Params("dimension"))
	q, err := h.query(v)
	if err != nil {
		return nil, "", err
	}
	n, err := limit(v, query.DefaultLimit)
	if err != nil {
		return nil, "", err
	}
	r, err := h.Report.ImportedBreakdown(ctx, q, dim, n)
	return r, fileName(q.Site, "imported-"+safeName(dim), q), err
}
