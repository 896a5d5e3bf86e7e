// Package notify brings reports to the people who want them: e-mail
// digests of a site's numbers, weekly or monthly, and traffic alerts by
// e-mail or signed webhook. With several crumb nodes each goes out once:
// a node claims it in ClickHouse first (clickhouse.DB.Claim).
package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Mailer sends e-mail through one SMTP server.
type Mailer struct {
	host     string
	port     int
	ssl      bool
	policy   mail.TLSPolicy
	user     string
	password string
	from     string
}

// Message is one e-mail: a plain-text part and, optionally, an HTML
// alternative; Headers are added as they are (List-Unsubscribe…).
type Message struct {
	To, Subject string
	Text, HTML  string
	Headers     map[string]string
}

// ErrNoSMTP is returned when no SMTP server is configured.
var ErrNoSMTP = errors.New("no SMTP server: set --smtp-url (CRUMB_SMTP_URL) and --smtp-from (CRUMB_SMTP_FROM)")

// NewMailer reads an SMTP URL, smtp://user:pass@host:port (STARTTLS,
// required except on a loopback address; port 587 by default) or
// smtps://user:pass@host:port (TLS from the start; port 465), and the
// From address. An empty URL gives a nil Mailer and no error.
func NewMailer(rawURL, from string) (*Mailer, error) {
	if rawURL == "" {
		return nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not err itself: it quotes the URL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("smtp url: %v (percent-encode special characters of the user and password)", err)
	}
	m := &Mailer{host: u.Hostname(), from: from, policy: mail.TLSMandatory}
	switch u.Scheme {
	case "smtp":
		m.port = 587
	case "smtps":
		m.port, m.ssl = 465, true
	default:
		return nil, fmt.Errorf("smtp url: the scheme must be smtp (STARTTLS) or smtps (TLS), not %q", u.Scheme)
	}
	if m.host == "" {
		return nil, errors.New("smtp url: no host")
	}
	if p := u.Port(); p != "" {
		if m.port, err = strconv.Atoi(p); err != nil || m.port < 1 || m.port > 65535 {
			return nil, fmt.Errorf("smtp url: bad port %q", p)
		}
	}
	if ip := net.ParseIP(m.host); (ip != nil && ip.IsLoopback()) || m.host == "localhost" {
		m.policy = mail.TLSOpportunistic
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.password, _ = u.User.Password()
	}
	if from == "" {
		return nil, errors.New("smtp: set --smtp-from (CRUMB_SMTP_FROM), the address digests and alerts come from")
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("smtp from %q: %w", from, err)
	}
	return m, nil
}

// From is the sender's address.
func (m *Mailer) From() string { return m.from }

// Send delivers msg.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	if m == nil {
		return ErrNoSMTP
	}
	em := mail.NewMsg()
	if err := em.From(m.from); err != nil {
		return fmt.Errorf("smtp: from %q: %w", m.from, err)
	}
	if err := em.To(msg.To); err != nil {
		return fmt.Errorf("smtp: to %q: %w", msg.To, err)
	}
	em.Subject(msg.Subject)
	em.SetDate()
	em.SetMessageID()
	for k, v := range msg.Headers {
		em.SetGenHeader(mail.Header(k), v)
	}
	em.SetBodyString(mail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		em.AddAlternativeString(mail.TypeTextHTML, msg.HTML)
	}
	opts := []mail.Option{mail.WithPort(m.port), mail.WithTimeout(30 * time.Second)}
	if m.ssl {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(m.policy))
	}
	if m.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(m.user), mail.WithPassword(m.password))
	}
	c, err := mail.NewClient(m.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, em); err != nil {
		return fmt.Errorf("smtp: send to %s: %w", msg.To, err)
	}
	return nil
}
