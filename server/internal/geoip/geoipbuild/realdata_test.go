package geoipbuild_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/geoip/geoipbuild"
)

// TestRealData builds from the real npm packages when CRUMB_GEOIP_NODE_MODULES
// names a node_modules folder holding them (see NOTICE.md), writing into
// CRUMB_GEOIP_OUT (default: a temporary folder), and checks well-known
// addresses. CRUMB_GEOIP_ONLY=city or =asn builds just one of the two.
func TestRealData(t *testing.T) {
	nm := os.Getenv("CRUMB_GEOIP_NODE_MODULES")
	if nm == "" {
		t.Skip("CRUMB_GEOIP_NODE_MODULES not set")
	}
	out := os.Getenv("CRUMB_GEOIP_OUT")
	if out == "" {
		out = t.TempDir()
	}
	only := os.Getenv("CRUMB_GEOIP_ONLY")
	cityPath := filepath.Join(out, geoipbuild.CityOutFile)
	asnPath := filepath.Join(out, geoipbuild.ASNOutFile)
	if only != "asn" {
		start := time.Now()
		if err := geoipbuild.BuildCity(filepath.Join(nm, geoipbuild.CityPackage), cityPath); err != nil {
			t.Fatal(err)
		}
		t.Logf("BuildCity: %v", time.Since(start))
	}
	if only != "city" {
		start := time.Now()
		if err := geoipbuild.BuildASN(filepath.Join(nm, geoipbuild.ASNPackage), asnPath); err != nil {
			t.Fatal(err)
		}
		t.Logf("BuildASN: %v", time.Since(start))
	}
	if only != "" {
		return
	}
	r := geoip.Open(cityPath, asnPath, nil)
	defer r.Close()
	for _, tc := range []struct {
		ip      string
		country string
		asn     uint32
	}{
		{"8.8.8.8", "US", 15169},
		{"1.1.1.1", "AU", 13335},
		{"193.99.144.80", "DE", 0},
		{"2001:4860:4860::8888", "", 15169},
	} {
		loc := r.Lookup(netip.MustParseAddr(tc.ip))
		t.Logf("%s -> %+v", tc.ip, loc)
		if tc.country != "" && loc.Country != tc.country {
			t.Errorf("%s: country %q, want %q", tc.ip, loc.Country, tc.country)
		}
		if tc.asn != 0 && loc.ASN != tc.asn {
			t.Errorf("%s: ASN %d, want %d", tc.ip, loc.ASN, tc.asn)
		}
	}
}
