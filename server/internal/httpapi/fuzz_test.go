package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// FuzzClientIP feeds clientIP arbitrary X-Forwarded-For headers from a
// trusted proxy and compares it with a plain reading of the rule: the
// right-most address that is not a trusted proxy, else the left-most
// address, stopping at the first entry that is not an address.
func FuzzClientIP(f *testing.F) {
	// Fiber's test connection comes from 0.0.0.0, which is trusted here.
	trusted := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	h := &handlers{Deps: Deps{TrustedProxies: trusted}}
	var got netip.Addr
	var header string
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		header = strings.Clone(c.Get(fiber.HeaderXForwardedFor))
		got = h.clientIP(c)
		return nil
	})
	f.Add("81.2.69.160")
	f.Add("81.2.69.160, 10.0.0.2")
	f.Add("2001:db8::1,fd00::2 ,\t10.1.1.1")
	f.Add("10.0.0.1, ::ffff:10.0.0.2")
	f.Add("unknown, 10.0.0.3")
	f.Add(",")
	f.Fuzz(func(t *testing.T, xff string) {
		// Skip what cannot be sent in a header (control characters other
		// than tab, which the server refuses with 400), or not within the
		// headers the server reads.
		if len(xff) > 2048 || strings.ContainsFunc(xff, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return
		}
		req, err := http.NewRequest("GET", "http://crumb.test/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(fiber.HeaderXForwardedFor, xff)
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := forwardedFor(header, trusted); got != want {
			t.Fatalf("clientIP with X-Forwarded-For %q = %v, want %v", header, got, want)
		}
	})
}

// forwardedFor is clientIP's rule written with the standard library, for
// a request from the trusted 0.0.0.0.
func forwardedFor(xff string, trusted []netip.Prefix) netip.Addr {
	client := netip.IPv4Unspecified()
	if xff == "" {
		return client
	}
	parts := strings.Split(xff, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.Trim(parts[i], " \t"))
		if err != nil {
			return client
		}
		client = a.Unmap()
		isTrusted := false
		for _, p := range trusted {
			isTrusted = isTrusted || p.Contains(client)
		}
		if !isTrusted {
			return client
		}
	}
	return client
}
