package query

import "slices"

// Dimension is what a breakdown groups by and a filter compares. The set is
// fixed: each one maps to a column expression in package plan, never to text
// from a request.
type Dimension string

// The dimensions.
const (
	DimPage      Dimension = "page"       // page path
	DimEntryPage Dimension = "entry_page" // first page of a visit
	DimExitPage  Dimension = "exit_page"  // last page of a visit
	DimHostname  Dimension = "hostname"

	DimChannel     Dimension = "channel"  // acquisition channel (Direct, Organic Search…)
	DimSource      Dimension = "source"   // referring site or utm_source
	DimReferrer    Dimension = "referrer" // referrer host and path
	DimUTMSource   Dimension = "utm_source"
	DimUTMMedium   Dimension = "utm_medium"
	DimUTMCampaign Dimension = "utm_campaign"
	DimUTMContent  Dimension = "utm_content"
	DimUTMTerm     Dimension = "utm_term"

	DimCountry        Dimension = "country" // ISO 3166-1 alpha-2
	DimRegion         Dimension = "region"  // "Bavaria, DE"
	DimCity           Dimension = "city"    // "Munich, Bavaria, DE"
	DimProvider       Dimension = "provider"
	DimBrowser        Dimension = "browser"
	DimBrowserVersion Dimension = "browser_version" // "Chrome 142"
	DimOS             Dimension = "os"
	DimOSVersion      Dimension = "os_version" // "iOS 18"
	DimDevice         Dimension = "device"
	DimScreen         Dimension = "screen"
	DimLanguage       Dimension = "language"
	DimDomainType     Dimension = "domain_type" // commercial, network, education, government… (package rdns)

	DimEvent     Dimension = "event"      // custom event name
	DimEventProp Dimension = "event_prop" // a custom event's property (breakdown needs event and property)
	DimOutbound  Dimension = "outbound"   // outbound link
	DimDownload  Dimension = "download"   // file download link
	DimSearch    Dimension = "search"     // site-search term
	DimErrorPage Dimension = "error_page" // "404 /missing"

	// How often visitors come: a visit's days since the same visitor's
	// previous visit, and visitors by their number of visits in the range.
	DimDaysSinceLastVisit Dimension = "days_since_last_visit"
	DimVisitsPerVisitor   Dimension = "visits_per_visitor"

	// A goal of the site, by name: filters only (goal:is:Signup keeps
	// the visits that converted).
	DimGoal Dimension = "goal"
)

// The values of the loyalty dimensions, in their order.
var (
	DaysSinceLastVisitBuckets = []string{"first visit", "same day", "1 day", "2-7 days", "8-30 days", "31-90 days", "more than 90 days"}
	VisitsPerVisitorBuckets   = []string{"1", "2", "3-5", "6-10", "more than 10"}
)

// Kind says where a dimension's values come from, which metrics its rows
// carry and how a filter on it applies.
type Kind int

const (
	// KindPage: an attribute of page views (page, country, browser…). A
	// filter keeps the events that have the value.
	KindPage Kind = iota
	// KindAcquisition: how a visit arrived (channel, source, referrer,
	// UTM), from the page views that did not come from the site itself. A
	// filter keeps the visits that arrived that way.
	KindAcquisition
	// KindSession: the first or last page of a visit, from sessions. A
	// filter keeps the visits with that entry or exit page.
	KindSession
	// KindEvent: custom events, links, downloads, search terms, error
	// pages. A filter keeps the visits with such an event.
	KindEvent
	// KindLoyalty: how often visitors come, from their visits, the ones
	// before the range included. Breakdowns only: no filter names them.
	KindLoyalty
	// KindGoal: a goal of the site (a page pattern or a custom event). A
	// filter keeps the visits with (is) or without (is_not) a conversion;
	// goals are reported by the goals report, not broken down.
	KindGoal
)

// Info describes a known dimension.
type Info struct {
	Name Dimension
	Kind Kind
}

// dimensions lists every dimension in the order the API documents them.
var dimensions = []Info{
	{DimPage, KindPage}, {DimEntryPage, KindSession}, {DimExitPage, KindSession}, {DimHostname, KindPage},
	{DimChannel, KindAcquisition}, {DimSource, KindAcquisition}, {DimReferrer, KindAcquisition},
	{DimUTMSource, KindAcquisition}, {DimUTMMedium, KindAcquisition}, {DimUTMCampaign, KindAcquisition},
	{DimUTMContent, KindAcquisition}, {DimUTMTerm, KindAcquisition},
	{DimCountry, KindPage}, {DimRegion, KindPage}, {DimCity, KindPage}, {DimProvider, KindPage},
	{DimBrowser, KindPage}, {DimBrowserVersion, KindPage}, {DimOS, KindPage}, {DimOSVersion, KindPage},
	{DimDevice, KindPage}, {DimScreen, KindPage}, {DimLanguage, KindPage}, {DimDomainType, KindPage},
	{DimEvent, KindEvent}, {DimEventProp, KindEvent}, {DimOutbound, KindEvent}, {DimDownload, KindEvent},
	{DimSearch, KindEvent}, {DimErrorPage, KindEvent},
	{DimDaysSinceLastVisit, KindLoyalty}, {DimVisitsPerVisitor, KindLoyalty},
	{DimGoal, KindGoal},
}

