package query

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// StepKind is what a funnel step or a goal matches.
type StepKind string

// The step kinds.
const (
	StepPage  StepKind = "page"  // a page view whose path matches a pattern
	StepEvent StepKind = "event" // a custom event, optionally with a property value
)

// Step is one step of a funnel, or what a goal counts:
//
//	page:PATTERN           a page view of the path; * in PATTERN stands for
//	                       any characters (page:/blog/*), everything else
//	                       is literal
//	event:NAME             a custom event called NAME
//	event:NAME:KEY=VALUE   …whose property KEY is VALUE
type Step struct {
	Kind StepKind
	// Path is the page pattern (StepPage).
	Path string
	// Event, PropKey and PropValue name the custom event (StepEvent);
	// PropKey is empty for any event of the name.
	Event, PropKey, PropValue string
}

// Limits of steps, funnels and goals.
const (
	MaxStepLen  = 512 // bytes of a step's text
	MinSteps    = 2
	MaxSteps    = 8
	MaxNameLen  = 100 // a goal's or saved funnel's name
	MaxGoals    = 50  // per site
	MaxFunnels  = 50  // saved per site
	maxWildcard = 8   // * in one page pattern
)

// ParseStep reads a step as written in a request or a goal.
func ParseStep(s string) (Step, error) {
	if len(s) > MaxStepLen || !utf8.ValidString(s) {
		return Step{}, BadParam("step", "longer than %d bytes or not UTF-8", MaxStepLen)
	}
	kind, rest, _ := strings.Cut(s, ":")
	switch StepKind(kind) {
	case StepPage:
		if !strings.HasPrefix(rest, "/") && !strings.HasPrefix(rest, "*") {
			return Step{}, BadParam("step", "%q: a page step is page:/path, with * for any characters (page:/blog/*)", Clip(s, 60))
		}
		if strings.Count(rest, "*") > maxWildcard {
			return Step{}, BadParam("step", "%q: at most %d * in a page pattern", Clip(s, 60), maxWildcard)
		}
		return Step{Kind: StepPage, Path: rest}, nil
	case StepEvent:
		name, prop, hasProp := strings.Cut(rest, ":")
		if name == "" {
			return Step{}, BadParam("step", "%q: an event step is event:NAME or event:NAME:KEY=VALUE", Clip(s, 60))
		}
		st := Step{Kind: StepEvent, Event: name}
		if hasProp {
			k, v, ok := strings.Cut(prop, "=")
			if !ok || k == "" {
				return Step{}, BadParam("step", "%q: an event's property is KEY=VALUE, such as event:signup:plan=pro", Clip(s, 60))
			}
			st.PropKey, st.PropValue = k, v
		}
		return st, nil
	}
	return Step{}, BadParam("step", "%q: a step starts with page: or event:", Clip(s, 60))
}

// String writes the step as ParseStep reads it.
func (s Step) String() string {
	if s.Kind == StepPage {
		return "page:" + s.Path
	}
	if s.PropKey != "" {
		return "event:" + s.Event + ":" + s.PropKey + "=" + s.PropValue
	}
	return "event:" + s.Event
}

// Wildcard reports whether a page step's pattern has a *.
func (s Step) Wildcard() bool { return strings.Contains(s.Path, "*") }

// FunnelWindow is how long after its first step a funnel may be completed.
type FunnelWindow string

// The funnel windows.
const (
	WindowVisit FunnelWindow = "visit" // within one visit (default)
	Window1d    FunnelWindow = "1d"
	Window7d    FunnelWindow = "7d"
	Window30d   FunnelWindow = "30d"
)

// Seconds is the window's length, 0 for a visit.
func (w FunnelWindow) Seconds() int64 {
	switch w {
	case Window1d:
		return 86400
	case Window7d:
		return 7 * 86400
	case Window30d:
		return 30 * 86400
	}
	return 0
}

// ParseWindow reads a funnel window; "" is the visit.
func ParseWindow(s string) (FunnelWindow, error) {
	switch w := FunnelWindow(s); w {
	case "":
		return WindowVisit, nil
	case WindowVisit, Window1d, Window7d, Window30d:
		return w, nil
	}
	return "", BadParam("window", "must be visit, 1d, 7d or 30d")
}

// Funnel is a funnel question: its steps in order and its window.
type Funnel struct {
	Steps  []Step
	Window FunnelWindow
}

// ParseFunnelSteps reads 2 to 8 steps and a window.
func ParseFunnelSteps(steps []string, window string) (Funnel, error) {
	if len(steps) < MinSteps || len(steps) > MaxSteps {
		return Funnel{}, BadParam("step", "a funnel has %d to %d steps, not %d", MinSteps, MaxSteps, len(steps))
	}
	f := Funnel{}
	for _, raw := range steps {
		st, err := ParseStep(raw)
		if err != nil {
			return Funnel{}, err
		}
		f.Steps = append(f.Steps, st)
	}
	var err error
	if f.Window, err = ParseWindow(window); err != nil {
		return Funnel{}, err
	}
	return f, nil
}

// ParseFunnel reads step (repeated) and window from URL parameters.
func ParseFunnel(v url.Values) (Funnel, error) { return ParseFunnelSteps(v["step"], v.Get("window")) }

// ParseRetentionInterval reads a retention interval: week (default) or
// month.
func ParseRetentionInterval(s string) (Interval, error) {
	switch Interval(s) {
	case "", Week:
		return Week, nil
	case Month:
		return Month, nil
	}
	return "", BadParam("interval", "retention cohorts are by week or month")
}

// ValidName checks the name of a goal or saved funnel.
func ValidName(param, name string) error {
	if strings.TrimSpace(name) == "" || len(name) > MaxNameLen || !utf8.ValidString(name) {
		return BadParam(param, "a name is 1 to %d bytes of UTF-8", MaxNameLen)
	}
	if strings.ContainsAny(name, "\x00\r\n") {
		return BadParam(param, "a name is one line")
	}
	return nil
}
