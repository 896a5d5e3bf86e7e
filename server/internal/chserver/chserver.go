// Package chserver starts and supervises a private clickhouse-server process
// in a data folder of its own, on free loopback ports: the embedded default
// ClickHouse of `crumb serve`, and the throwaway server of the tests.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// Options configure a private ClickHouse server.
type Options struct {
	// Dir holds the server's data, logs and generated configuration.
	Dir string
	// Binary is the clickhouse-server executable; empty means look it up on
	// PATH and in /usr/sbin and /usr/bin.
	Binary string
	// MaxMemoryBytes caps one query's memory; 0 means 4 GB.
	MaxMemoryBytes int64
	// ReadyTimeout bounds how long Start waits for the server; 0 means 60 s.
	ReadyTimeout time.Duration
	// Log receives lifecycle messages; nil discards them.
	Log *slog.Logger
	// TCPPort and HTTPPort are the loopback ports to listen on; 0 picks
	// free ones.
	TCPPort, HTTPPort int
	// InterserverPort, if set, enables replication between servers on
	// this loopback port.
	InterserverPort int
	// ExtraConfig is XML added inside the server's configuration, such as
	// macros, remote_servers and zookeeper for a cluster.
	ExtraConfig string
}

// Server is a supervised clickhouse-server process. A server that dies is
// started again on the same ports until Stop is called.
type Server struct {
	opts     Options
	binary   string
	tcpPort  int
	httpPort int
	log      *slog.Logger

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	paused  bool          // stopped by Pause; Resume starts it again
	stopped bool          // stopped by Stop, for good
	resumed chan struct{} // receives after Resume started a new process
}

// Start writes the configuration, starts clickhouse-server and waits until
// it answers. The returned server is supervised until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := findBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.MaxMemoryBytes == 0 {
		opts.MaxMemoryBytes = 4 << 30
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	opts.Dir = dir
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	if opts.TCPPort != 0 {
		ports[0] = opts.TCPPort
	}
	if opts.HTTPPort != 0 {
		ports[1] = opts.HTTPPort
	}
	s := &Server{opts: opts, binary: bin, tcpPort: ports[0], httpPort: ports[1], log: log, resumed: make(chan struct{}, 1)}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	if err := s.startProcess(); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	go s.supervise()
	log.Info("clickhouse started", "addr", s.Addr(), "dir", dir)
	return s, nil
}

// Addr is the host:port of the native protocol.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort)) }

// URL is the clickhouse:// address of database db on this server.
func (s *Server) URL(db string) string { return "clickhouse://" + s.Addr() + "/" + db }

// HTTPAddr is the host:port of the HTTP interface.
func (s *Server) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort))
}

// PID is the process ID of the running clickhouse-server, or 0.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill ends the running process with SIGKILL, as a crash would; the
// supervisor starts it again. It is meant for tests.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("chserver: not running")
	}
	return s.cmd.Process.Kill()
}

// Pause stops the process without restarting it until Resume, to test an
// outage. It is meant for tests.
func (s *Server) Pause() error {
	s.mu.Lock()
	s.paused = true
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	return terminate(cmd, exited)
}

// Crash kills the process with SIGKILL and keeps it down until Resume, as
// a machine that went away. It is meant for tests.
func (s *Server) Crash() error {
	s.mu.Lock()
	s.paused = true
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return errors.New("chserver: not running")
	}
	_ = cmd.Process.Kill()
	<-exited
	return nil
}

// Abort ends supervision and kills the process at once, for throwaway
// servers whose data does not matter.
func (s *Server) Abort() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	close(s.resumed)
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Resume starts the process again after Pause and waits until it answers.
func (s *Server) Resume(ctx context.Context) error {
	if err := s.startProcess(); err != nil {
		return err
	}
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
	s.resumed <- struct{}{}
	return s.waitReady(ctx)
}

// Stop ends supervision and stops the server: SIGTERM, then SIGKILL after
// 20 seconds.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	close(s.resumed)
	err := terminate(cmd, exited)
	s.log.Info("clickhouse stopped")
	return err
}

