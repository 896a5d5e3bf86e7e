package faultsuite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crumbhq/crumb/migrations"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
)

// siteID is the one site of every scenario's database; it counts page
// views anonymously, so the load needs no consent token.
const siteID = "faultsite"

// database creates a migrated database of its own for a scenario, with the
// site, and returns its address and a connection to read it.
func (s *Suite) database(ctx context.Context, scenario string) (string, *clickhouse.DB, error) {
	url := s.ClickHouse.URL(fmt.Sprintf("crumb_faults_%d_%s", os.Getpid(), scenario))
	db, err := clickhouse.Open(ctx, url, nil)
	if err != nil {
		return "", nil, err
	}
	migs, err := migrations.All()
	if err == nil {
		_, err = db.Migrate(ctx, migs)
	}
	if err == nil {
		site := model.NewSite(siteID, "example.com", "Fault suite", time.Now())
		site.AnonymousCounting = true
		err = db.PutSite(ctx, site)
	}
	if err != nil {
		db.Close()
		return "", nil, err
	}
	return url, db, nil
}

// drop removes a scenario's database unless the suite keeps them.
func (s *Suite) drop(db *clickhouse.DB) {
	if !s.Keep {
		_ = db.DropDatabase(context.Background())
	}
	db.Close()
}

// Tally is how acknowledged events compare with stored ones.
type Tally struct {
	Acknowledged int // events answered 202
	Stored       int // distinct events in ClickHouse
	Lost         int // acknowledged but not stored
	Duplicates   int // rows beyond the first of an event stored more than once
	Unacked      int // stored without a 202: in flight at a kill, or timed out
}

// count reads every stored event of the load back from ClickHouse.
func count(ctx context.Context, db *clickhouse.DB, r loadResult) (Tally, error) {
	rows, err := db.Conn().Query(ctx, "SELECT path, count() FROM events GROUP BY path")
	if err != nil {
		return Tally{}, err
	}
	defer rows.Close()
	stored := make([]uint32, r.sent)
	t := Tally{Acknowledged: len(r.acked)}
	for rows.Next() {
		var path string
		var c uint64
		if err := rows.Scan(&path, &c); err != nil {
			return Tally{}, err
		}
		seq, err := strconv.ParseUint(strings.TrimPrefix(path, "/f/"), 10, 64)
		if err != nil || seq >= r.sent {
			return Tally{}, fmt.Errorf("stored path %q was never sent", path)
		}
		stored[seq] = uint32(c)
		t.Stored++
		t.Duplicates += int(c) - 1
	}
	if err := rows.Err(); err != nil {
		return Tally{}, err
	}
	for _, seq := range r.acked {
		if stored[seq] == 0 {
			t.Lost++
		}
	}
	t.Unacked = t.Stored - (t.Acknowledged - t.Lost)
	return t, nil
}

// settle waits until the node's buffer is empty and ClickHouse holds at
// least as many events as were acknowledged, then counts them.
func settle(ctx context.Context, n *node, db *clickhouse.DB, r loadResult, within time.Duration) (Tally, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var rows uint64
		err := db.Conn().QueryRow(ctx, "SELECT count() FROM events").Scan(&rows)
		depth, derr := n.bufferDepth(ctx)
		if err == nil && derr == nil && depth == 0 && rows >= uint64(len(r.acked)) {
			break
		}
		select {
		case <-ctx.Done():
			return Tally{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return count(ctx, db, r)
}
