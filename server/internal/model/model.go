// Package model holds Crumb's domain types: sites and their consent
// configuration, page events, consent decisions and banner impressions. It
// depends on nothing else in Crumb.
package model

import (
	"time"

	"github.com/google/uuid"
)

// EventType names what a page event records.
type EventType string

// The event types the tracker sends.
const (
	Pageview   EventType = "pageview"
	Engagement EventType = "engagement"
	Search     EventType = "search"
	Outbound   EventType = "outbound"
	Download   EventType = "download"
	Custom     EventType = "custom"
	Error      EventType = "error"
)

// Valid reports whether t is one of the known event types.
func (t EventType) Valid() bool {
	switch t {
	case Pageview, Engagement, Search, Outbound, Download, Custom, Error:
		return true
	}
	return false
}

// Event is one stored page event, after validation and enrichment. It holds
// no IP address and no user agent. VisitorID, SessionID and ConsentID are
// uuid.Nil for anonymous counting.
type Event struct {
	ID        uuid.UUID `json:"id"`
	SiteID    string    `json:"site"`
	Time      time.Time `json:"ts"`
	Type      EventType `json:"type"`
	VisitorID uuid.UUID `json:"visitor,omitempty"`
	SessionID uuid.UUID `json:"session,omitempty"`
	ConsentID uuid.UUID `json:"consent,omitempty"`

	Hostname     string `json:"host,omitempty"`
	Path         string `json:"path,omitempty"`
	ReferrerHost string `json:"ref_host,omitempty"`
	ReferrerPath string `json:"ref_path,omitempty"`
	Source       string `json:"source,omitempty"`
	Channel      string `json:"channel,omitempty"`
	UTMSource    string `json:"utm_source,omitempty"`
	UTMMedium    string `json:"utm_medium,omitempty"`
	UTMCampaign  string `json:"utm_campaign,omitempty"`
	UTMContent   string `json:"utm_content,omitempty"`
	UTMTerm      string `json:"utm_term,omitempty"`

	Country  string `json:"country,omitempty"`
	Region   string `json:"region,omitempty"`
	City     string `json:"city,omitempty"`
	ASN      uint32 `json:"asn,omitempty"`
	Provider string `json:"provider,omitempty"`

	Browser        string `json:"browser,omitempty"`
	BrowserVersion string `json:"browser_version,omitempty"`
	OS             string `json:"os,omitempty"`
	OSVersion      string `json:"os_version,omitempty"`
	Device         string `json:"device,omitempty"`
	Screen         string `json:"screen,omitempty"`
	Language       string `json:"lang,omitempty"`

	Name       string   `json:"name,omitempty"`
	PropKeys   []string `json:"prop_keys,omitempty"`
	PropValues []string `json:"prop_values,omitempty"`
	SearchTerm string   `json:"search,omitempty"`
	LinkURL    string   `json:"link,omitempty"`
	DurationMS uint32   `json:"duration_ms,omitempty"`
	Status     uint16   `json:"status,omitempty"`

	// GPC is set when the browser sent Global Privacy Control with the
	// event (the Sec-GPC request header).
	GPC bool `json:"gpc,omitempty"`

	// DomainType is the kind of network the visitor came from
	// (commercial, network, education, government, organisation,
	// country, hosting, unknown), DomainSuffix the public suffix of the
	// network's reverse-DNS name ("ac.uk"; never the name itself), and
	// DomainSource what decided: "ptr", "asn" or "" (package rdns).
	DomainType   string `json:"domain_type,omitempty"`
	DomainSuffix string `json:"domain_suffix,omitempty"`
	DomainSource string `json:"domain_source,omitempty"`
}

// Anonymous reports whether the event was counted without consent and
// carries no visitor ID.
func (e *Event) Anonymous() bool { return e.VisitorID == uuid.Nil }

// Action is what a visitor did with the consent banner.
type Action string

