// Package chcluster starts a whole ClickHouse cluster on loopback: one
// ZooKeeper (Debian's zookeeper package, run directly with java) and
// shards × replicas clickhouse-server processes, each supervised by
// chserver. The tests of cluster mode use it, and an operator can use it to
// try cluster mode on one machine.
package chcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/crumbhq/crumb/server/internal/chserver"
)

// Options configure a cluster.
type Options struct {
	// Dir holds ZooKeeper's and every server's data.
	Dir string
	// Name is the cluster name in remote_servers; default "crumb".
	Name string
	// Shards and Replicas per shard; default 2 × 2.
	Shards, Replicas int
	// ZooKeeperJar is the ZooKeeper server jar; default
	// /usr/share/java/zookeeper.jar.
	ZooKeeperJar string
	// MaxMemoryBytes caps one query's memory on each server; default 1 GB.
	MaxMemoryBytes int64
	// Log receives lifecycle messages; nil discards them.
	Log *slog.Logger
}

// Cluster is a running ZooKeeper and its ClickHouse servers.
type Cluster struct {
	opts   Options
	zk     *exec.Cmd
	zkDone chan struct{}
	zkPort int
	// password is every server's, so that they replicate and query each
	// other; it is kept in Dir's chserver.PasswordFile.
	password string
	servers  [][]*chserver.Server // [shard][replica]
	// lock is held while the cluster runs (see lockMachine).
	lock *os.File
}

