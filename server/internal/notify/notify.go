package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/report"
)

// Store keeps the recipients and the claims of deliveries
// (clickhouse.DB).
type Store interface {
	Recipients(ctx context.Context) ([]model.Recipient, error)
	PutRecipient(ctx context.Context, r model.Recipient) error
	Claim(ctx context.Context, key, node string, stale time.Duration) (string, bool, error)
	Sent(ctx context.Context, key, claimID, node, detail string) error
	LastSent(ctx context.Context, prefix string) (map[string]time.Time, error)
}

// Sites lists the configured sites.
type Sites interface {
	Get(ctx context.Context, id string) (*model.Site, bool)
	All() []*model.Site
}

// Service sends digests and alerts.
type Service struct {
	Store  Store
	Sites  Sites
	Report *report.Service
	Mailer *Mailer // nil: e-mail is off (webhooks still go out)
	// PublicURL is where users reach crumb, for the links in messages.
	PublicURL string
	// Node names this crumb node in the claims.
	Node string
	Log  *slog.Logger
	Now  func() time.Time
	HTTP *http.Client
}

// ClaimStale is how long a claim holds a delivery before another node may
// try it again (the claiming node died, or the SMTP server failed).
const ClaimStale = 10 * time.Minute

// ErrUnsubscribed refuses to mail an address that unsubscribed.
var ErrUnsubscribed = errors.New("this address unsubscribed from the site's digests")

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// NewToken returns the secret of an unsubscribe link.
func NewToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recipient returns the stored recipient of site and address, creating it
// (with no schedule) when there is none, so that every digest carries a
// working unsubscribe link.
func (s *Service) recipient(ctx context.Context, site, address, by string) (model.Recipient, error) {
	list, err := s.Store.Recipients(ctx)
	if err != nil {
		return model.Recipient{}, err
	}
	for _, r := range list {
		if r.SiteID == site && strings.EqualFold(r.Address, address) {
			return r, nil
		}
	}
	r := model.Recipient{SiteID: site, Address: address, Token: NewToken(), AddedBy: by}
	return r, s.Store.PutRecipient(ctx, r)
}

// Subscribe sets how often address gets site's digest (week, month, or ""
// for never); it also re-subscribes an address that unsubscribed.
func (s *Service) Subscribe(ctx context.Context, site, address, every, by string) (model.Recipient, error) {
	if every != "" && every != "week" && every != "month" {
		return model.Recipient{}, fmt.Errorf("every must be week or month, not %q", every)
	}
	if err := model.ValidEmail(address); err != nil {
		return model.Recipient{}, err
	}
	r, err := s.recipient(ctx, site, address, by)
	if err != nil {
		return r, err
	}
	r.Every, r.Unsubscribed = every, false
	return r, s.Store.PutRecipient(ctx, r)
}

// Unsubscribe stops the digests of the recipient whose link holds token;
// false when no recipient has it.
func (s *Service) Unsubscribe(ctx context.Context, token string) (model.Recipient, bool, error) {
	r, ok, err := s.Recipient(ctx, token)
	if err != nil || !ok || r.Unsubscribed {
		return r, ok, err
	}
	r.Unsubscribed, r.Every = true, ""
	return r, true, s.Store.PutRecipient(ctx, r)
}

// Recipient returns the recipient whose unsubscribe link holds token.
func (s *Service) Recipient(ctx context.Context, token string) (model.Recipient, bool, error) {
	if len(token) < 32 {
		return model.Recipient{}, false, nil
	}
	list, err := s.Store.Recipients(ctx)
	if err != nil {
		return model.Recipient{}, false, err
	}
	for _, r := range list {
		if hmac.Equal([]byte(r.Token), []byte(token)) {
			return r, true, nil
		}
	}
	return model.Recipient{}, false, nil
}

// RecipientOf returns site's recipient address, if stored.
func (s *Service) RecipientOf(ctx context.Context, site, address string) (model.Recipient, bool, error) {
	list, err := s.Store.Recipients(ctx)
	if err != nil {
		return model.Recipient{}, false, err
	}
	for _, r := range list {
		if r.SiteID == site && strings.EqualFold(r.Address, address) {
			return r, true, nil
		}
	}
	return model.Recipient{}, false, nil
}

