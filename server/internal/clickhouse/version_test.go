package clickhouse_test

import (
	"testing"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]clickhouse.Version{
		"18.16.1":       {18, 16, 1},
		"26.5.1.1":      {26, 5, 1},
		"24.8.4.13-lts": {24, 8, 4},
		"25.3":          {25, 3, 0},
		" 23.3.22.3\n":  {23, 3, 22},
		"26.7.3-stable": {26, 7, 3},
	} {
		got, err := clickhouse.ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "26", "x.y.z", "26.-1.0", "v26.5.1"} {
		if v, err := clickhouse.ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", bad, v)
		}
	}
}

func TestVersion_MinimumSwitch(t *testing.T) {
	for _, c := range []struct {
		v    clickhouse.Version
		want bool
	}{
		{clickhouse.Version{18, 16, 1}, true},
		{clickhouse.Version{18, 16, 0}, true},
		{clickhouse.Version{19, 1, 0}, true},
		{clickhouse.Version{26, 5, 1}, true},
		{clickhouse.Version{18, 14, 19}, false},
		{clickhouse.Version{1, 1, 54388}, false},
	} {
		if got := c.v.AtLeast(clickhouse.MinVersion); got != c.want {
			t.Errorf("%v.AtLeast(%v) = %v, want %v", c.v, clickhouse.MinVersion, got, c.want)
		}
	}
}

func TestVersion_OfTestServer(t *testing.T) {
	db := chtest.DB(t)
	v, err := db.Version()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CheckVersion(); err != nil {
		t.Fatalf("%v: %v", v, err)
	}
	t.Logf("test server: ClickHouse %v", v)
}

func TestSignedSetting_PerProtocolRevision(t *testing.T) {
	for _, tt := range []struct {
		revision uint64
		v, want  int
	}{
		{54413, 5, 10}, // 18.16: zigzag varint
		{54413, 0, 0},
		{54429, 20, 40},
		{54430, 5, 5}, // settings as strings from 19.12 on
		{54477, 5, 5}, // 26.x
	} {
		if got := clickhouse.SignedSetting(tt.revision, tt.v); got != tt.want {
			t.Errorf("revision %d, %d: got %d, want %d", tt.revision, tt.v, got, tt.want)
		}
	}
}
