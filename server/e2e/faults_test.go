package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/crumbhq/crumb/server/testkit/chtest"
	"github.com/crumbhq/crumb/server/testkit/faultsuite"
)

// TestFaultSuite_Short runs the fault suite's short plan: ClickHouse stopped
// under steady load, crumb killed with SIGKILL and restarted, load at twice
// the measured capacity, and a short soak. Every acknowledged event must be
// stored exactly once. make faults runs the full plan.
func TestFaultSuite_Short(t *testing.T) {
	srv := chtest.LocalServer(t)
	if srv == nil {
		t.Skip("needs the local test ClickHouse to stop it")
	}
	suite := &faultsuite.Suite{Crumb: binary, ClickHouse: srv, Dir: t.TempDir(), Logf: t.Logf}
	results, err := suite.Run(context.Background(), faultsuite.ShortPlan())
	var table strings.Builder
	faultsuite.WriteTable(&table, results)
	t.Logf("figures:\n%s", table.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %s", r.Scenario, strings.Join(r.Failures, "; "))
		}
	}
}
