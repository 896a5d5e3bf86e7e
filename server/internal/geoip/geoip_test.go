package geoip_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/geoip/geoipbuild"
)

// warnings is a slog.Handler that records the messages of warnings.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *warnings) WithGroup(string) slog.Handler            { return w }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.mu.Lock()
		w.msgs = append(w.msgs, r.Message)
		w.mu.Unlock()
	}
	return nil
}

func (w *warnings) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

var (
	google = geoip.Location{Country: "US", Region: "California", City: "Mountain View", ASN: 15169, Provider: "Google LLC"}
	cf     = geoip.Location{Country: "AU", Region: "New South Wales", City: "Sydney", ASN: 13335, Provider: "Cloudflare, Inc."}
	heise  = geoip.Location{Country: "DE", Region: "Lower Saxony", City: "Hanover", ASN: 12306, Provider: "Plus.line AG"}
	berlin = geoip.Location{Country: "DE", Region: "Berlin", City: "Berlin"}
	// countryOnly has no region or city, as DB-IP has for some networks.
	countryOnly = geoip.Location{Country: "FR"}
	private     = geoip.Location{Country: "ZZ", City: "Private", ASN: 64512, Provider: "Private"}
)

// fixtures writes a tiny City and ASN database and returns their paths.
func fixtures(t testing.TB) (cityPath, asnPath string) {
	t.Helper()
	p := netip.MustParsePrefix
	entries := map[netip.Prefix]geoip.Location{
		p("8.8.8.0/24"):               google,
		p("1.1.1.0/24"):               cf,
		p("193.99.144.0/24"):          heise,
		p("193.99.144.128/25"):        berlin, // more specific wins
		p("2.0.0.0/16"):               countryOnly,
		p("10.0.0.0/8"):               private, // must never be returned
		p("2001:4860::/32"):           google,
		p("2a00:1450:4001::/48"):      heise,
		p("2606:4700:4700::1111/128"): cf,
	}
	dir := t.TempDir()
	cityPath = filepath.Join(dir, "city.mmdb")
	asnPath = filepath.Join(dir, "asn.mmdb")
	if err := geoipbuild.WriteTestCity(cityPath, entries); err != nil {
		t.Fatal(err)
	}
	if err := geoipbuild.WriteTestASN(asnPath, entries); err != nil {
		t.Fatal(err)
	}
	return cityPath, asnPath
}

func TestLookup(t *testing.T) {
	cityPath, asnPath := fixtures(t)
	w := &warnings{}
	r := geoip.Open(cityPath, asnPath, slog.New(w))
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	if w.count() != 0 {
		t.Fatalf("warnings %q, want none", w.msgs)
	}
	if !r.HasCity() || !r.HasASN() {
		t.Fatalf("HasCity %v HasASN %v, want both", r.HasCity(), r.HasASN())
	}
	heiseDE := heise
	berlinASN := berlin
	berlinASN.ASN, berlinASN.Provider = heise.ASN, heise.Provider
	tests := []struct {
		name string
		ip   netip.Addr
		want geoip.Location
	}{
		{"ipv4", netip.MustParseAddr("8.8.8.8"), google},
		{"ipv4 other", netip.MustParseAddr("1.1.1.1"), cf},
		{"ipv4 europe", netip.MustParseAddr("193.99.144.80"), heiseDE},
		{"more specific prefix", netip.MustParseAddr("193.99.144.200"), berlinASN},
		{"country only, no asn", netip.MustParseAddr("2.0.1.2"), countryOnly},
		{"ipv4-mapped ipv6", netip.MustParseAddr("::ffff:8.8.8.4"), google},
		{"ipv6", netip.MustParseAddr("2001:4860:4860::8888"), google},
		{"ipv6 /48", netip.MustParseAddr("2a00:1450:4001:80b::200e"), heise},
		{"ipv6 /128", netip.MustParseAddr("2606:4700:4700::1111"), cf},
		{"ipv6 /128 neighbour", netip.MustParseAddr("2606:4700:4700::1112"), geoip.Location{}},
		{"not in database", netip.MustParseAddr("9.9.9.9"), geoip.Location{}},
		{"ipv6 not in database", netip.MustParseAddr("2a01:4f8::1"), geoip.Location{}},
		{"private ipv4 in database", netip.MustParseAddr("10.1.2.3"), geoip.Location{}},
		{"private ipv4", netip.MustParseAddr("192.168.1.1"), geoip.Location{}},
		{"private ipv6", netip.MustParseAddr("fd00::1"), geoip.Location{}},
		{"loopback", netip.MustParseAddr("127.0.0.1"), geoip.Location{}},
		{"loopback ipv6", netip.MustParseAddr("::1"), geoip.Location{}},
		{"link-local", netip.MustParseAddr("169.254.1.1"), geoip.Location{}},
		{"link-local ipv6", netip.MustParseAddr("fe80::1"), geoip.Location{}},
		{"multicast", netip.MustParseAddr("224.0.0.1"), geoip.Location{}},
		{"unspecified", netip.IPv4Unspecified(), geoip.Location{}},
		{"unspecified ipv6", netip.IPv6Unspecified(), geoip.Location{}},
		{"invalid", netip.Addr{}, geoip.Location{}},
		{"mapped private", netip.MustParseAddr("::ffff:10.0.0.1"), geoip.Location{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Lookup(tc.ip); got != tc.want {
				t.Errorf("Lookup(%s) = %+v, want %+v", tc.ip, got, tc.want)
			}
		})
	}
}

