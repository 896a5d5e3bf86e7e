// Package chserver starts and supervises a private clickhouse-server process
// in a data folder of its own, on free loopback ports: the embedded default
// ClickHouse of `crumb serve`, and the throwaway server of the tests. The
// server listens on 127.0.0.1 only, speaks the native protocol only (unless
// HTTP is asked for), and its default user has a password (PasswordFile).
package chserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
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
	// TCPPort is the loopback port of the native protocol; 0 picks a free
	// one.
	TCPPort int
	// HTTP also opens ClickHouse's HTTP interface on a free loopback port,
	// for test harnesses that read the server's own text formats; crumb
	// speaks the native protocol only.
	HTTP bool
	// Password is the default user's password; empty means the one in
	// Dir's PasswordFile, generated on first start.
	Password string
	// InterserverPort, if set, enables replication between servers on
	// this loopback port, authenticated with Password: servers replicating
	// with each other need the same one.
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
	password string
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
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	password := opts.Password
	if password == "" {
		if password, err = LoadPassword(dir); err != nil {
			return nil, err
		}
	}
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	if opts.TCPPort != 0 {
		ports[0] = opts.TCPPort
	}
	if !opts.HTTP {
		ports[1] = 0
	}
	s := &Server{opts: opts, binary: bin, tcpPort: ports[0], httpPort: ports[1], password: password, log: log, resumed: make(chan struct{}, 1)}
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

// URL is the clickhouse:// address of database db on this server, with
// the password; empty db names none.
func (s *Server) URL(db string) string { return DSN(s.Addr(), s.password, db) }

// Password is the default user's password.
func (s *Server) Password() string { return s.password }

// HTTPAddr is the host:port of the HTTP interface, or "" without one
// (Options.HTTP).
func (s *Server) HTTPAddr() string {
	if s.httpPort == 0 {
		return ""
	}
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

// waitReady waits until the server answers a native-protocol ping,
// starting it again if it exits during start-up.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	for {
		err := s.Ping(ctx)
		if err == nil {
			return nil
		}
		if refused(err) {
			return fmt.Errorf("chserver: clickhouse-server refused the password: %w", err)
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

// Ping connects over the native protocol with the password and pings.
func (s *Server) Ping(ctx context.Context) error {
	conn, err := ch.Open(&ch.Options{
		Addr:        []string{s.Addr()},
		Auth:        ch.Auth{Username: User, Password: s.password},
		DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return conn.Ping(pctx)
}

// refused reports whether err is the server refusing the credentials:
// UNKNOWN_USER, WRONG_PASSWORD or REQUIRED_PASSWORD on 18.16,
// AUTHENTICATION_FAILED on current releases.
func refused(err error) bool {
	var ex *ch.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case 192, 193, 194, 516:
		return true
	}
	return false
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