// The consent actions.
const (
	AcceptAll Action = "accept_all"
	RejectAll Action = "reject_all"
	Customize Action = "custom"
	Withdraw  Action = "withdraw"
)

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case AcceptAll, RejectAll, Customize, Withdraw:
		return true
	}
	return false
}

// Categories are the optional consent categories a visitor granted.
// "necessary" is always granted and therefore not stored.
type Categories struct {
	Performance   bool `json:"performance"`
	Functionality bool `json:"functionality"`
	Targeting     bool `json:"targeting"`
}

// Decision is one recorded consent decision: the proof of consent.
type Decision struct {
	ID            uuid.UUID  `json:"id"`
	SiteID        string     `json:"site"`
	Time          time.Time  `json:"ts"`
	ConsentID     uuid.UUID  `json:"consent_id"`
	PolicyVersion uint32     `json:"policy_version"`
	TextsHash     string     `json:"texts_hash"`
	Action        Action     `json:"action"`
	Granted       Categories `json:"granted"`
	GPC           bool       `json:"gpc"`
	// GPCSource says what carried the GPC signal: the Sec-GPC request
	// header, the banner's script (navigator.globalPrivacyControl), or
	// both; empty without the signal.
	GPCSource GPCSource `json:"gpc_source,omitempty"`
	Path      string    `json:"path,omitempty"`
	Language  string    `json:"lang,omitempty"`
	Country   string    `json:"country,omitempty"`
	Device    string    `json:"device,omitempty"`
	// Seq is the visitor's own count of decisions on this consent (1 for
	// the first), sent by the banner; 0 when unknown. Proofs list a
	// consent's decisions by Seq, then Time (milliseconds).
	Seq uint32 `json:"seq,omitempty"`
	// DecisionMS is how long the banner was shown before this decision
	// was made in it, in milliseconds; 0 when not made in the banner (the
	// JavaScript API, an older script).
	DecisionMS uint32 `json:"decision_ms,omitempty"`
	// Revokes is set on a decision without performance added to an
	// existing consent: the consent's earlier tokens stop counting.
	Revokes bool `json:"-"`
}

// GPCSource is what carried a Global Privacy Control signal.
type GPCSource string

// The carriers of GPC.
const (
	GPCHeader GPCSource = "header"
	GPCScript GPCSource = "script"
	GPCBoth   GPCSource = "both"
)

// GPCOf combines the signal of the banner's script and of the request
// header.
func GPCOf(script, header bool) (bool, GPCSource) {
	switch {
	case script && header:
		return true, GPCBoth
	case header:
		return true, GPCHeader
	case script:
		return true, GPCScript
	}
	return false, ""
}

// Impression is one showing of the banner, counted without any ID.
type Impression struct {
	ID                uuid.UUID `json:"id"`
	SiteID            string    `json:"site"`
	Time              time.Time `json:"ts"`
	PolicyVersion     uint32    `json:"policy_version"`
	Path              string    `json:"path,omitempty"`
	Language          string    `json:"lang,omitempty"`
	Country           string    `json:"country,omitempty"`
	Device            string    `json:"device,omitempty"`
	GPC               bool      `json:"gpc"`
	UndeclaredCookies []string  `json:"undeclared_cookies,omitempty"`
}

// ErasureState is the state of an erasure request: pending until every row
// it names is gone and the pre-aggregated days are rebuilt without them.
type ErasureState struct {
	State       string    `json:"state"` // pending or complete
	RequestedAt time.Time `json:"requested_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Erasure is a visitor's request to erase what is stored under their IDs:
// the events of VisitorID with the consent records of the consents those
// events were sent under, and the consent records of ConsentIDs.
type Erasure struct {
	ID         uuid.UUID   `json:"id"`
	SiteID     string      `json:"site"`
	Time       time.Time   `json:"ts"`
	VisitorID  uuid.UUID   `json:"visitor,omitempty"` // uuid.Nil when only consent IDs were given
	ConsentIDs []uuid.UUID `json:"consent_ids,omitempty"`
}
