package result

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

// BannerVersion is a banner as visitors were shown it: what a decision's
// texts_hash names.
type BannerVersion struct {
	Site          string    `json:"site"`
	TextsHash     string    `json:"texts_hash"`
	PolicyVersion uint32    `json:"policy_version"`
	Language      string    `json:"lang"`
	FirstSeen     time.Time `json:"first_seen"`
	// Banner is the banner's configuration: texts, categories with their
	// cookies, policy link.
	Banner json.RawMessage `json:"banner"`
}

// Table is the version as one CSV row, the banner as JSON text.
func (b *BannerVersion) Table() Table {
	return Table{Header: []string{"site", "texts_hash", "policy_version", "lang", "first_seen", "banner"},
		Rows: [][]any{{b.Site, b.TextsHash, b.PolicyVersion, b.Language, b.FirstSeen.UTC().Format(time.RFC3339), string(b.Banner)}}}
}

// ProofHeader is the CSV header of ProofDecision.Record.
var ProofHeader = []string{"decision_id", "consent_id", "ts", "policy_version", "texts_hash", "action",
	"performance", "functionality", "targeting", "gpc", "gpc_source", "path", "lang", "country", "device", "seq"}

// ProofDecision is one recorded decision.
type ProofDecision struct {
	DecisionID    uuid.UUID        `json:"decision_id"`
	ConsentID     uuid.UUID        `json:"consent_id"`
	Time          time.Time        `json:"ts"`
	PolicyVersion uint32           `json:"policy_version"`
	TextsHash     string           `json:"texts_hash"`
	Action        model.Action     `json:"action"`
	Granted       model.Categories `json:"granted"`
	GPC           bool             `json:"gpc"`
	// GPCSource says what carried the GPC signal: "header" (Sec-GPC),
	// "script" (the banner read navigator.globalPrivacyControl), "both",
	// or "" without one.
	GPCSource model.GPCSource `json:"gpc_source"`
	Path      string          `json:"path"`
	Language  string          `json:"lang"`
	Country   string          `json:"country"`
	Device    string          `json:"device"`
	// Seq is the visitor's count of decisions on the consent (0 for
	// decisions recorded before it was kept); a consent's decisions are
	// listed by Seq, then Time (milliseconds).
	Seq uint32 `json:"seq"`
}

// Record is the decision as CSV cells.
func (d ProofDecision) Record() []string {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	return []string{d.DecisionID.String(), d.ConsentID.String(), d.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		uitoa(uint64(d.PolicyVersion)), d.TextsHash, string(d.Action), b(d.Granted.Performance),
		b(d.Granted.Functionality), b(d.Granted.Targeting), b(d.GPC), string(d.GPCSource), d.Path, d.Language, d.Country, d.Device,
		uitoa(uint64(d.Seq))}
}

func uitoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// ConsentHistory is every decision recorded under one consent ID.
type ConsentHistory struct {
	Site      string          `json:"site"`
	ConsentID uuid.UUID       `json:"consent_id"`
	Decisions []ProofDecision `json:"decisions"`
}

// Table lists the decisions.
func (h *ConsentHistory) Table() Table {
	t := Table{Header: ProofHeader}
	for _, d := range h.Decisions {
		row := make([]any, 0, len(ProofHeader))
		for _, c := range d.Record() {
			row = append(row, c)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
