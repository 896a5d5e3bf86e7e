package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/testkit/chcluster"
)

// TestCluster_TwoNodesOnTwoShardsTwoReplicas runs the cluster recipe of the
// operator guide (server/OPERATIONS.md) on loopback: ZooKeeper and four ClickHouse servers (2 shards × 2
// replicas), `crumb migrate --cluster`, two crumb nodes that each reach the
// cluster through a different server, visitors whose consent and events go
// through either node, the dashboards' numbers from both nodes, and the same
// again with one replica killed. Every process started is stopped.
func TestCluster_TwoNodesOnTwoShardsTwoReplicas(t *testing.T) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Skip("needs Debian's zookeeper package (apt-get install zookeeper)")
	}
	ctx := context.Background()
	cluster, err := chcluster.Start(ctx, chcluster.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pids := cluster.PIDs()
	t.Cleanup(func() {
		cluster.Abort()
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("process %d of the cluster still runs", pid)
			}
		}
	})
	urlA, urlB := cluster.URL("crumb", 0), cluster.URL("crumb", 2)
	env := []string{"CRUMB_CLICKHOUSE_CLUSTER=" + cluster.Name()}

	// A node refuses to start on a cluster that was not migrated.
	out, err := crumbCommand(append(env, "CRUMB_CLICKHOUSE_URL="+urlA), "serve", "--listen", freeAddr(t), "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "crumb migrate --cluster") {
		t.Fatalf("serve on an empty cluster: %v\n%s", err, out)
	}
	out, err = crumbCommand([]string{"CRUMB_CLICKHOUSE_URL=" + urlA}, "migrate", "--cluster", cluster.Name())
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err = crumbCommand(append(env, "CRUMB_CLICKHOUSE_URL="+urlB), "token", "add", "--name", "cluster test")
	if err != nil {
		t.Fatalf("token add: %v\n%s", err, out)
	}
	token := regexp.MustCompile(`crumb_\S+`).FindString(out)

	admin, err := clickhouse.Open(ctx, urlB, nil, clickhouse.WithCluster(cluster.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	site := model.NewSite("clus01", "example.com", "Cluster", time.Now())
	site.Goals = []model.Goal{{Name: "Pricing", Match: "page:/pricing"}}
	if err := admin.PutSite(ctx, site); err != nil {
		t.Fatal(err)
	}

	a := startNode(t, t.TempDir(), append(env, "CRUMB_CLICKHOUSE_URL="+urlA)...)
	b := startNode(t, t.TempDir(), append(env, "CRUMB_CLICKHOUSE_URL="+urlB)...)
	nodes := []*node{a, b}

	// visit records consent on one node and sends two page views through
	// the other: any node verifies any node's consent token.
	visits := 0
	visit := func() {
		t.Helper()
		first, second := nodes[visits%2], nodes[(visits+1)%2]
		visits++
		var res struct{ Token string }
		code := postJSON(t, first, "/api/consent", map[string]any{
			"site": site.ID, "consent_id": uuid.NewString(), "policy_version": site.PolicyVersion, "action": "accept_all",
			"url": "https://example.com/",
		}, &res)
		if code != 202 || res.Token == "" {
			t.Fatalf("consent through %s: %d", first.addr, code)
		}
		events := map[string]any{"site": site.ID, "visitor": uuid.NewString(), "session": uuid.NewString(), "consent": res.Token,
			"events": []any{
				map[string]any{"type": "pageview", "url": "https://example.com/"},
				map[string]any{"type": "pageview", "url": "https://example.com/pricing"},
			}}
		if code := postJSON(t, second, "/api/events", events, nil); code != 202 {
			t.Fatalf("events through %s: %d", second.addr, code)
		}
	}
	// checkDashboards waits until both nodes' dashboards count every visit.
	checkDashboards := func(stage string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for _, n := range nodes {
			for {
				var ov struct{ Metrics map[string]float64 }
				var pages struct {
					Rows []struct {
						Value    string
						Visitors float64
					}
				}
				var filtered struct{ Metrics map[string]float64 }
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/overview?period=today", &ov)
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/breakdown/page?period=today", &pages)
				// A filter reads raw events, with a subquery over the
				// shards for the visits that saw the page.
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/overview?period=today&filter=page:is:/pricing", &filtered)
				// Loyalty joins its subqueries on the initiator: every visit
				// is its visitor's first, and each visitor came once.
				var since, per struct {
					Rows []struct {
						Value            string
						Visitors, Visits float64
					}
				}
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/breakdown/days_since_last_visit?period=today", &since)
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/breakdown/visits_per_visitor?period=today", &per)
				// Goals, funnels (report_steps, sharded by visitor) and
				// retention over the shards.
				var goals struct{ Goals []struct{ Visitors float64 } }
				var funnel struct{ Steps []struct{ Visitors float64 } }
				var cohorts struct{ Cohorts []struct{ Visitors float64 } }
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/goals?period=today", &goals)
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/funnel?period=today&step=page:/&step=page:/pricing", &funnel)
				getStats(t, n, token, "/api/v1/stats/"+site.ID+"/retention?period=today", &cohorts)
				analysis := len(goals.Goals) == 1 && goals.Goals[0].Visitors == float64(visits) &&
					len(funnel.Steps) == 2 && funnel.Steps[1].Visitors == float64(visits) &&
					len(cohorts.Cohorts) == 1 && cohorts.Cohorts[0].Visitors == float64(visits)
				ok := analysis && ov.Metrics["visitors"] == float64(visits) && ov.Metrics["pageviews"] == float64(2*visits) &&
					len(pages.Rows) == 2 && pages.Rows[0].Visitors == float64(visits) && pages.Rows[1].Visitors == float64(visits) &&
					filtered.Metrics["visits"] == float64(visits) &&
					len(since.Rows) == 1 && since.Rows[0].Value == "first visit" && since.Rows[0].Visits == float64(visits) &&
					len(per.Rows) == 1 && per.Rows[0].Value == "1" && per.Rows[0].Visitors == float64(visits)
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: node %s shows %v, pages %+v, filtered %v, days since the last visit %+v, visits per visitor %+v, goals %+v, funnel %+v, cohorts %+v; want %d visitors and %d page views",
						stage, n.addr, ov.Metrics, pages.Rows, filtered.Metrics, since.Rows, per.Rows, goals.Goals, funnel.Steps, cohorts.Cohorts, visits, 2*visits)
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
		t.Logf("%s: both nodes show %d visitors, %d page views", stage, visits, 2*visits)
	}

	for range 8 {
		visit()
	}
	checkDashboards("all replicas up")

	// Kill the first server of node a: its pool fails over to the next
	// address, Distributed reads and writes use shard 1's other replica.
	if err := cluster.Server(0, 0).Crash(); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		visit()
	}
	checkDashboards("one replica killed")
	for _, n := range nodes {
		n.stop(syscall.SIGTERM)
	}
}

// crumbCommand runs the crumb binary with args and extra environment.
func crumbCommand(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "CRUMB_LOG_LEVEL=warn", "CRUMB_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
		"CRUMB_METRICS_LISTEN=off")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// postJSON posts body to a node as the tracker does and decodes the answer
// into res (if not nil).
func postJSON(t *testing.T, n *node, path string, body, res any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://"+n.addr+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://example.com")
	req.Header.Set("User-Agent", browserUA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if res != nil {
		_ = json.NewDecoder(resp.Body).Decode(res)
	}
	return resp.StatusCode
}

// getStats reads one stats API answer from a node.
func getStats(t *testing.T, n *node, token, path string, res any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+n.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		time.Sleep(300 * time.Millisecond) // let the node's log reach n.log
		t.Fatalf("GET %s on %s: %d %s\ncrumb's log:\n%s", path, n.addr, resp.StatusCode, body, lastBytes(n.log.String(), 4000))
	}
	if err := json.Unmarshal(body, res); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// lastBytes is the end of s, at most n bytes.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
