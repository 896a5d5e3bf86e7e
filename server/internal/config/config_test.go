package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBind_FlagsWinOverEnvironmentAndFilesWork(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"CRUMB_LISTEN":          "127.0.0.1:9999",
		"CRUMB_DATA_DIR":        "/from/env",
		"CRUMB_SECRET_FILE":     secretFile,
		"CRUMB_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
		"CRUMB_FLUSH_INTERVAL":  "250ms",
	}
	var s Serve
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	s.Register(fs)
	if err := fs.Parse([]string{"--data-dir", "/from/flag"}); err != nil {
		t.Fatal(err)
	}
	if err := Bind(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if s.DataDir != "/from/flag" || s.Listen != "127.0.0.1:9999" || s.Secret != "from-a-file" || s.FlushInterval != 250*time.Millisecond {
		t.Fatalf("settings = %+v", s)
	}
	if len(s.TrustedProxies) != 2 || s.TrustedProxies[1].String() != "192.168.1.1/32" {
		t.Fatalf("trusted proxies = %v", s.TrustedProxies)
	}
}

func TestBind_ReportsBadValues(t *testing.T) {
	var s Serve
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	s.Register(fs)
	_ = fs.Parse(nil)
	err := Bind(fs, func(k string) string {
		if k == "CRUMB_RATE_LIMIT" {
			return "lots"
		}
		return ""
	})
	if err == nil {
		t.Fatal("bad CRUMB_RATE_LIMIT accepted")
	}
}

// /metrics is served apart from the public listener, on loopback unless
// told otherwise; CRUMB_METRICS_LISTEN=off turns it off, and the token can
// come from a file.
func TestServe_MetricsListenOnLoopbackByDefault(t *testing.T) {
	parse := func(env map[string]string, args ...string) Serve {
		t.Helper()
		var s Serve
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		s.Register(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := Bind(fs, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		s.Defaults()
		return s
	}
	if s := parse(nil); s.MetricsListen != "127.0.0.1:9465" || s.MetricsToken != "" {
		t.Fatalf("defaults: %q %q", s.MetricsListen, s.MetricsToken)
	}
	if s := parse(map[string]string{"CRUMB_METRICS_LISTEN": "off"}); s.MetricsListen != "" {
		t.Fatalf("CRUMB_METRICS_LISTEN=off: %q", s.MetricsListen)
	}
	if s := parse(nil, "--metrics-listen="); s.MetricsListen != "" {
		t.Fatalf("--metrics-listen=: %q", s.MetricsListen)
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("metrics-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := parse(map[string]string{"CRUMB_METRICS_LISTEN": "10.0.0.5:9465", "CRUMB_METRICS_TOKEN_FILE": file})
	if s.MetricsListen != "10.0.0.5:9465" || s.MetricsToken != "metrics-token-0123456789" {
		t.Fatalf("from the environment: %q %q", s.MetricsListen, s.MetricsToken)
	}
}
