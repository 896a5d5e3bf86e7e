// Package imports reads other analytics tools' exports into daily
// aggregates that Crumb shows, marked as imported, for the days before its
// own data: Plausible's CSV export (a zip of imported_*.csv files) and
// GoatCounter's CSV export (one row per page view, optionally gzipped).
// Nothing of a visitor is kept: GoatCounter's session IDs are counted per
// day and dropped.
package imports

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Formats names the formats Read knows.
var Formats = []string{"plausible", "goatcounter"}

// Day is one day's totals.
type Day struct {
	Date                         time.Time
	Visitors, Visits, Pageviews  uint64
	Bounces, VisitDurationSecond uint64
	// HasVisits says whether the export has visits, bounces and visit
	// durations (GoatCounter's has not).
	HasVisits bool
}

// Row is one day's numbers of one value of a dimension (page, source,
// country, browser, device, event).
type Row struct {
	Date       time.Time
	Dim, Value string
	Visitors   uint64
	Pageviews  uint64 // events, for the event dimension
}

// Data is an export read whole.
type Data struct {
	Format string
	Days   []Day
	Rows   []Row
}

// The dimensions an import fills.
var Dims = []string{"page", "source", "country", "browser", "device", "event"}

// Limits of an import.
const (
	MaxFileBytes = 2 << 30 // a file of the export, uncompressed
	MaxRows      = 50_000_000
	MaxDays      = 20 * 366
	// MaxValueBytes is the longest field of a row (a page, a source…).
	MaxValueBytes = 2048
)

// Error is a problem with the export: the file, the line (0 when it is
// not one line's) and what is wrong.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s, line %d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// Read reads the export at path in format.
func Read(format, file string) (*Data, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch format {
	case "plausible":
		return ReadPlausible(f, st.Size())
	case "goatcounter":
		return ReadGoatCounter(f, path.Base(file))
	}
	return nil, &Error{Msg: fmt.Sprintf("unknown format %q: crumb imports %s", format, strings.Join(Formats, " or "))}
}

// ---------------------------------------------------------------------------
// Plausible: a zip of imported_TABLE_YYYYMMDD_YYYYMMDD.csv files with a
// header line each.

var goatPath = regexp.MustCompile(`^[12],?Path$`)

var plausibleName = regexp.MustCompile(`^imported_([a-z_]+)_(\d{8})_(\d{8})\.csv$`)

// plausibleTables maps the files this import reads to the dimension they
// fill ("" for the daily totals) and the column holding its value.
var plausibleTables = map[string][2]string{
	"visitors": {"", ""}, "pages": {"page", "page"}, "sources": {"source", "source"}, "locations": {"country", "country"},
	"browsers": {"browser", "browser"}, "devices": {"device", "device"}, "custom_events": {"event", "name"},
}

