package buffer

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/model"
)

// FuzzRecord feeds the log entry decoder what a damaged write-ahead log
// could hold. Replay skips an entry that does not decode, so decode must
// answer every input with a record or an error — never a panic or a huge
// allocation — and a record it returns must encode and decode to itself.
func FuzzRecord(f *testing.F) {
	at := time.Unix(1_800_000_000, 5000).UTC()
	id := uuid.MustParse("0b6f8c5e-8c1a-4c5e-9a5e-0b6f8c5e8c1a")
	for _, r := range []Record{
		{Event: &model.Event{ID: id, SiteID: "site1", Time: at, Type: model.Custom, VisitorID: id, Path: "/a",
			Name: "signup", PropKeys: []string{"plan", "x"}, PropValues: []string{"pro", ""}, DurationMS: 1500}},
		{Decision: &model.Decision{ID: id, SiteID: "site1", Time: at, ConsentID: id, PolicyVersion: 3, Action: model.Customize,
			Granted: model.Categories{Performance: true}, GPC: true, Language: "de"}},
		{Impression: &model.Impression{ID: id, SiteID: "site1", Time: at, UndeclaredCookies: []string{"_ga", "_fbp"}}},
		{Erasure: &model.Erasure{ID: id, SiteID: "site1", Time: at, VisitorID: id, ConsentIDs: []uuid.UUID{id}}},
	} {
		data, err := r.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("e\x80"))
	f.Add([]byte("q"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := r.decode(data); err != nil {
			return
		}
		n := 0
		for _, set := range []bool{r.Event != nil, r.Decision != nil, r.Impression != nil, r.Erasure != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("decoded %d records from one entry", n)
		}
		again, err := r.encode()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		var r2 Record
		if err := r2.decode(again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if a, b := inUTC(r), inUTC(r2); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", a, b)
		}
	})
}

// inUTC returns the record that r holds with its time in UTC: MessagePack
// keeps the instant, not the location.
func inUTC(r Record) any {
	switch {
	case r.Event != nil:
		e := *r.Event
		e.Time = e.Time.UTC()
		return e
	case r.Decision != nil:
		d := *r.Decision
		d.Time = d.Time.UTC()
		return d
	case r.Erasure != nil:
		x := *r.Erasure
		x.Time = x.Time.UTC()
		return x
	}
	i := *r.Impression
	i.Time = i.Time.UTC()
	return i
}
