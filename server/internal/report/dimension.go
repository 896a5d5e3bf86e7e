package report

// Dimension is what a breakdown groups by and a filter compares. The set is
// fixed: each one maps to a column expression in sql.go, never to text
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

	DimEvent     Dimension = "event"      // custom event name
	DimEventProp Dimension = "event_prop" // a custom event's property (breakdown needs event and property)
	DimOutbound  Dimension = "outbound"   // outbound link
	DimDownload  Dimension = "download"   // file download link
	DimSearch    Dimension = "search"     // site-search term
	DimErrorPage Dimension = "error_page" // "404 /missing"
)

// kind says where a dimension's values come from, which metrics its rows
// carry and how a filter on it applies.
type kind int

const (
	// kindPage: an attribute of page views (page, country, browser…). A
	// filter keeps the events that have the value.
	kindPage kind = iota
	// kindAcquisition: how a visit arrived (channel, source, referrer,
	// UTM), from the page views that did not come from the site itself. A
	// filter keeps the visits that arrived that way.
	kindAcquisition
	// kindSession: the first or last page of a visit, from sessions. A
	// filter keeps the visits with that entry or exit page.
	kindSession
	// kindEvent: custom events, links, downloads, search terms, error
	// pages. A filter keeps the visits with such an event.
	kindEvent
)

type dimension struct {
	name Dimension
	kind kind
}

// dimensions lists every dimension in the order the API documents them.
var dimensions = []dimension{
	{DimPage, kindPage}, {DimEntryPage, kindSession}, {DimExitPage, kindSession}, {DimHostname, kindPage},
	{DimChannel, kindAcquisition}, {DimSource, kindAcquisition}, {DimReferrer, kindAcquisition},
	{DimUTMSource, kindAcquisition}, {DimUTMMedium, kindAcquisition}, {DimUTMCampaign, kindAcquisition},
	{DimUTMContent, kindAcquisition}, {DimUTMTerm, kindAcquisition},
	{DimCountry, kindPage}, {DimRegion, kindPage}, {DimCity, kindPage}, {DimProvider, kindPage},
	{DimBrowser, kindPage}, {DimBrowserVersion, kindPage}, {DimOS, kindPage}, {DimOSVersion, kindPage},
	{DimDevice, kindPage}, {DimScreen, kindPage}, {DimLanguage, kindPage},
	{DimEvent, kindEvent}, {DimEventProp, kindEvent}, {DimOutbound, kindEvent}, {DimDownload, kindEvent},
	{DimSearch, kindEvent}, {DimErrorPage, kindEvent},
}

var dimensionIndex = func() map[Dimension]dimension {
	m := make(map[Dimension]dimension, len(dimensions))
	for _, d := range dimensions {
		m[d.name] = d
	}
	return m
}()

func lookupDimension(name Dimension) (dimension, bool) {
	d, ok := dimensionIndex[name]
	return d, ok
}

// Dimensions returns every dimension.
func Dimensions() []Dimension {
	out := make([]Dimension, len(dimensions))
	for i, d := range dimensions {
		out[i] = d.name
	}
	return out
}

// ParseDimension returns the dimension named s.
func ParseDimension(s string) (Dimension, error) {
	if _, ok := dimensionIndex[Dimension(s)]; !ok {
		return "", badParam("dimension", "unknown dimension %q", clip(s, 40))
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

// rowMetrics are the metrics of a breakdown row of a dimension.
func (d dimension) rowMetrics() []Metric {
	switch {
	case d.name == DimPage:
		return []Metric{MetricVisitors, MetricVisits, MetricPageviews, MetricTimeOnPage}
	case d.kind == kindPage:
		return []Metric{MetricVisitors, MetricVisits, MetricPageviews}
	case d.kind == kindAcquisition:
		return []Metric{MetricVisitors, MetricVisits}
	case d.kind == kindSession:
		return []Metric{MetricVisitors, MetricVisits, MetricBounceRate, MetricVisitDuration}
	default:
		return []Metric{MetricVisitors, MetricEvents, MetricConversionRate}
	}
}

// sessionMetrics need the visits themselves, not only sums.
func sessionMetric(m Metric) bool {
	return m == MetricBounceRate || m == MetricVisitDuration || m == MetricReturningVisitors
}
