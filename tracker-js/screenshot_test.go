package trackerjs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/crumbhq/crumb/server/testkit/crumbtest"
)

// TestScreenshots writes PNGs of the banner on the demo site to
// screenshots/: both layers, desktop and 360 px, light and dark.
//
//	CRUMB_UPDATE_SCREENSHOTS=1 go test -run TestScreenshots ./tracker-js/
func TestScreenshots(t *testing.T) {
	if os.Getenv("CRUMB_UPDATE_SCREENSHOTS") != "1" {
		t.Skip("set CRUMB_UPDATE_SCREENSHOTS=1 to write the screenshots")
	}
	h := newHarness(t)
	h.newSite(t, func(s *crumbtest.Site) { s.Domain = "localhost" })
	demo, _ := h.app.Sites.Demo()
	if err := os.MkdirAll("screenshots", 0o755); err != nil {
		t.Fatal(err)
	}
	open := func(w, ht int64, scheme string, opts ...tabOption) *tab {
		tb := h.newTab(t, demo.ID, append(opts, withHost("localhost"))...)
		if err := chromedp.Do(tb.Ctx, chromedp.EmulateViewport(w, ht)); err != nil {
			t.Fatal(err)
		}
		_, err := chromedp.Call(tb.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{
			{Name: "prefers-color-scheme", Value: scheme}, {Name: "prefers-reduced-motion", Value: "reduce"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		tb.Navigate(fmt.Sprintf("http://localhost:%s/demo/", h.port))
		tb.WaitJS("the banner", firstLayer)
		return tb
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"mobile", 360, 740}} {
		for _, scheme := range []string{"light", "dark"} {
			tb := open(size.w, size.h, scheme)
			shot(t, tb, fmt.Sprintf("first-layer-%s-%s.png", size.name, scheme))
			tb.Click(button(firstLayer, "Customize"))
			tb.WaitJS("the settings", settings)
			tb.Do(settings + `.querySelectorAll('details')[1].open = true`)
			shot(t, tb, fmt.Sprintf("settings-%s-%s.png", size.name, scheme))
		}
	}
	// German has the longest texts.
	shot(t, open(1280, 800, "light", withLanguage("de-DE,de")), "first-layer-desktop-light-de.png")
}

func shot(t *testing.T, tb *tab, name string) {
	t.Helper()
	// No hover effect where the last click left the pointer.
	if err := chromedp.Do(tb.Ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	png, err := chromedp.Run(tb.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(png) > 200<<10 {
		t.Errorf("%s is %d KB, over 200 KB", name, len(png)>>10)
	}
	if err := os.WriteFile(filepath.Join("screenshots", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d KB", name, len(png)>>10)
}
