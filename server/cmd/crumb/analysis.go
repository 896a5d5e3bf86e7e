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

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
)

// stepsFlag collects repeated --step flags.
type stepsFlag []string

func (s *stepsFlag) String() string     { return strings.Join(*s, " ") }
func (s *stepsFlag) Set(v string) error { *s = append(*s, v); return nil }

// errUnchanged ends an editSite that only read the site.
var errUnchanged = errors.New("unchanged")

// editSite loads site id, lets edit change it, validates and stores it,
// then runs each of done (what to print once it is stored).
func editSite(ctx context.Context, db *clickhouse.DB, id string, edit func(s *model.Site) error, done ...func()) error {
	list, err := db.Sites(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(s model.Site) bool { return s.ID == id })
	if i < 0 {
		return fmt.Errorf("no site with id %q (see crumb site list)", id)
	}
	s := list[i]
	if err := edit(&s); err != nil {
		if errors.Is(err, errUnchanged) {
			return nil
		}
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if err := db.PutSite(ctx, s); err != nil {
		return err
	}
	for _, fn := range done {
		fn()
	}
	return nil
}

func runGoal(ctx context.Context, args []string, w io.Writer) error {
	var site, name, match string
	siteFlag := func(fs *flag.FlagSet) { fs.StringVar(&site, "site", "", "the site ID (required)") }
	return subcommand(args, "goal", map[string]func([]string) error{
		"add": func(args []string) error {
			return withStore(ctx, "goal add", "Usage: crumb goal add --site ID --name NAME --match page:/thanks|page:/docs/*|event:signup[:KEY=VALUE]\n\nDefines a goal, or changes the goal of that name.", args,
				func(fs *flag.FlagSet) {
					siteFlag(fs)
					fs.StringVar(&name, "name", "", "the goal's name, shown in the dashboard")
					fs.StringVar(&match, "match", "", "what converts: page:PATH (* for any characters) or event:NAME[:KEY=VALUE]")
				},
				func(db *clickhouse.DB) error {
					return editSite(ctx, db, site, func(s *model.Site) error {
						g := model.Goal{Name: name, Match: match}
						if i := slices.IndexFunc(s.Goals, func(x model.Goal) bool { return x.Name == name }); i >= 0 {
							s.Goals[i] = g
						} else {
							s.Goals = append(s.Goals, g)
						}
						return nil
					}, func() { fmt.Fprintf(w, "goal %q: %s\n", name, match) })
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "goal list", "Usage: crumb goal list --site ID", args, siteFlag, func(db *clickhouse.DB) error {
				return editSite(ctx, db, site, func(s *model.Site) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tMATCH")
					for _, g := range s.Goals {
						fmt.Fprintf(tw, "%s\t%s\n", g.Name, g.Match)
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					return errUnchanged
				})
			})
		},
		"remove": func(args []string) error {
			return withStore(ctx, "goal remove", "Usage: crumb goal remove --site ID --name NAME", args,
				func(fs *flag.FlagSet) { siteFlag(fs); fs.StringVar(&name, "name", "", "the goal's name") },
				func(db *clickhouse.DB) error {
					return editSite(ctx, db, site, func(s *model.Site) error {
						i := slices.IndexFunc(s.Goals, func(x model.Goal) bool { return x.Name == name })
						if i < 0 {
							return fmt.Errorf("site %s has no goal called %q", site, name)
						}
						s.Goals = slices.Delete(s.Goals, i, i+1)
						return nil
					}, func() { fmt.Fprintf(w, "goal %q removed\n", name) })
				})
		},
	})
}

func runFunnel(ctx context.Context, args []string, w io.Writer) error {
	var site, name, window string
	var steps stepsFlag
	siteFlag := func(fs *flag.FlagSet) { fs.StringVar(&site, "site", "", "the site ID (required)") }
	return subcommand(args, "funnel", map[string]func([]string) error{
		"add": func(args []string) error {
			return withStore(ctx, "funnel add", "Usage: crumb funnel add --site ID --name NAME --step STEP --step STEP… [--window visit|1d|7d|30d]\n\nSaves a funnel of 2 to 8 steps (page:PATH or event:NAME[:KEY=VALUE]), or replaces the funnel of that name.", args,
				func(fs *flag.FlagSet) {
					siteFlag(fs)
					fs.StringVar(&name, "name", "", "the funnel's name")
					fs.Var(&steps, "step", "a step, in order (repeat): page:PATH (* for any characters) or event:NAME[:KEY=VALUE]")
					fs.StringVar(&window, "window", "visit", "how long after the first step the funnel may be completed: visit, 1d, 7d or 30d")
				},
				func(db *clickhouse.DB) error {
					return editSite(ctx, db, site, func(s *model.Site) error {
						f := model.Funnel{Name: name, Steps: steps, Window: window}
						if i := slices.IndexFunc(s.Funnels, func(x model.Funnel) bool { return x.Name == name }); i >= 0 {
							s.Funnels[i] = f
						} else {
							s.Funnels = append(s.Funnels, f)
						}
						return nil
					}, func() { fmt.Fprintf(w, "funnel %q: %s (window %s)\n", name, strings.Join(steps, " → "), window) })
				})
		},
		"list": func(args []string) error {
			return withStore(ctx, "funnel list", "Usage: crumb funnel list --site ID", args, siteFlag, func(db *clickhouse.DB) error {
				return editSite(ctx, db, site, func(s *model.Site) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tWINDOW\tSTEPS")
					for _, f := range s.Funnels {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, f.Window, strings.Join(f.Steps, " → "))
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					return errUnchanged
				})
			})
		},
		"remove": func(args []string) error {
			return withStore(ctx, "funnel remove", "Usage: crumb funnel remove --site ID --name NAME", args,
				func(fs *flag.FlagSet) { siteFlag(fs); fs.StringVar(&name, "name", "", "the funnel's name") },
				func(db *clickhouse.DB) error {
					return editSite(ctx, db, site, func(s *model.Site) error {
						i := slices.IndexFunc(s.Funnels, func(x model.Funnel) bool { return x.Name == name })
						if i < 0 {
							return fmt.Errorf("site %s has no funnel called %q", site, name)
						}
						s.Funnels = slices.Delete(s.Funnels, i, i+1)
						return nil
					}, func() { fmt.Fprintf(w, "funnel %q removed\n", name) })
				})
		},
	})
}