// UnsubscribeURL is the link of a recipient's token.
func (s *Service) UnsubscribeURL(token string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/unsubscribe/" + token
}

// SendDigest mails site's digest of p to address now.
func (s *Service) SendDigest(ctx context.Context, site *model.Site, address string, p Period, by string) error {
	if s.Mailer == nil {
		return ErrNoSMTP
	}
	if err := model.ValidEmail(address); err != nil {
		return err
	}
	r, err := s.recipient(ctx, site.ID, address, by)
	if err != nil {
		return err
	}
	if r.Unsubscribed {
		return ErrUnsubscribed
	}
	return s.send(ctx, site, r, p)
}

func (s *Service) send(ctx context.Context, site *model.Site, r model.Recipient, p Period) error {
	d, err := Compose(ctx, s.Report, site, p, s.PublicURL)
	if err != nil {
		return err
	}
	d.Unsubscribe = s.UnsubscribeURL(r.Token)
	msg, err := d.Message(r.Address)
	if err != nil {
		return err
	}
	return s.Mailer.Send(ctx, msg)
}

// digestKey names the delivery of one digest.
func digestKey(site, address string, p Period) string {
	return "digest|" + site + "|" + strings.ToLower(address) + "|" + p.Key
}

// RunDigests sends every digest that is due and not sent yet: the last
// whole week or month of each subscribed recipient. One that was missed
// (every node down when it fell due) goes out on the next run.
func (s *Service) RunDigests(ctx context.Context) (sent int, err error) {
	if s.Mailer == nil {
		return 0, nil
	}
	list, err := s.Store.Recipients(ctx)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var errs []error
	for _, r := range list {
		p, ok := Due(r.Every, now)
		if !ok || r.Unsubscribed {
			continue
		}
		site, ok := s.Sites.Get(ctx, r.SiteID)
		if !ok {
			continue
		}
		key := digestKey(r.SiteID, r.Address, p)
		claim, won, err := s.Store.Claim(ctx, key, s.Node, ClaimStale)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !won {
			continue
		}
		if err := s.send(ctx, site, r, p); err != nil {
			s.log().Warn("digest not sent; retried after the claim expires", "site", r.SiteID, "to", r.Address, "period", p.Key, "err", err)
			errs = append(errs, err)
			continue
		}
		if err := s.Store.Sent(ctx, key, claim, s.Node, ""); err != nil {
			errs = append(errs, err)
			continue
		}
		sent++
		s.log().Info("digest sent", "site", r.SiteID, "to", r.Address, "period", p.Key)
	}
	return sent, errors.Join(errs...)
}