// ReadPlausible reads a Plausible CSV export (the zip).
func ReadPlausible(r io.ReaderAt, size int64) (*Data, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, &Error{Msg: "not a Plausible export: it is not a zip file (" + err.Error() + ")"}
	}
	d := &Data{Format: "plausible"}
	seenVisitors := false
	// A value's visitors over several rows of one day (several hostnames,
	// regions of a country…) are added up.
	type key struct {
		day        time.Time
		dim, value string
	}
	rows := map[key]*Row{}
	nRows := 0 // over every file of the zip
	for _, f := range zr.File {
		name := path.Base(f.Name)
		m := plausibleName.FindStringSubmatch(name)
		if m == nil || f.FileInfo().IsDir() {
			continue
		}
		table, ok := plausibleTables[m[1]]
		if !ok {
			continue // entry and exit pages, operating systems…: not imported
		}
		if f.UncompressedSize64 > MaxFileBytes {
			return nil, &Error{File: name, Msg: "larger than 2 GiB"}
		}
		rc, err := f.Open()
		if err != nil {
			return nil, &Error{File: name, Msg: err.Error()}
		}
		err = readCSV(name, rc, &nRows, func(line int, get func(string) (string, bool)) error {
			day, err := dateField(get, "date")
			if err != nil {
				return err
			}
			if table[0] == "" {
				seenVisitors = true
				dd := Day{Date: day, HasVisits: true}
				for _, c := range []struct {
					col string
					dst *uint64
				}{{"visitors", &dd.Visitors}, {"pageviews", &dd.Pageviews}, {"bounces", &dd.Bounces}, {"visits", &dd.Visits},
					{"visit_duration", &dd.VisitDurationSecond}} {
					if *c.dst, err = count(get, c.col, true); err != nil {
						return err
					}
				}
				d.Days = append(d.Days, dd)
				return nil
			}
			value, ok := get(table[1])
			if !ok {
				return fmt.Errorf("no %s column", table[1])
			}
			visitors, err := count(get, "visitors", true)
			if err != nil {
				return err
			}
			pv, err := count(get, "pageviews", false)
			if err != nil {
				return err
			}
			if table[0] == "event" {
				if pv, err = count(get, "events", true); err != nil {
					return err
				}
			}
			k := key{day, table[0], value}
			if r := rows[k]; r != nil {
				r.Visitors += visitors
				r.Pageviews += pv
			} else {
				rows[k] = &Row{Date: day, Dim: table[0], Value: value, Visitors: visitors, Pageviews: pv}
			}
			return nil
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	if !seenVisitors {
		return nil, &Error{Msg: "not a Plausible export: no imported_visitors_*.csv in the zip"}
	}
	for _, r := range rows {
		d.Rows = append(d.Rows, *r)
	}
	return d, d.check()
}

// ---------------------------------------------------------------------------
// GoatCounter: one row per page view or event, with a header whose first
// field carries the format's version ("2Path").

// ReadGoatCounter reads a GoatCounter CSV export, gzipped or not.
func ReadGoatCounter(r io.Reader, name string) (*Data, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(4); bytes.Equal(head, []byte("PK\x03\x04")) {
		return nil, &Error{File: name, Msg: "a zip file is not a GoatCounter export (a .csv or .csv.gz); for Plausible's zip, use --format plausible"}
	}
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &Error{File: name, Msg: "bad gzip: " + err.Error()}
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	type dayAcc struct {
		sessions map[string]bool
		pv       uint64
	}
	type key struct {
		day        time.Time
		dim, value string
	}
	type rowAcc struct {
		sessions map[string]bool
		n        uint64
	}
	days := map[time.Time]*dayAcc{}
	rows := map[key]*rowAcc{}
	add := func(k key, session string) {
		a := rows[k]
		if a == nil {
			a = &rowAcc{sessions: map[string]bool{}}
			rows[k] = a
		}
		a.n++
		if session != "" {
			a.sessions[session] = true
		}
	}
	nRows := 0
	err := readCSV(name, br, &nRows, func(line int, get func(string) (string, bool)) error {
		p, ok := get("Path")
		if !ok {
			return fmt.Errorf("not a GoatCounter export: no 2Path column")
		}
		bot, _ := get("Bot")
		if bot != "" && bot != "0" {
			return nil // bots are not counted
		}
		ts, _ := get("Date")
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return fmt.Errorf("Date %q is not RFC 3339", clip(ts))
		}
		day := t.UTC().Truncate(24 * time.Hour)
		session, _ := get("Session")
		event, _ := get("Event")
		if event == "true" || event == "1" {
			add(key{day, "event", p}, session)
			return nil
		}
		if event != "false" && event != "0" && event != "" {
			return fmt.Errorf("Event %q is not true or false", clip(event))
		}
		a := days[day]
		if a == nil {
			a = &dayAcc{sessions: map[string]bool{}}
			days[day] = a
		}
		a.pv++
		if session != "" {
			a.sessions[session] = true
		}
		add(key{day, "page", p}, session)
		if ref, _ := get("Referrer"); ref != "" {
			scheme, _ := get("Referrer scheme")
			add(key{day, "source", goatSource(ref, scheme)}, session)
		}
		if loc, _ := get("Location"); len(loc) >= 2 {
			add(key{day, "country", strings.ToUpper(loc[:2])}, session)
		}
		if b, _ := get("Browser"); b != "" {
			add(key{day, "browser", browserName(b)}, session)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := &Data{Format: "goatcounter"}
	for k := range rows {
		if days[k.day] == nil { // a day of events only
			days[k.day] = &dayAcc{sessions: map[string]bool{}}
		}
	}
	for day, a := range days {
		d.Days = append(d.Days, Day{Date: day, Visitors: uint64(len(a.sessions)), Visits: uint64(len(a.sessions)), Pageviews: a.pv})
	}
	for k, a := range rows {
		d.Rows = append(d.Rows, Row{Date: k.day, Dim: k.dim, Value: k.value, Visitors: uint64(len(a.sessions)), Pageviews: a.n})
	}
	if len(d.Days) == 0 && len(d.Rows) == 0 {
		return nil, &Error{File: name, Msg: "no page views in the export"}
	}
	return d, d.check()
}

// goatSource is a referrer as a source: the host of a URL, the name of a
// generated or campaign referrer.
func goatSource(ref, scheme string) string {
	if scheme == "h" || strings.Contains(ref, "/") {
		u, err := url.Parse(ref)
		if err == nil && u.Host != "" {
			return strings.TrimPrefix(u.Hostname(), "www.")
		}
		if h, _, _ := strings.Cut(ref, "/"); h != "" {
			return strings.TrimPrefix(h, "www.")
		}
	}
	return ref
}

// browserName drops a browser's version: "Firefox 133" is Firefox.
func browserName(b string) string {
	f := strings.Fields(b)
	for len(f) > 1 {
		if _, err := strconv.ParseFloat(strings.Split(f[len(f)-1], ".")[0], 64); err != nil {
			break
		}
		f = f[:len(f)-1]
	}
	return strings.Join(f, " ")
}

// ---------------------------------------------------------------------------

// readCSV reads a CSV with a header line, calling fn for every other line
// with a lookup of its fields by column name. A line fn refuses is an
// *Error naming the file and line.
func readCSV(name string, r io.Reader, rows *int, fn func(line int, get func(string) (string, bool)) error) error {
	cr := csv.NewReader(&limited{r: r, left: MaxFileBytes})
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return &Error{File: name, Msg: "empty file"}
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &Error{File: name, Line: 1, Msg: err.Error()}
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if i == 0 && goatPath.MatchString(h) {
			h = "Path" // GoatCounter's version and Path: "2Path" or "2,Path"
		}
		cols[h] = i
	}
	// "2,Path" unquoted splits into two header fields but one data field.
	if len(header) > 1 && header[0] == "2" && header[1] == "Path" {
		cols = map[string]int{}
		for i, h := range header[1:] {
			cols[h] = i
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return &Error{File: name, Line: pe.StartLine, Msg: pe.Err.Error()}
			}
			return &Error{File: name, Msg: err.Error()}
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		if *rows++; *rows > MaxRows {
			return &Error{File: name, Msg: fmt.Sprintf("more than %d rows in the export", MaxRows)}
		}
		for _, v := range rec {
			if len(v) > MaxValueBytes {
				return &Error{File: name, Line: line, Msg: fmt.Sprintf("a value of %d bytes (at most %d)", len(v), MaxValueBytes)}
			}
		}
		get := func(c string) (string, bool) {
			i, ok := cols[c]
			if !ok || i >= len(rec) {
				return "", ok && i < len(rec)
			}
			// A copy: the record's fields share one string of the line.
			return strings.Clone(rec[i]), true
		}
		if err := fn(line, get); err != nil {
			return &Error{File: name, Line: line, Msg: err.Error()}
		}
	}
}

func dateField(get func(string) (string, bool), col string) (time.Time, error) {
	s, ok := get(col)
	if !ok {
		return time.Time{}, fmt.Errorf("no %s column", col)
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not YYYY-MM-DD", col, clip(s))
	}
	return t, nil
}

func count(get func(string) (string, bool), col string, required bool) (uint64, error) {
	s, ok := get(col)
	if !ok {
		if required {
			return 0, fmt.Errorf("no %s column", col)
		}
		return 0, nil
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > 1<<53 {
		return 0, fmt.Errorf("%s %q is not a count", col, clip(s))
	}
	return n, nil
}

// limited reads at most left bytes of r and fails beyond, so that an
// export cut at the limit is refused, not half read.
type limited struct {
	r    io.Reader
	left int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("larger than %d GiB", MaxFileBytes>>30)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// check refuses data Crumb would not show: dates out of range, a day
// twice.
func (d *Data) check() error {
	seen := map[time.Time]bool{}
	for _, day := range d.Days {
		if day.Date.Year() < 2000 || day.Date.After(time.Now().AddDate(0, 0, 1)) {
			return &Error{Msg: fmt.Sprintf("day %s is out of range (2000 to today)", day.Date.Format("2006-01-02"))}
		}
		if seen[day.Date] {
			return &Error{Msg: fmt.Sprintf("day %s is in the export twice", day.Date.Format("2006-01-02"))}
		}
		seen[day.Date] = true
	}
	if len(seen) > MaxDays {
		return &Error{Msg: fmt.Sprintf("more than %d days", MaxDays)}
	}
	for _, r := range d.Rows {
		if !slices.Contains(Dims, r.Dim) {
			return &Error{Msg: "unknown dimension " + r.Dim}
		}
		if r.Date.Year() < 2000 || r.Date.After(time.Now().AddDate(0, 0, 1)) {
			return &Error{Msg: fmt.Sprintf("a %s row of %s is out of range (2000 to today)", r.Dim, r.Date.Format("2006-01-02"))}
		}
		if len(r.Value) > MaxValueBytes {
			return &Error{Msg: fmt.Sprintf("a %s value of %d bytes on %s", r.Dim, len(r.Value), r.Date.Format("2006-01-02"))}
		}
	}
	slices.SortFunc(d.Days, func(a, b Day) int { return a.Date.Compare(b.Date) })
	return nil
}

// Range is the first and last day of the data.
func (d *Data) Range() (time.Time, time.Time) {
	if len(d.Days) == 0 {
		return time.Time{}, time.Time{}
	}
	return d.Days[0].Date, d.Days[len(d.Days)-1].Date
}
