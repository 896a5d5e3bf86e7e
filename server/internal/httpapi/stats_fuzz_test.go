package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/crumbhq/crumb/server/internal/httpapi"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// refusingConn stands in for ClickHouse: it counts the queries that reach
// it and fails each one.
type refusingConn struct {
	driver.Conn
	queries atomic.Int64
}

var errRefused = errors.New("no database in this test")

func (c *refusingConn) Query(context.Context, string, ...any) (driver.Rows, error) {
	c.queries.Add(1)
	return nil, errRefused
}

// fuzzRoutes are the routes under /api/v1/stats/site1; %s is the fuzzed
// path segment (a dimension or a consent ID).
var fuzzRoutes = []string{
	"/overview", "/timeseries", "/breakdown/%s", "/paths", "/realtime", "/consent/overview",
	"/consent/timeseries", "/consent/breakdown/%s", "/consent/cookies", "/proof/export", "/proof/%s",
}

// FuzzRequest sends the stats API arbitrary query strings and path
// segments on every route. Without a database behind it, every request
// must either be refused as bad input (400, or 404 for an unknown
// dimension) with a JSON error, or get as far as the database: a 500 or a
// streamed export that did not query ClickHouse is a parsing bug.
func FuzzRequest(f *testing.F) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	site := model.NewSite("site1", "example.com", "", now)
	conn := &refusingConn{}
	svc := report.New(conn, reporttest.Sites{"site1": &site}, report.Options{Now: func() time.Time { return now }})
	app := newServer(f, httpapi.Deps{Report: svc, Sites: testSites{"site1": &site}, Now: func() time.Time { return now }})

	f.Add(uint8(0), "", "period=7d&compare=previous_period")
	f.Add(uint8(1), "", "period=custom&from=2026-01-01&to=2026-01-31&metrics=visitors,pageviews&format=csv")
	f.Add(uint8(2), "source", "filter=page:contains:/blog&limit=10&page=2")
	f.Add(uint8(2), "event_prop", "event=signup&property=plan")
	f.Add(uint8(7), "country", "period=30d&filter=country:is:DE")
	f.Add(uint8(8), "", "by=page&limit=0")
	f.Add(uint8(9), "", "from=2026-01-01&to=2026-01-31&format=csv")
	f.Add(uint8(10), "0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a", "")
	f.Add(uint8(3), "", "page=%2Fa&limit=x&%zz")
	f.Fuzz(func(t *testing.T, route uint8, segment, query string) {
		path := strings.Replace(fuzzRoutes[int(route)%len(fuzzRoutes)], "%s", url.PathEscape(segment), 1)
		req, err := http.NewRequest("GET", "http://crumb.test/api/v1/stats/site1"+path+"?"+requestSafe(query), nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+ownerToken)
		before := conn.queries.Load()
		res, err := app.Test(req, -1)
		if err != nil && strings.Contains(err.Error(), "small read buffer") {
			return // longer than the read buffer: 431 (TestOversizedRequest_431)
		}
		if err != nil {
			t.Fatalf("%s: %v", req.URL, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		queried := conn.queries.Load() > before
		switch res.StatusCode {
		case 200, 500:
			if !queried {
				t.Fatalf("%s: %d without a query: %s", req.URL, res.StatusCode, body)
			}
		case 400, 404:
			var e struct{ Error string }
			if json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Fatalf("%s: %d without a JSON error: %s", req.URL, res.StatusCode, body)
			}
		default:
			t.Fatalf("%s: unexpected status %d: %s", req.URL, res.StatusCode, body)
		}
	})
}

// requestSafe percent-encodes the bytes that cannot stand in a request
// line, leaving everything else (stray '%' included) for the API to judge.
func requestSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