// RunAlerts checks every site's alerts and notifies those whose condition
// held for their minutes, each at most once an hour.
func (s *Service) RunAlerts(ctx context.Context) (fired int, err error) {
	var errs []error
	now := s.now()
	for _, site := range s.Sites.All() {
		if len(site.Alerts) == 0 {
			continue
		}
		longest := 0
		for _, a := range site.Alerts {
			longest = max(longest, a.Minutes)
		}
		current, err := s.Report.CurrentVisitors(ctx, site.ID, longest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range site.Alerts {
			if !holds(a, current[:a.Minutes]) {
				continue
			}
			prefix := "alert|" + site.ID + "|" + a.Name + "|"
			last, err := s.Store.LastSent(ctx, prefix)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			recent := false
			for key, at := range last {
				// Only this alert's keys: another alert's name may begin
				// with this one's and a "|".
				if alertHour.MatchString(strings.TrimPrefix(key, prefix)) {
					recent = recent || now.Sub(at) < time.Hour
				}
			}
			if recent {
				continue
			}
			key := prefix + now.Format("2006-01-02T15")
			claim, won, err := s.Store.Claim(ctx, key, s.Node, ClaimStale)
			if err != nil || !won {
				if err != nil {
					errs = append(errs, err)
				}
				continue
			}
			delivered, err := s.fire(ctx, site, a, current[:a.Minutes], now)
			detail := fmt.Sprint(current[0])
			if err != nil {
				s.log().Warn("alert not delivered everywhere", "site", site.ID, "alert", a.Name, "delivered", delivered, "err", err)
				errs = append(errs, err)
				if delivered == 0 {
					continue // tried again once the claim is stale
				}
				// Delivered somewhere: sent, so that the channels that
				// worked do not get it again within the hour.
				detail += "; failed: " + err.Error()
			}
			if err := s.Store.Sent(ctx, key, claim, s.Node, detail); err != nil {
				errs = append(errs, err)
				continue
			}
			fired++
		}
	}
	return fired, errors.Join(errs...)
}

// holds reports whether every minute's current visitors is above (or
// below) the alert's threshold.
func holds(a model.Alert, current []int64) bool {
	for _, v := range current {
		if a.Direction == "above" && v <= int64(a.Threshold) || a.Direction == "below" && v >= int64(a.Threshold) {
			return false
		}
	}
	return len(current) > 0
}

// AlertPayload is the JSON body a webhook receives.
type AlertPayload struct {
	Site            string `json:"site"`
	Alert           string `json:"alert"`
	Direction       string `json:"direction"`
	Threshold       int    `json:"threshold"`
	Minutes         int    `json:"minutes"`
	CurrentVisitors int64  `json:"current_visitors"`
	Lowest          int64  `json:"lowest"`
	Highest         int64  `json:"highest"`
	At              string `json:"at"`
	Dashboard       string `json:"dashboard"`
}

// Signature is the X-Crumb-Signature of a webhook body.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// fire delivers an alert to its webhook and addresses and returns to how
// many of them it was delivered.
func (s *Service) fire(ctx context.Context, site *model.Site, a model.Alert, current []int64, now time.Time) (int, error) {
	p := AlertPayload{Site: site.ID, Alert: a.Name, Direction: a.Direction, Threshold: a.Threshold, Minutes: a.Minutes,
		CurrentVisitors: current[0], Lowest: current[0], Highest: current[0], At: now.Format(time.RFC3339),
		Dashboard: strings.TrimRight(s.PublicURL, "/") + "/dashboard/?site=" + site.ID + "&period=today"}
	for _, v := range current {
		p.Lowest, p.Highest = min(p.Lowest, v), max(p.Highest, v)
	}
	var errs []error
	delivered := 0
	tried := func(err error) {
		if err == nil {
			delivered++
		}
		errs = append(errs, err)
	}
	if a.Webhook != "" {
		tried(s.webhook(ctx, a, p))
	}
	if len(a.Emails) > 0 {
		if s.Mailer == nil {
			errs = append(errs, ErrNoSMTP)
		} else {
			subject := fmt.Sprintf("Crumb alert: %s has %d current visitors", siteName(site), p.CurrentVisitors)
			text := fmt.Sprintf("%s: %q fired.\n\nCurrent visitors (the last 5 minutes) have been %s %d for %d minutes: %d now, between %d and %d.\n\nThe dashboard: %s\n\nThis alert fires at most once an hour; change it with `crumb alert`.\n",
				siteName(site), a.Name, a.Direction, a.Threshold, a.Minutes, p.CurrentVisitors, p.Lowest, p.Highest, p.Dashboard)
			for _, to := range a.Emails {
				tried(s.Mailer.Send(ctx, Message{To: to, Subject: subject, Text: text}))
			}
		}
	}
	return delivered, errors.Join(errs...)
}

// alertHour is the end of an alert's key: the hour it fired.
var alertHour = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}$`)

func (s *Service) webhook(ctx context.Context, a model.Alert, p AlertPayload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "crumb-alerts")
	req.Header.Set("X-Crumb-Event", "alert")
	req.Header.Set("X-Crumb-Signature", Signature(a.Secret, body))
	client := s.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// Errors name the webhook's host only: its path or query may hold a
	// token (as Slack's and Discord's do).
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook at %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook at %s answered %s", req.URL.Host, resp.Status)
	}
	return nil
}

// Run sends due digests and checks alerts every interval until ctx ends,
// each in its own loop: a Monday's many digests (each claim waits for
// the other nodes' claims) do not hold up the alerts.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	var wg sync.WaitGroup
	loop := func(name string, run func(context.Context) (int, error)) {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if _, err := run(ctx); err != nil && ctx.Err() == nil {
				s.log().Warn(name, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
	wg.Add(2)
	go loop("digests", s.RunDigests)
	go loop("alerts", s.RunAlerts)
	wg.Wait()
}