func terminate(cmd *exec.Cmd, exited chan struct{}) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return errors.New("chserver: clickhouse-server did not stop in 20 s and was killed")
	}
}

func (s *Server) startProcess() error {
	logf, err := os.OpenFile(filepath.Join(s.opts.Dir, "log", "stdout.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	cmd := exec.Command(s.binary, "--config-file="+filepath.Join(s.opts.Dir, "config.xml"))
	cmd.Dir = s.opts.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group keeps a terminal's Ctrl-C away from it, so that
	// crumb can flush before ClickHouse stops; the parent-death signal stops
	// it when crumb dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chserver: start %s: %w", s.binary, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// supervise restarts the process whenever it exits unexpectedly.
func (s *Server) supervise() {
	backoff := 500 * time.Millisecond
	for {
		s.mu.Lock()
		exited := s.exited
		s.mu.Unlock()
		<-exited
		s.mu.Lock()
		stopped, paused := s.stopped, s.paused
		s.mu.Unlock()
		if stopped {
			return
		}
		if paused {
			if _, ok := <-s.resumed; !ok {
				return
			}
			continue
		}
		s.log.Warn("clickhouse exited; restarting", "after", backoff)
		time.Sleep(backoff)
		if err := s.startProcess(); err != nil {
			s.log.Error("clickhouse restart failed", "err", err)
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.ReadyTimeout)
		if err := s.waitReady(ctx); err != nil {
			s.log.Error("clickhouse not ready after restart", "err", err)
		} else {
			backoff = 500 * time.Millisecond
		}
		cancel()
	}
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + s.HTTPAddr() + "/ping"
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		s.mu.Lock()
		exited := s.exited
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("chserver: clickhouse-server not ready (see %s): %w",
				filepath.Join(s.opts.Dir, "log"), ctx.Err())
		case <-exited:
			// Exited during start-up (for instance an old process still held
			// the data folder): start it again until the deadline.
			time.Sleep(300 * time.Millisecond)
			if err := s.startProcess(); err != nil {
				return err
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func findBinary(name string) (string, error) {
	if name != "" {
		return exec.LookPath(name)
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse"} {
		if _, err := os.Stat(p); err == nil {
			if filepath.Base(p) == "clickhouse" {
				continue // the multi-call binary needs "server" as its first argument
			}
			return p, nil
		}
	}
	return "", errors.New("chserver: clickhouse-server not found on PATH (apt-get install clickhouse-server), or set CRUMB_CLICKHOUSE_URL")
}

// FreePorts returns n distinct free TCP ports on loopback.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("chserver: no free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

func (s *Server) writeConfig() error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(s.opts.Dir, sub), 0o750); err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
	}
	vals := map[string]any{
		"Dir": s.opts.Dir, "TCPPort": s.tcpPort, "HTTPPort": s.httpPort, "MaxMemory": s.opts.MaxMemoryBytes,
		"InterserverPort": s.opts.InterserverPort, "Extra": s.opts.ExtraConfig,
	}
	for name, tmpl := range map[string]*template.Template{"config.xml": configTmpl, "users.xml": usersTmpl} {
		f, err := os.Create(filepath.Join(s.opts.Dir, name))
		if err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
		if err := tmpl.Execute(f, vals); err != nil {
			f.Close()
			return fmt.Errorf("chserver: %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
	}
	return nil
}

var configTmpl = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<!-- Written by crumb for its private ClickHouse server; rewritten at every start. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>{{.Dir}}/log/clickhouse-server.log</log>
    <errorlog>{{.Dir}}/log/clickhouse-server.err.log</errorlog>
    <size>50M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{{.TCPPort}}</tcp_port>
  <http_port>{{.HTTPPort}}</http_port>
  <path>{{.Dir}}/data/</path>
  <tmp_path>{{.Dir}}/tmp/</tmp_path>
  <user_files_path>{{.Dir}}/user_files/</user_files_path>
  <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <mlock_executable>false</mlock_executable>
{{- if .InterserverPort}}
  <interserver_http_port>{{.InterserverPort}}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
{{- end}}
{{.Extra}}
</yandex>
`))

var usersTmpl = template.Must(template.New("users").Parse(`<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>{{.MaxMemory}}</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`))