func TestOpenDegrades(t *testing.T) {
	cityPath, asnPath := fixtures(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a maxmind db"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.mmdb")
	ip := netip.MustParseAddr("8.8.8.8")
	cityOnly := geoip.Location{Country: google.Country, Region: google.Region, City: google.City}
	asnOnly := geoip.Location{ASN: google.ASN, Provider: google.Provider}
	tests := []struct {
		name              string
		city, asn         string
		wantWarnings      int
		want              geoip.Location
		wantCity, wantASN bool
	}{
		{"both empty", "", "", 2, geoip.Location{}, false, false},
		{"both missing", missing, missing, 2, geoip.Location{}, false, false},
		{"city missing", missing, asnPath, 1, asnOnly, false, true},
		{"asn empty", cityPath, "", 1, cityOnly, true, false},
		{"garbage city", garbage, asnPath, 1, asnOnly, false, true},
		{"directory as asn", cityPath, dir, 1, cityOnly, true, false},
		{"swapped files", asnPath, cityPath, 2, geoip.Location{}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &warnings{}
			r := geoip.Open(tc.city, tc.asn, slog.New(w))
			defer r.Close()
			if got := w.count(); got != tc.wantWarnings {
				t.Errorf("%d warnings %q, want %d", got, w.msgs, tc.wantWarnings)
			}
			if r.HasCity() != tc.wantCity || r.HasASN() != tc.wantASN {
				t.Errorf("HasCity %v HasASN %v, want %v %v", r.HasCity(), r.HasASN(), tc.wantCity, tc.wantASN)
			}
			if got := r.Lookup(ip); got != tc.want {
				t.Errorf("Lookup = %+v, want %+v", got, tc.want)
			}
			if got := r.Lookup(ip); got != tc.want { // no further warnings per lookup
				t.Errorf("second Lookup = %+v, want %+v", got, tc.want)
			}
			if got := w.count(); got != tc.wantWarnings {
				t.Errorf("%d warnings after lookups, want %d", got, tc.wantWarnings)
			}
		})
	}
}

func TestNilLoggerAndNilResolver(t *testing.T) {
	r := geoip.Open("", "/nonexistent/asn.mmdb", nil)
	if got := r.Lookup(netip.MustParseAddr("8.8.8.8")); !got.IsZero() {
		t.Errorf("Lookup = %+v, want empty", got)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	var nilR *geoip.Resolver
	if got := nilR.Lookup(netip.MustParseAddr("8.8.8.8")); !got.IsZero() {
		t.Errorf("nil Lookup = %+v, want empty", got)
	}
	if err := nilR.Close(); err != nil {
		t.Error(err)
	}
}

func TestLookupConcurrent(t *testing.T) {
	cityPath, asnPath := fixtures(t)
	r := geoip.Open(cityPath, asnPath, nil)
	defer r.Close()
	ips := []netip.Addr{
		netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("2001:4860:4860::8888"),
		netip.MustParseAddr("10.0.0.1"),
	}
	want := []geoip.Location{google, google, {}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				if got := r.Lookup(ips[i%3]); got != want[i%3] {
					t.Errorf("Lookup(%s) = %+v", ips[i%3], got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	cityPath, asnPath := fixtures(b)
	if dir := os.Getenv("CRUMB_GEOIP_OUT"); dir != "" {
		cityPath = filepath.Join(dir, geoipbuild.CityOutFile)
		asnPath = filepath.Join(dir, geoipbuild.ASNOutFile)
	}
	r := geoip.Open(cityPath, asnPath, nil)
	defer r.Close()
	ips := []netip.Addr{
		netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("193.99.144.80"),
		netip.MustParseAddr("2a00:1450:4001::1"),
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = r.Lookup(ips[i%len(ips)])
			i++
		}
	})
}
