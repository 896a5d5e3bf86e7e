package clickhouse

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// WrapConn replaces db's connection by wrap(conn), so that a test can
// record the statements db sends.
func WrapConn(db *DB, wrap func(driver.Conn) driver.Conn) { db.conn = wrap(db.conn) }

// SignedSetting exposes signedSetting to the tests.
func SignedSetting(revision uint64, v int) int { return signedSetting(revision, v) }
