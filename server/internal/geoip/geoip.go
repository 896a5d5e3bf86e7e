// Package geoip resolves client IP addresses to coarse locations (country,
// region, city) and network operators (autonomous system number and name).
//
// It reads MaxMind DB (.mmdb) files in the standard GeoIP2/GeoLite2 layout:
// MaxMind's own GeoIP2/GeoLite2 City (or Country) and ASN databases, DB-IP's
// MMDB-format Lite databases, or the files that package geoipbuild writes
// from the freely licensed ip-location-db npm packages. Only the derived
// Location is ever handed to callers; the IP address itself is not kept.
package geoip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what Crumb stores about where a request came from. Never the IP
// itself.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 country code, for example "DE".
	Country string
	// Region is the English name of the first (largest) subdivision, for
	// example "Bavaria".
	Region string
	// City is the English city name, for example "Munich".
	City string
	// ASN is the autonomous system number of the network, for example 15169.
	ASN uint32
	// Provider is the organisation that holds the autonomous system, for
	// example "Google LLC".
	Provider string
}

// IsZero reports whether l carries no information at all.
func (l Location) IsZero() bool {
	return l == Location{}
}

// cityRecord holds the parts of a GeoIP2 City/Country record that Crumb uses.
// Decoding into this narrow struct skips every other field and every
// non-English name, which keeps a lookup to a handful of small allocations.
type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		Names struct {
			EN string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	City struct {
		Names struct {
			EN string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
}

// asnRecord holds the fields of a GeoLite2 ASN (or GeoIP2 ISP) record that
// Crumb uses.
type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// Resolver looks up Locations in a GeoIP2/GeoLite2 City .mmdb and an ASN .mmdb
// (the files geoip2-golang reads). It reads them with maxminddb-golang v2, the
// reader underneath geoip2-golang, decoding only the fields Crumb keeps and
// caching decoded records by their offset, so a repeated lookup costs a tree
// walk and no allocation. Either database may be absent, in which case the
// fields it would provide stay empty. A Resolver is safe for concurrent use; a
// nil *Resolver resolves every address to an empty Location.
type Resolver struct {
	city      *maxminddb.Reader
	asn       *maxminddb.Reader
	cityCache *offsetCache[cityFields]
	asnCache  *offsetCache[asnRecord]
}

// cityFields are the decoded City fields of one database record.
type cityFields struct {
	country, region, city string
}

// Open opens the City database at cityPath and the ASN database at asnPath.
//
// Either path may be empty, missing, unreadable or of the wrong kind: the
// Resolver then works without that database, leaving the fields it would
// provide empty, and exactly one warning per such file is logged on log (a nil
// log discards the warnings). Open never fails and never panics, so a server
// without GeoIP data still starts.
func Open(cityPath, asnPath string, log *slog.Logger) *Resolver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{
		city:      openDB(cityPath, "city", "country, region and city", isCityType, log),
		asn:       openDB(asnPath, "asn", "ASN and provider", isASNType, log),
		cityCache: newOffsetCache[cityFields](cacheSlots),
		asnCache:  newOffsetCache[asnRecord](cacheSlots),
	}
}

// openDB opens one database, logging a single warning and returning nil when
// it cannot be used.
func openDB(path, kind, fields string, typeOK func(string) bool, log *slog.Logger) *maxminddb.Reader {
	if path == "" {
		log.Warn("geoip: no "+kind+" database configured; "+fields+" will be empty", "kind", kind)
		return nil
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		log.Warn("geoip: cannot open "+kind+" database; "+fields+" will be empty",
			"kind", kind, "path", path, "error", err)
		return nil
	}
	if t := db.Metadata.DatabaseType; !typeOK(t) {
		_ = db.Close()
		err := fmt.Errorf("database type %q is not a GeoIP2-layout %s database", t, kind)
		if strings.HasPrefix(t, "city ") || t == "asn" || strings.HasPrefix(t, "asn ") {
			err = fmt.Errorf("%w (this looks like a raw ip-location-db file: convert it with geoipbuild first)", err)
		}
		log.Warn("geoip: unusable "+kind+" database; "+fields+" will be empty",
			"kind", kind, "path", path, "error", err)
		return nil
	}
	return db
}

// isCityType reports whether a database type has the GeoIP2 City/Country
// record layout (GeoIP2-City, GeoLite2-City, GeoIP2-Country, DBIP-City-Lite,
// GeoIP2-Enterprise, ...). The ip-location-db flat layout ("city ipv4") is
// deliberately rejected: it matches none of these case-sensitive names.
func isCityType(t string) bool {
	return strings.Contains(t, "City") || strings.Contains(t, "Country") ||
		strings.Contains(t, "Enterprise")
}

// isASNType reports whether a database type has the GeoLite2 ASN record
// layout (GeoLite2-ASN, GeoIP2-ISP, DBIP-ASN-Lite, ...).
func isASNType(t string) bool {
	return strings.Contains(t, "ASN") || strings.Contains(t, "ISP")
}

// Lookup returns the Location of ip. Invalid, unspecified, loopback,
// link-local, multicast and private addresses, addresses not in the
// databases, and lookups that fail all yield an empty Location. IPv4-mapped
// IPv6 addresses are looked up as IPv4. Lookup is safe for concurrent use.
func (r *Resolver) Lookup(ip netip.Addr) Location {
	var loc Location
	if r == nil {
		return loc
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return loc
	}
	if r.city != nil {
		if c, ok := r.lookupCity(ip); ok {
			loc.Country, loc.Region, loc.City = c.country, c.region, c.city
		}
	}
	if r.asn != nil {
		if a, ok := r.lookupASN(ip); ok {
			loc.ASN, loc.Provider = a.Number, a.Organization
		}
	}
	return loc
}

// lookupCity returns the City fields for ip, decoding each database record
// only once in a while thanks to the offset cache.
func (r *Resolver) lookupCity(ip netip.Addr) (cityFields, bool) {
	res := r.city.Lookup(ip)
	if !res.Found() {
		return cityFields{}, false
	}
	off := res.Offset()
	if c, ok := r.cityCache.get(off); ok {
		return c, true
	}
	var rec cityRecord
	if err := res.Decode(&rec); err != nil {
		return cityFields{}, false
	}
	c := cityFields{country: rec.Country.ISOCode, city: rec.City.Names.EN}
	if len(rec.Subdivisions) > 0 {
		c.region = rec.Subdivisions[0].Names.EN
	}
	r.cityCache.put(off, c)
	return c, true
}

// lookupASN returns the ASN fields for ip.
func (r *Resolver) lookupASN(ip netip.Addr) (asnRecord, bool) {
	res := r.asn.Lookup(ip)
	if !res.Found() {
		return asnRecord{}, false
	}
	off := res.Offset()
	if a, ok := r.asnCache.get(off); ok {
		return a, true
	}
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		return asnRecord{}, false
	}
	r.asnCache.put(off, rec)
	return rec, true
}

// HasCity reports whether a City database is loaded.
func (r *Resolver) HasCity() bool { return r != nil && r.city != nil }

// HasASN reports whether an ASN database is loaded.
func (r *Resolver) HasASN() bool { return r != nil && r.asn != nil }

// Close releases the databases. It must not run concurrently with Lookup:
// the memory-mapped files are unmapped. Lookups after Close return empty
// Locations.
func (r *Resolver) Close() error {
	if r == nil {
		return nil
	}
	var errs []error
	if r.city != nil {
		if err := r.city.Close(); err != nil {
			errs = append(errs, fmt.Errorf("geoip: closing city database: %w", err))
		}
	}
	if r.asn != nil {
		if err := r.asn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("geoip: closing asn database: %w", err))
		}
	}
	return errors.Join(errs...)
}
