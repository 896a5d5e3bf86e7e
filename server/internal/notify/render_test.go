package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/crumbhq/crumb/server/internal/notify"
	"github.com/crumbhq/crumb/server/testkit/browsertest"
	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/reporttest"
)

// TestDigest_ReadableInANarrowMailClient renders the HTML digest of the
// fixture in Chromium at 360 and 600 px: no horizontal scrolling, the
// numbers visible, the button inside the screen. With
// CRUMB_UPDATE_SCREENSHOTS=1 it writes screenshots/digest.png for the
// README.
func TestDigest_ReadableInANarrowMailClient(t *testing.T) {
	db := chtest.DB(t)
	f := reporttest.Load(t, db)
	n := service(t, db, sites{f.Site.ID: &f.Site}, "", reporttest.Now, "a")
	d, err := notify.Compose(context.Background(), n.Report, &f.Site, notify.Period{Name: "8 to 10 March", From: reporttest.From, To: reporttest.To, Key: "x"}, "https://crumb.example.test")
	if err != nil {
		t.Fatal(err)
	}
	d.Unsubscribe = n.UnsubscribeURL(strings.Repeat("ab", 24))
	_, _, html, err := d.Render()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(html))
	}))
	defer srv.Close()
	browser := browsertest.Start(t)
	for _, width := range []int64{360, 600} {
		tb := browsertest.NewTab(t, browser)
		if err := chromedp.Do(tb.Ctx, chromedp.EmulateViewport(width, 1100)); err != nil {
			t.Fatal(err)
		}
		tb.Navigate(srv.URL)
		if w := browsertest.Eval[int64](tb, `document.documentElement.scrollWidth`); w > width {
			t.Errorf("at %d px the digest is %d px wide", width, w)
		}
		text := browsertest.Eval[string](tb, `document.body.innerText`)
		for _, want := range []string{"Fixture, 8 to 10 March", "Visitors", "Top pages", "/pricing", "Goals", "Open the dashboard", "Unsubscribe"} {
			if !strings.Contains(text, want) {
				t.Errorf("at %d px the digest lacks %q", width, want)
			}
		}
		if right := browsertest.Eval[float64](tb, `document.querySelector('a[href*="/dashboard/"]').getBoundingClientRect().right`); right > float64(width) {
			t.Errorf("at %d px the button ends at %.0f px", width, right)
		}
		tb.NoPageErrors()
		if width == 600 && os.Getenv("CRUMB_UPDATE_SCREENSHOTS") == "1" {
			png, err := chromedp.Run(tb.Ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll("screenshots", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile("screenshots/digest.png", png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
