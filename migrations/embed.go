// Package migrations holds Crumb's versioned ClickHouse schema as numbered
// SQL files, embedded into the binary and applied by the migrator.
package migrations

import "embed"

// FS holds every NNNN_name.up.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
