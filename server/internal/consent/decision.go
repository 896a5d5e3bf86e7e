package consent

import (
	"fmt"
	"slices"

	"github.com/crumbhq/crumb/server/internal/model"
)

// Granted returns the categories a decision grants on site: every category
// the site asks for on "accept all" — but targeting when the browser sends
// Global Privacy Control, which only an explicit custom choice overrides —
// none on "reject all" and "withdraw", and the visitor's own choice, limited
// to the site's categories, on "custom".
func Granted(site *model.Site, action model.Action, chosen []string, gpc bool) (model.Categories, error) {
	enabled := map[string]bool{}
	for _, c := range site.EnabledCategories() {
		enabled[c.ID] = true
	}
	var g model.Categories
	switch action {
	case model.AcceptAll:
		g = model.Categories{Performance: enabled["performance"], Functionality: enabled["functionality"], Targeting: enabled["targeting"] && !gpc}
	case model.RejectAll, model.Withdraw:
	case model.Customize:
		for _, c := range chosen {
			if c == "necessary" {
				continue
			}
			if !slices.Contains(model.OptionalCategories, c) {
				return g, fmt.Errorf("unknown category %q", c)
			}
			if !enabled[c] {
				return g, fmt.Errorf("category %q is not offered by this site", c)
			}
			switch c {
			case "performance":
				g.Performance = true
			case "functionality":
				g.Functionality = true
			case "targeting":
				g.Targeting = true
			}
		}
	default:
		return g, fmt.Errorf("unknown action %q", action)
	}
	return g, nil
}