var dimensionIndex = func() map[Dimension]Info {
	m := make(map[Dimension]Info, len(dimensions))
	for _, d := range dimensions {
		m[d.Name] = d
	}
	return m
}()

// Lookup returns what is known of the dimension called name.
func Lookup(name Dimension) (Info, bool) {
	d, ok := dimensionIndex[name]
	return d, ok
}

// Dimensions returns every dimension a breakdown groups by (every one but
// goal, a filter only).
func Dimensions() []Dimension {
	var out []Dimension
	for _, d := range All() {
		out = append(out, d.Name)
	}
	return out
}

// ParseDimension returns the dimension named s.
func ParseDimension(s string) (Dimension, error) {
	if _, ok := dimensionIndex[Dimension(s)]; !ok {
		return "", BadParam("dimension", "unknown dimension %q", Clip(s, 40))
	}
	return Dimension(s), nil
}

// Metric names a number in a report.
type Metric string

// The traffic metrics.
const (
	MetricVisitors          Metric = "visitors"
	MetricVisits            Metric = "visits"
	MetricPageviews         Metric = "pageviews"
	MetricViewsPerVisit     Metric = "views_per_visit"
	MetricBounceRate        Metric = "bounce_rate"
	MetricVisitDuration     Metric = "visit_duration"
	MetricTimeOnPage        Metric = "time_on_page"
	MetricEvents            Metric = "events"
	MetricConversionRate    Metric = "conversion_rate"
	MetricReturningVisitors Metric = "returning_visitors"
	MetricAnonPageviews     Metric = "anonymous_pageviews"
)

// RowMetrics are the metrics of a breakdown row of the dimension.
func (d Info) RowMetrics() []Metric {
	switch {
	case d.Name == DimPage:
		return []Metric{MetricVisitors, MetricVisits, MetricPageviews, MetricTimeOnPage}
	case d.Kind == KindPage:
		return []Metric{MetricVisitors, MetricVisits, MetricPageviews}
	case d.Kind == KindAcquisition:
		return []Metric{MetricVisitors, MetricVisits}
	case d.Kind == KindSession:
		return []Metric{MetricVisitors, MetricVisits, MetricBounceRate, MetricVisitDuration}
	case d.Kind == KindLoyalty:
		return []Metric{MetricVisitors, MetricVisits}
	default:
		return []Metric{MetricVisitors, MetricEvents, MetricConversionRate}
	}
}

// NeedsSessions reports whether m needs the visits themselves, not only
// sums.
func (m Metric) NeedsSessions() bool {
	return m == MetricBounceRate || m == MetricVisitDuration || m == MetricReturningVisitors
}

// TimeseriesMetrics are the metrics a time series can show.
var TimeseriesMetrics = []Metric{MetricVisitors, MetricVisits, MetricPageviews, MetricViewsPerVisit,
	MetricBounceRate, MetricVisitDuration, MetricTimeOnPage, MetricEvents, MetricAnonPageviews}

// DefaultTimeseriesMetrics are shown when none are asked for.
var DefaultTimeseriesMetrics = []Metric{MetricVisitors, MetricVisits, MetricPageviews}

// ParseMetrics reads a comma-separated list of time-series metrics.
func ParseMetrics(list []string) ([]Metric, error) {
	if len(list) == 0 {
		return DefaultTimeseriesMetrics, nil
	}
	var out []Metric
	for _, name := range list {
		m := Metric(name)
		if !slices.Contains(TimeseriesMetrics, m) {
			return nil, BadParam("metrics", "unknown metric %q", Clip(name, 40))
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// ConsentDimension is what consent analytics break down by.
type ConsentDimension string

// The consent dimensions.
const (
	ConsentCountry       ConsentDimension = "country"
	ConsentDevice        ConsentDimension = "device"
	ConsentPage          ConsentDimension = "page"
	ConsentPolicyVersion ConsentDimension = "policy_version"
	ConsentLanguage      ConsentDimension = "language"
)

// ConsentDimensions are what consent analytics break down by.
var ConsentDimensions = []ConsentDimension{ConsentCountry, ConsentDevice, ConsentPage, ConsentPolicyVersion, ConsentLanguage}

// ParseConsentDimension returns the consent dimension named s.
func ParseConsentDimension(s string) (ConsentDimension, error) {
	for _, d := range ConsentDimensions {
		if string(d) == s {
			return d, nil
		}
	}
	return "", BadParam("dimension", "consent analytics break down by country, device, page, policy_version or language, not %q", Clip(s, 40))
}

// All describes every dimension a breakdown groups by, in the order the
// API documents them.
func All() []Info {
	return slices.DeleteFunc(slices.Clone(dimensions), func(d Info) bool { return d.Kind == KindGoal })
}
