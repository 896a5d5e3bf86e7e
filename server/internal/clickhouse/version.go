package clickhouse

import (
	"fmt"
	"strconv"
	"strings"
)

// Version switches.
//
// Crumb sends the same SQL to every server from MinVersion on.
// server/testkit/chcompat replays every statement recorded on 18.16 on ClickHouse
// 26.5 (chDB) and compares the answers; none differs, errs or needs a
// setting 26.5 no longer knows. Two switches depend on the server:
//
//   - CheckVersion refuses servers older than MinVersion;
//   - signedSetting encodes Int64 query settings (the DDL timeout of cluster
//     mode's mutations) as the server's protocol revision reads them: a
//     zigzag varint before 19.12, a string since.
//
// Statements that could be written differently on current servers, and
// why they are not:
//
//	statement                           18.16                   current (≥ 23.3)             used on both
//	erasure (EraseVisitor)              ALTER TABLE … DELETE    DELETE FROM (lightweight)    ALTER TABLE … DELETE
//	retention (EnforceRetention)        ALTER TABLE … DELETE    DELETE FROM (lightweight)    ALTER TABLE … DELETE
//	configuration reads                 FINAL                   FINAL, is_deleted column     FINAL
//	duplicate check, privacy reads      IN (SELECT arrayJoin)   the same                     IN (SELECT arrayJoin)
//	erasure of consent records          has([…], id)            has([…], id)                 no subquery in a mutation
//	dashboard queries (package report)  the same on both        the same                     one text
//
// A lightweight DELETE only marks rows deleted: on 26.5 the erased rows stay
// in the part, readable with apply_deleted_mask = 0, until a merge that
// may never come for an old partition. An erasure request and a retention
// promise need the rows gone from disk, which ALTER TABLE … DELETE does by
// rewriting the parts on every version. A ReplacingMergeTree is_deleted
// column would save the WHERE deleted = 0 of the configuration reads but
// needs another schema on 18.16; with answers identical, one schema wins.

// MinVersion is the oldest ClickHouse crumb runs on: the tests run on it.
var MinVersion = Version{18, 16, 0}

// Version is a ClickHouse release number, such as 18.16.1 or 26.5.1.
type Version struct{ Major, Minor, Patch int }

// ParseVersion reads a version as SELECT version() writes it
// ("26.5.1.1", "24.8.4.13-lts"); parts after the third are ignored.
func ParseVersion(s string) (Version, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 4)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("clickhouse: version %q is not major.minor[.patch]", s)
	}
	var n [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		digits := parts[i]
		if i == len(parts)-1 {
			digits = strings.TrimRightFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
		}
		v, err := strconv.Atoi(digits)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("clickhouse: version %q is not major.minor[.patch]", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// AtLeast reports whether v is o or newer.
func (v Version) AtLeast(o Version) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Version returns the server's version, as announced when connecting.
func (db *DB) Version() (Version, error) {
	sv, err := db.conn.ServerVersion()
	if err != nil {
		return Version{}, fmt.Errorf("clickhouse: server version: %w", err)
	}
	return Version{int(sv.Version.Major), int(sv.Version.Minor), int(sv.Version.Patch)}, nil
}

// CheckVersion fails when the server is older than MinVersion. Migrate
// calls it before it changes anything.
func (db *DB) CheckVersion() error {
	v, err := db.Version()
	if err != nil {
		return err
	}
	if !v.AtLeast(MinVersion) {
		return fmt.Errorf("clickhouse: server version %s is older than %s, the oldest crumb supports", v, MinVersion)
	}
	return nil
}

// settingsAsStrings is the first protocol revision (ClickHouse 19.12) in
// which query settings travel as strings. Before it they are varints, and
// the server reads signed (Int64) settings zigzag-encoded while
// clickhouse-go writes every number as a plain unsigned varint.
const settingsAsStrings = 54429

// signedSetting is the value to pass to clickhouse-go for an Int64 setting
// of v on a server of the given protocol revision: 18.16 would read a plain
// 5 as -3 (for distributed_ddl_task_timeout: wait for ever).
func signedSetting(revision uint64, v int) int {
	if revision > settingsAsStrings {
		return v
	}
	return (v << 1) ^ (v >> 63)
}

// signedSetting is signedSetting for this server.
func (db *DB) signedSetting(v int) int {
	sv, err := db.conn.ServerVersion()
	if err != nil {
		return v
	}
	return signedSetting(sv.Revision, v)
}
