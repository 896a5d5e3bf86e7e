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
