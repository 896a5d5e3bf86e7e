package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/notify"
	"github.com/crumbhq/crumb/server/internal/report"
	"github.com/crumbhq/crumb/server/internal/sites"
)

// notifier builds the digest sender of a command on db.
func notifier(ctx context.Context, db *clickhouse.DB, mail config.Mail, publicURL string) (*notify.Service, error) {
	mailer, err := notify.NewMailer(mail.SMTPURL, mail.SMTPFrom)
	if err != nil {
		return nil, err
	}
	registry := sites.NewRegistry(db, time.Hour, nil)
	if err := registry.Load(ctx); err != nil {
		return nil, err
	}
	rep := report.New(db.Conn(), registry, report.Options{Cluster: db.Cluster() != ""})
	return &notify.Service{Store: db, Sites: registry, Report: rep, Mailer: mailer, PublicURL: publicURL, Node: "cli"}, nil
}

func runReport(ctx context.Context, args []string, w io.Writer) error {
	var (
		site, to, period, every, publicURL string
		mail                               config.Mail
	)
	siteTo := func(fs *flag.FlagSet) {
		fs.StringVar(&site, "site", "", "the site ID (required)")
		fs.StringVar(&to, "to", "", "the recipient's e-mail address")
	}
	public := func(fs *flag.FlagSet) {
		fs.StringVar(&publicURL, "public-url", "http://localhost:8080", "where users reach crumb, for the links in the message (CRUMB_PUBLIC_URL)")
	}
	return subcommand(args, "report", map[string]func([]string) error{
		"send": func(args []string) error {
			return withStore(ctx, "report send", "Usage: crumb report send --site ID --to ADDRESS [--period 7d|30d|month|week|last_month]\n\nMails the site's digest now, through --smtp-url.", args,
				func(fs *flag.FlagSet) {
					siteTo(fs)
					public(fs)
					mail.Register(fs)
					fs.StringVar(&period, "period", "7d", "7d or 30d (ending today), month (so far), week or last_month (the last whole one)")
				},
				func(db *clickhouse.DB) error {
					n, err := notifier(ctx, db, mail, publicURL)
					if err != nil {
						return err
					}
					s, ok := n.Sites.Get(ctx, site)
					if !ok {
						return fmt.Errorf("no site with id %q (see crumb site list)", site)
					}
					p, err := notify.ParsePeriod(period, time.Now())
					if err != nil {
						return err
					}
					if err := n.SendDigest(ctx, s, to, p, "cli"); err != nil {
						if errors.Is(err, notify.ErrUnsubscribed) {
							return fmt.Errorf("%s unsubscribed from %s's digests; crumb report subscribe adds them again", to, site)
						}
						return err
					}
					fmt.Fprintf(w, "digest of %s (%s) sent to %s\n", site, p.Name, to)
					return nil
				})
		},
		"subscribe": func(args []string) error {
			return withStore(ctx, "report subscribe", "Usage: crumb report subscribe --site ID --to ADDRESS --every week|month\n\nMails the site's digest every week (Mondays) or month (on the 1st), from 01:00 UTC, once whatever the number of crumb nodes.", args,
				func(fs *flag.FlagSet) {
					siteTo(fs)
					fs.StringVar(&every, "every", "week", "week or month")
				},
				func(db *clickhouse.DB) error {
					if every != "week" && every != "month" {
						return errors.New("--every must be week or month")
					}
					n := &notify.Service{Store: db}
					if err := checkSite(ctx, db, site); err != nil {
						return err
					}
					if _, err := n.Subscribe(ctx, site, to, every, "cli"); err != nil {
						return err
					}
					fmt.Fprintf(w, "%s gets %s's digest every %s\n", to, site, every)
					return nil
				})
		},
		"unsubscribe": func(args []string) error {
			return withStore(ctx, "report unsubscribe", "Usage: crumb report unsubscribe --site ID --to ADDRESS", args, siteTo,
				func(db *clickhouse.DB) error {
					n := &notify.Service{Store: db}
					r, ok, err := n.RecipientOf(ctx, site, to)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("%s gets no digest of %s", to, site)
					}
					if _, _, err := n.Unsubscribe(ctx, r.Token); err != nil {
						return err
					}
					fmt.Fprintf(w, "%s gets no more digests of %s\n", to, site)
					return nil
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "report list", "Usage: crumb report list [--site ID]", args,
				func(fs *flag.FlagSet) { fs.StringVar(&site, "site", "", "only this site") },
				func(db *clickhouse.DB) error {
					list, err := db.Recipients(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SITE\tRECIPIENT\tEVERY\tADDED BY")
					for _, r := range list {
						if site != "" && r.SiteID != site {
							continue
						}
						e := r.Every
						switch {
						case r.Unsubscribed:
							e = "unsubscribed"
						case e == "":
							e = "-"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.SiteID, r.Address, e, r.AddedBy)
					}
					return tw.Flush()
				})
		},
	})
}

func checkSite(ctx context.Context, db *clickhouse.DB, id string) error {
	list, err := db.Sites(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(s model.Site) bool { return s.ID == id }) {
		return fmt.Errorf("no site with id %q (see crumb site list)", id)
	}
	return nil
}

func runAlert(ctx context.Context, args []string, w io.Writer) error {
	var (
		site, name, direction, emails, webhook, secret string
		threshold, minutes                             int
	)
	siteFlag := func(fs *flag.FlagSet) { fs.StringVar(&site, "site", "", "the site ID (required)") }
	return subcommand(args, "alert", map[string]func([]string) error{
		"add": func(args []string) error {
			return withStore(ctx, "alert add", "Usage: crumb alert add --site ID --name N --above|--below N --minutes M [--email A,B] [--webhook URL --secret S]\n\nNotifies when the current visitors (the last 5 minutes) stay above or below a number for M minutes, at most once an hour. A webhook gets a JSON POST signed with the secret: X-Crumb-Signature: sha256=HMAC-SHA256(secret, body) in hex.", args,
				func(fs *flag.FlagSet) {
					siteFlag(fs)
					fs.StringVar(&name, "name", "", "the alert's name")
					fs.IntVar(&threshold, "above", -1, "fire when current visitors stay above this")
					fs.StringVar(&direction, "below", "", "fire when current visitors stay below this")
					fs.IntVar(&minutes, "minutes", 10, "for how many minutes (1 to 1440)")
					fs.StringVar(&emails, "email", "", "comma-separated addresses to mail (through --smtp-url of crumb serve)")
					fs.StringVar(&webhook, "webhook", "", "URL that gets a signed JSON POST")
					fs.StringVar(&secret, "secret", "", "the webhook's signing secret, 16+ characters")
				},
				func(db *clickhouse.DB) error {
					a := model.Alert{Name: name, Minutes: minutes, Webhook: webhook, Secret: secret}
					switch {
					case threshold >= 0 && direction != "":
						return errors.New("give --above or --below, not both")
					case threshold >= 0:
						a.Direction, a.Threshold = "above", threshold
					case direction != "":
						var n int
						if _, err := fmt.Sscan(direction, &n); err != nil || n < 0 {
							return fmt.Errorf("--below takes a number, not %q", direction)
						}
						a.Direction, a.Threshold = "below", n
					default:
						return errors.New("give --above N or --below N")
					}
					if emails != "" {
						a.Emails = splitList(emails)
					}
					return editSite(ctx, db, site, func(s *model.Site) error {
						if i := slices.IndexFunc(s.Alerts, func(x model.Alert) bool { return x.Name == name }); i >= 0 {
							s.Alerts[i] = a
						} else {
							s.Alerts = append(s.Alerts, a)
						}
						return nil
					}, func() {
						fmt.Fprintf(w, "alert %q: current visitors %s %d for %d minutes\n", name, a.Direction, a.Threshold, a.Minutes)
					})
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "alert list", "Usage: crumb alert list --site ID", args, siteFlag, func(db *clickhouse.DB) error {
				return editSite(ctx, db, site, func(s *model.Site) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tWHEN\tE-MAIL\tWEBHOOK")
					for _, a := range s.Alerts {
						fmt.Fprintf(tw, "%s\t%s %d for %d min\t%s\t%s\n", a.Name, a.Direction, a.Threshold, a.Minutes, strings.Join(a.Emails, ","), a.Webhook)
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					return errUnchanged
				})
			})
		},
		"remove": func(args []string) error {
			return withStore(ctx, "alert remove", "Usage: crumb alert remove --site ID --name N", args,
				func(fs *flag.FlagSet) { siteFlag(fs); fs.StringVar(&name, "name", "", "the alert's name") },
				func(db *clickhouse.DB) error {
					return editSite(ctx, db, site, func(s *model.Site) error {
						i := slices.IndexFunc(s.Alerts, func(x model.Alert) bool { return x.Name == name })
						if i < 0 {
							return fmt.Errorf("site %s has no alert called %q", site, name)
						}
						s.Alerts = slices.Delete(s.Alerts, i, i+1)
						return nil
					}, func() { fmt.Fprintf(w, "alert %q removed\n", name) })
				})
		},
	})
}
