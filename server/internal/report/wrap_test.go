package report

import (
	"context"
	"errors"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// ClickHouse running out of time, rows, memory or connections is the
// server's state, not a bug: each becomes an error the API answers 503.
func TestWrap_ResourceErrors(t *testing.T) {
	s := &Service{}
	ctx := context.Background()
	for _, tc := range []struct {
		err  error
		want error
	}{
		{ch.ErrAcquireConnTimeout, ErrBusy},
		{&ch.Exception{Code: 241}, ErrBusy},
		{&ch.Exception{Code: 202}, ErrBusy},
		{&ch.Exception{Code: 159}, ErrTimeout},
		{&ch.Exception{Code: 158}, ErrTimeout},
		{&ch.Exception{Code: 307}, ErrTimeout},
	} {
		if got := s.wrap(ctx, tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.err, got, tc.want)
		}
	}
	if got := s.wrap(ctx, &ch.Exception{Code: 62}); errors.Is(got, ErrBusy) || errors.Is(got, ErrTimeout) {
		t.Errorf("a syntax error as %v", got)
	}
}
