package httpapi

import (
	"testing"

	"github.com/crumbhq/crumb/server/internal/report"
)

func TestStatusOf_BusyIs503WithRetry(t *testing.T) {
	for _, err := range []error{report.ErrBusy, report.ErrTimeout} {
		if a := statusOf(err); a.code != 503 || a.retry == "" || a.msg == "" {
			t.Errorf("%v: %+v", err, a)
		}
	}
}
