// Package e2e holds end-to-end tests that run the crumb binary as a child
// process against a real ClickHouse: outages, crashes, restarts.
package e2e
