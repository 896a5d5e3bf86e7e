package geoipbuild

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/crumbhq/crumb/server/internal/geoip"
)

// BuildASN reads the CSV files of the npm package @ip-location-db/asn in
// srcDir (asn-ipv4.csv and, if present, asn-ipv6.csv, with rows
// "range_start,range_end,as_number,as_organization") and writes a GeoLite2
// ASN layout database to outPath. The output replaces outPath atomically.
func BuildASN(srcDir, outPath string) error {
	var sources []string
	for _, name := range []string{ASNIPv4File, ASNIPv6File} {
		p := filepath.Join(srcDir, name)
		if _, err := os.Stat(p); err == nil {
			sources = append(sources, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("geoipbuild: asn source: %w", err)
		}
	}
	if len(sources) == 0 {
		return fmt.Errorf("geoipbuild: no %s or %s in %s (install the npm package %s)",
			ASNIPv4File, ASNIPv6File, srcDir, ASNPackage)
	}

	tree, err := newTree(asnDatabaseType,
		"IP to ASN from ip-location-db (RouteViews, NRO and DB-IP data, CC BY 4.0) in the GeoLite2 ASN layout",
		time.Now().Unix())
	if err != nil {
		return err
	}
	values := newValueCache(asnValue)
	in := &inserter{tree: tree}
	for _, p := range sources {
		if err := copyASNFile(p, in, values); err != nil {
			return err
		}
	}
	return writeAtomic(tree, outPath)
}

// copyASNFile inserts every row of one CSV file into in.
func copyASNFile(path string, in *inserter, values *valueCache[asnKey]) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("geoipbuild: opening asn source: %w", err)
	}
	defer f.Close()
	if err := copyASN(bufio.NewReaderSize(f, 1<<20), in, values); err != nil {
		return fmt.Errorf("geoipbuild: %s: %w", path, err)
	}
	return nil
}

// copyASN inserts every "start,end,number,organization" row read from r.
func copyASN(r io.Reader, in *inserter, values *valueCache[asnKey]) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		from, err := netip.ParseAddr(row[0])
		if err != nil {
			return fmt.Errorf("line %d: range start: %w", line, err)
		}
		to, err := netip.ParseAddr(row[1])
		if err != nil {
			return fmt.Errorf("line %d: range end: %w", line, err)
		}
		var number uint64
		if row[2] != "" {
			number, err = strconv.ParseUint(row[2], 10, 32)
			if err != nil {
				return fmt.Errorf("line %d: as number: %w", line, err)
			}
		}
		key := asnKey{number: uint32(number), org: row[3]}
		if key == (asnKey{}) {
			continue
		}
		if err := in.insertRange(from, to, values.get(key)); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// WriteTestASN writes a GeoLite2 ASN layout database holding entries to path,
// using each Location's ASN and Provider (other fields are ignored; entries
// without either are left out). More specific prefixes win over the ones
// containing them; prefixes inside the IPv6 networks that alias IPv4
// (::ffff:0:0/96, 2001::/32, 2002::/16) are skipped. It is meant for tests
// that need a tiny ASN database.
func WriteTestASN(path string, entries map[netip.Prefix]geoip.Location) error {
	tree, err := newTree(asnDatabaseType, "Crumb test ASN database", 1)
	if err != nil {
		return err
	}
	values := newValueCache(asnValue)
	in := &inserter{tree: tree}
	for _, p := range sortedPrefixes(entries) {
		l := entries[p]
		key := asnKey{number: l.ASN, org: l.Provider}
		if key == (asnKey{}) {
			continue
		}
		if err := in.insert(p, values.get(key)); err != nil {
			return err
		}
	}
	return writeAtomic(tree, path)
}

// sortedPrefixes returns the keys of entries, least specific first, so that
// inserting them in order lets more specific prefixes override.
func sortedPrefixes(entries map[netip.Prefix]geoip.Location) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(entries))
	for p := range entries {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		// An IPv4 prefix sits 96 bits deep in the IPv6 tree.
		return cmp.Or(cmp.Compare(depth(a), depth(b)),
			a.Masked().Addr().Compare(b.Masked().Addr()), a.Addr().Compare(b.Addr()))
	})
	return ps
}

// depth is the depth of p in an IPv6 tree.
func depth(p netip.Prefix) int {
	if p.Addr().Is4() {
		return p.Bits() + 96
	}
	return p.Bits()
}