// lockMachine waits until no other test cluster runs on this machine and
// holds that until the cluster stops. Two clusters at once (8 servers and
// 2 ZooKeepers on a small machine, beside other tests) starve ZooKeeper
// sessions, and ClickHouse 18.16 then leaves ON CLUSTER statements
// unfinished for good.
func lockMachine() (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "crumb-chcluster.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Start brings the cluster up and waits until every server answers.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = "crumb"
	}
	if opts.Shards == 0 {
		opts.Shards = 2
	}
	if opts.Replicas == 0 {
		opts.Replicas = 2
	}
	if opts.ZooKeeperJar == "" {
		opts.ZooKeeperJar = "/usr/share/java/zookeeper.jar"
	}
	if opts.MaxMemoryBytes == 0 {
		opts.MaxMemoryBytes = 1 << 30
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	password, err := chserver.LoadPassword(dir)
	if err != nil {
		return nil, err
	}
	lock, err := lockMachine()
	if err != nil {
		return nil, fmt.Errorf("chcluster: %w", err)
	}
	c := &Cluster{opts: opts, password: password, lock: lock}
	if err := c.startZooKeeper(ctx); err != nil {
		c.unlock()
		return nil, err
	}

	n := opts.Shards * opts.Replicas
	ports, err := chserver.FreePorts(2 * n)
	if err != nil {
		c.Stop()
		return nil, err
	}
	remote := c.remoteServers(ports)
	c.servers = make([][]*chserver.Server, opts.Shards)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for s := range opts.Shards {
		c.servers[s] = make([]*chserver.Server, opts.Replicas)
		for r := range opts.Replicas {
			i := s*opts.Replicas + r
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv, err := chserver.Start(ctx, chserver.Options{
					Dir:             filepath.Join(dir, fmt.Sprintf("ch-s%d-r%d", s+1, r+1)),
					MaxMemoryBytes:  opts.MaxMemoryBytes,
					TCPPort:         ports[2*i],
					InterserverPort: ports[2*i+1],
					Password:        password,
					ExtraConfig:     c.serverConfig(s, r, remote),
					Log:             opts.Log.With("shard", s+1, "replica", r+1),
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				c.servers[s][r] = srv
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Stop()
		return nil, err
	}
	// A server whose first ZooKeeper session failed (ZooKeeper still
	// warming up) reconnects when asked; 18.16 can crash if the first
	// distributed DDL finds no session, so every server is asked first.
	for _, shard := range c.servers {
		for _, srv := range shard {
			if err := waitZooKeeper(ctx, srv); err != nil {
				c.Stop()
				return nil, err
			}
		}
	}
	return c, nil
}

// waitZooKeeper waits until srv reads ZooKeeper.
func waitZooKeeper(ctx context.Context, srv *chserver.Server) error {
	conn, err := ch.Open(&ch.Options{
		Addr: []string{srv.Addr()}, Auth: ch.Auth{Username: chserver.User, Password: srv.Password()},
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chcluster: %s cannot reach ZooKeeper: %w", srv.Addr(), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Name is the cluster name to pass to crumb.
func (c *Cluster) Name() string { return c.opts.Name }

// Server is replica r of shard s, both counted from 0.
func (c *Cluster) Server(s, r int) *chserver.Server { return c.servers[s][r] }

// Addrs lists every server's native address, shard by shard.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, shard := range c.servers {
		for _, srv := range shard {
			out = append(out, srv.Addr())
		}
	}
	return out
}

// URL is a clickhouse:// address of database db listing every server,
// starting with the one at index first of Addrs, so that nodes given
// different first servers spread their connections. It holds the password.
func (c *Cluster) URL(db string, first int) string {
	addrs := c.Addrs()
	first %= len(addrs)
	addrs = append(addrs[first:], addrs[:first]...)
	return chserver.DSN(strings.Join(addrs, ","), c.password, db)
}

// Password is the password of every server's default user.
func (c *Cluster) Password() string { return c.password }

// Stop stops every server, then ZooKeeper.
func (c *Cluster) Stop() { c.stop(false) }

// Abort kills every process at once, for a throwaway cluster.
func (c *Cluster) Abort() { c.stop(true) }

func (c *Cluster) stop(kill bool) {
	var wg sync.WaitGroup
	for _, shard := range c.servers {
		for _, srv := range shard {
			if srv != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if kill {
						srv.Abort()
					} else {
						_ = srv.Stop()
					}
				}()
			}
		}
	}
	wg.Wait()
	if c.zk != nil && c.zk.Process != nil {
		sig := syscall.SIGTERM
		if kill {
			sig = syscall.SIGKILL
		}
		_ = c.zk.Process.Signal(sig)
		select {
		case <-c.zkDone:
		case <-time.After(10 * time.Second):
			_ = c.zk.Process.Kill()
			<-c.zkDone
		}
	}
	c.unlock()
}

func (c *Cluster) unlock() {
	if c.lock != nil {
		_ = c.lock.Close() // releases the flock
		c.lock = nil
	}
}

// PIDs lists the process IDs of ZooKeeper and every running server.
func (c *Cluster) PIDs() []int {
	var out []int
	if c.zk != nil && c.zk.Process != nil {
		out = append(out, c.zk.Process.Pid)
	}
	for _, shard := range c.servers {
		for _, srv := range shard {
			if srv != nil && srv.PID() != 0 {
				out = append(out, srv.PID())
			}
		}
	}
	return out
}

func (c *Cluster) startZooKeeper(ctx context.Context) error {
	if _, err := os.Stat(c.opts.ZooKeeperJar); err != nil {
		return fmt.Errorf("chcluster: ZooKeeper not installed (apt-get install zookeeper): %w", err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return fmt.Errorf("chcluster: java not found (apt-get install zookeeper): %w", err)
	}
	zkDir := filepath.Join(c.opts.Dir, "zookeeper")
	if err := os.MkdirAll(filepath.Join(zkDir, "data"), 0o750); err != nil {
		return err
	}
	ports, err := chserver.FreePorts(1)
	if err != nil {
		return err
	}
	c.zkPort = ports[0]
	cfg := fmt.Sprintf(`tickTime=500
maxSessionTimeout=60000
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
maxClientCnxns=0
4lw.commands.whitelist=srvr
`, filepath.Join(zkDir, "data"), c.zkPort)
	if err := os.WriteFile(filepath.Join(zkDir, "zoo.cfg"), []byte(cfg), 0o640); err != nil {
		return err
	}
	log4j := "log4j.rootLogger=WARN, FILE\nlog4j.appender.FILE=org.apache.log4j.FileAppender\n" +
		"log4j.appender.FILE.File=" + filepath.Join(zkDir, "zookeeper.log") + "\n" +
		"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.FILE.layout.ConversionPattern=%d %p %c: %m%n\n"
	if err := os.WriteFile(filepath.Join(zkDir, "log4j.properties"), []byte(log4j), 0o640); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(zkDir, "stdout.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(java, "-Xmx256m", "-cp", zkDir+":"+c.opts.ZooKeeperJar,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(zkDir, "zoo.cfg"))
	cmd.Dir = zkDir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("chcluster: start ZooKeeper: %w", err)
	}
	c.zk, c.zkDone = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(c.zkDone) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if serving(c.zkPort) {
			c.opts.Log.Info("zookeeper started", "port", c.zkPort)
			return nil
		}
		select {
		case <-c.zkDone:
			return fmt.Errorf("chcluster: ZooKeeper exited (see %s)", zkDir)
		case <-ctx.Done():
			c.Stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("chcluster: ZooKeeper not ready in 30 s (see %s)", zkDir)
		}
	}
}

// serving asks ZooKeeper whether it serves requests yet ("ruok" answers
// "imok" before it does).
func serving(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(conn)
	return strings.Contains(string(b), "Mode: ")
}

// remoteServers is the remote_servers section shared by every server.
func (c *Cluster) remoteServers(ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  <remote_servers>\n    <%s>\n", c.opts.Name)
	for s := range c.opts.Shards {
		b.WriteString("      <shard>\n        <internal_replication>true</internal_replication>\n")
		for r := range c.opts.Replicas {
			fmt.Fprintf(&b, "        <replica><host>127.0.0.1</host><port>%d</port><user>%s</user><password>%s</password></replica>\n",
				ports[2*(s*c.opts.Replicas+r)], chserver.User, c.password)
		}
		b.WriteString("      </shard>\n")
	}
	fmt.Fprintf(&b, "    </%s>\n  </remote_servers>\n", c.opts.Name)
	return b.String()
}

// serverConfig is the cluster part of one server's configuration.
func (c *Cluster) serverConfig(shard, replica int, remote string) string {
	return fmt.Sprintf(`  <macros>
    <shard>%02d</shard>
    <replica>r%d</replica>
  </macros>
%s  <zookeeper>
    <node><host>127.0.0.1</host><port>%d</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
  </zookeeper>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
`, shard+1, replica+1, remote, c.zkPort)
}
