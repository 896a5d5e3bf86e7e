package ingest

import "fmt"

// Code classifies why a request was refused; the HTTP layer maps it to a
// status code.
type Code int

// The codes.
const (
	Invalid     Code = iota + 1 // malformed input: 400
	Forbidden                   // unknown site, foreign origin, no consent: 403
	Unavailable                 // buffer full or shutting down: 503
)

// Drop reasons, counted in crumb_ingest_dropped_total.
const (
	ReasonInvalid        = "invalid"
	ReasonUnknownSite    = "unknown_site"
	ReasonForeignOrigin  = "foreign_origin"
	ReasonNoOrigin       = "no_origin"
	ReasonForeignURL     = "foreign_url"
	ReasonNotHeld        = "consent_not_held"
	ReasonWithdrawn      = "consent_withdrawn"
	ReasonNoConsent      = "no_consent"
	ReasonConsentInvalid = "consent_invalid"
	ReasonPolicyChanged  = "policy_changed"
	ReasonNotAnonymous   = "not_anonymous"
	ReasonBot            = "bot"
	ReasonBufferFull     = "buffer_full"
	ReasonShuttingDown   = "shutting_down"
)

// Error is a refused request: a code, the drop reason, and a message safe to
// show to the client.
type Error struct {
	Code    Code
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Code: Invalid, Reason: ReasonInvalid, Message: fmt.Sprintf(format, args...)}
}

func forbidden(reason, format string, args ...any) *Error {
	return &Error{Code: Forbidden, Reason: reason, Message: fmt.Sprintf(format, args...)}
}
