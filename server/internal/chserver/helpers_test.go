package chserver_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crumbhq/crumb/server/internal/chserver"
	"github.com/crumbhq/crumb/server/testkit/chtest"
)

func sha256Of(t *testing.T, s *chserver.Server) string {
	t.Helper()
	sum := sha256.Sum256([]byte(s.Password()))
	return hex.EncodeToString(sum[:])
}

func asException(err error, ex **ch.Exception) bool { return errors.As(err, ex) }

// listening lists the addresses process pid listens on.
func listening(t *testing.T, pid int) []string {
	t.Helper()
	addrs, err := chtest.Listening(pid)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}
