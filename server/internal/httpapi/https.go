package httpapi

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// servedOverHTTPS reports whether the browser reached crumb over HTTPS:
// the public URL is https, the connection is TLS, or a trusted proxy (the
// --trusted-proxies that client addresses are taken from) says so in
// X-Forwarded-Proto.
func (h *handlers) servedOverHTTPS(c *fiber.Ctx) bool {
	if h.publicHTTPS || c.Context().IsTLS() {
		return true
	}
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	if !h.trusted(peer.Unmap()) {
		return false
	}
	proto, _, _ := strings.Cut(c.Get(fiber.HeaderXForwardedProto), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// strictTransport is middleware: every answer served over HTTPS tells the
// browser to use HTTPS only for a year (HSTS).
func (h *handlers) strictTransport(c *fiber.Ctx) error {
	if h.servedOverHTTPS(c) {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
	}
	return c.Next()
}
