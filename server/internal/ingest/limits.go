package ingest

import "time"

// The documented input limits (README, "Limits").
const (
	MaxBodyBytes      = 64 << 10 // one request body
	MaxEventsPerBatch = 50
	MaxURLLength      = 2048
	MaxNameLength     = 120 // custom event names
	MaxProps          = 20  // properties per custom event
	MaxPropKeyLength  = 64
	MaxPropValLength  = 256
	MaxTermLength     = 200 // site-search terms
	MaxLanguageLength = 35
	MaxCookieNames    = 50 // undeclared cookie names per impression
	MaxCookieName     = 128
	MaxPastSkew       = 24 * time.Hour  // how old an event's timestamp may be
	MaxFutureSkew     = 5 * time.Minute // how far ahead of the server's clock
	MaxDecisionMS     = 86_400_000      // the longest time to a decision, in milliseconds
	MaxDurationMS     = 24 * 60 * 60 * 1000
)
