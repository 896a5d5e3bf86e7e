// Package browsertest drives the headless Chromium of the browser tests of
// the tracker and the dashboards: Debian's chromium, started once per test
// binary, and tabs in fresh browser contexts (own cookies and cache) that
// record the page's console so that a test can fail on page errors. It is
// imported by tests only.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromePath is Debian's Chromium; the tests never download a browser.
const ChromePath = "/usr/bin/chromium"

// Start launches headless Chromium with the project's flags plus extra,
// and stops it when t ends. Without Chromium the test is skipped, or fails
// when CI is set.
func Start(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := exec.LookPath(ChromePath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("no Chromium at " + ChromePath + ": apt-get install -y chromium")
		}
		t.Fatal("no Chromium at " + ChromePath)
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromePath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	}, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return browser
}

// Tab is one page in a new browser context of browser, with a 60 s limit.
type Tab struct {
	T   *testing.T
	Ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// NewTab opens a blank tab in a new browser context and starts recording
// its console.
func NewTab(t *testing.T, browser context.Context) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	tb := &Tab{T: t, Ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	return tb
}

// Eval evaluates expr in the page, awaiting a promise, and decodes its
// value into T.
func Eval[T any](tb *Tab, expr string) T {
	tb.T.Helper()
	v, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// Do evaluates expr for its effect.
func (tb *Tab) Do(expr string) {
	tb.T.Helper()
	Eval[chromedp.Void](tb, expr)
}

// Navigate loads u and waits for the load event.
func (tb *Tab) Navigate(u string) {
	tb.T.Helper()
	if err := chromedp.Do(tb.Ctx, chromedp.Navigate(u)); err != nil {
		tb.T.Fatalf("navigate %s: %v", u, err)
	}
}

// WaitJS waits up to 10 s until the JS expression expr is truthy.
func (tb *Tab) WaitJS(what, expr string) {
	tb.T.Helper()
	WaitFor(tb.T, what, func() bool {
		v, err := chromedp.Run(tb.Ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		return err == nil && v
	})
}

// Click clicks the element of the JS expression expr with the mouse.
func (tb *Tab) Click(expr string) {
	tb.T.Helper()
	if err := chromedp.Do(tb.Ctx, chromedp.Click(chromedp.JSPath(expr))); err != nil {
		tb.T.Fatalf("click %s: %v", expr, err)
	}
}

// Key presses a key (kb.* constants or characters), with modifiers.
func (tb *Tab) Key(k string, mods ...chromedp.Modifier) {
	tb.T.Helper()
	var opts []chromedp.KeyOption
	if len(mods) > 0 {
		opts = append(opts, chromedp.KeyModifiers(mods...))
	}
	if err := chromedp.Do(tb.Ctx, chromedp.KeyEvent(k, opts...)); err != nil {
		tb.T.Fatal(err)
	}
}

// NoPageErrors fails the test if the page threw or logged an error, other
// than the ones containing one of allow.
func (tb *Tab) NoPageErrors(allow ...string) {
	tb.T.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
outer:
	for _, m := range tb.console {
		if !m.IsException() && m.Type != chromedp.ConsoleError {
			continue
		}
		for _, a := range allow {
			if strings.Contains(m.Text, a) {
				continue outer
			}
		}
		tb.T.Errorf("page error: %s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
	}
}

// Exceptions returns the uncaught exceptions and unhandled rejections.
func (tb *Tab) Exceptions() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, m := range tb.console {
		if m.IsException() {
			out = append(out, m.Text)
		}
	}
	return out
}

// WaitFor polls cond for up to 10 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
