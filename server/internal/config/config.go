// Package config reads crumb's settings: every flag can also be set through
// the environment as CRUMB_<FLAG> (dashes become underscores), and secrets
// through CRUMB_<FLAG>_FILE naming a file that holds the value. A flag on the
// command line wins over the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	return "CRUMB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Bind applies the environment to every flag of fs that the command line
// did not set. Call it after fs.Parse.
func Bind(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := EnvName(f.Name)
		v := getenv(env)
		if v == "" {
			if file := getenv(env + "_FILE"); file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s_FILE: %w", env, err))
					return
				}
				v = strings.TrimRight(string(b), "\r\n")
			}
		}
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
		}
	})
	return errors.Join(errs...)
}

// Usage prints a flag set's flags with the environment variable of each.
func Usage(fs *flag.FlagSet, summary string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nFlags (each also read from the environment variable shown; secrets also from <VAR>_FILE):\n", summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, EnvName(f.Name), f.Usage, def)
		})
	}
}

// Common are the settings every subcommand that reaches ClickHouse shares.
type Common struct {
	DataDir       string
	ClickHouseURL string
	// Cluster names the ClickHouse cluster (remote_servers) in cluster
	// mode; empty for one server.
	Cluster   string
	LogLevel  string
	LogFormat string
}

// Register adds the common flags to fs.
func (c *Common) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./crumb-data", "folder for the durable buffer, the embedded ClickHouse and the generated secret")
	fs.StringVar(&c.ClickHouseURL, "clickhouse-url", "", "ClickHouse to use, clickhouse://user:password@host:9000/database; empty starts a private clickhouse-server in the data folder; several host:port pairs separated by commas are tried in order")
	fs.StringVar(&c.Cluster, "clickhouse-cluster", "", "cluster mode: the cluster name of the servers' remote_servers; tables are replicated and distributed over it (see server/OPERATIONS.md, Cluster mode)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
}

// Mail are the settings of e-mail digests and alerts.
type Mail struct {
	SMTPURL  string
	SMTPFrom string
}

// Register adds the mail flags to fs.
func (m *Mail) Register(fs *flag.FlagSet) {
	fs.StringVar(&m.SMTPURL, "smtp-url", "", "SMTP server for digests and alerts: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (TLS); empty turns e-mail off")
	fs.StringVar(&m.SMTPFrom, "smtp-from", "", "the From address of digests and alerts, such as crumb@example.com")
}

// DefaultMetricsListen is where /metrics is served unless
// --metrics-listen says otherwise: loopback only.
const DefaultMetricsListen = "127.0.0.1:9465"

// Serve are the settings of `crumb serve`.
type Serve struct {
	Common
	Mail
	Listen         string
	MetricsListen  string
	MetricsToken   string
	PublicURL      string
	TrustedProxies CIDRList
	GeoIPCity      string
	GeoIPASN       string
	DNSResolver    string
	Secret         string
	RateLimit      int
	Heavy          int
	ShareLimit     int
	BufferMax      int
	BatchSize      int
	FlushInterval  time.Duration
	SyncInterval   time.Duration
	SitesRefresh   time.Duration
	MemoryLimitMB  int
	Demo           bool
}

// Register adds the serve flags to fs.
func (s *Serve) Register(fs *flag.FlagSet) {
	s.Common.Register(fs)
	s.Mail.Register(fs)
	fs.StringVar(&s.Listen, "listen", ":8080", "host:port to serve HTTP on")
	fs.StringVar(&s.MetricsListen, "metrics-listen", DefaultMetricsListen, "host:port to serve /metrics on, apart from --listen; off (or empty) disables it")
	fs.StringVar(&s.MetricsToken, "metrics-token", "", "bearer token that /metrics asks for (Authorization: Bearer TOKEN), 16+ characters; set it when --metrics-listen is not on loopback")
	fs.StringVar(&s.PublicURL, "public-url", "", "the address visitors reach crumb at, for the printed script tag (default http://localhost:PORT)")
	fs.Var(&s.TrustedProxies, "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	fs.StringVar(&s.GeoIPCity, "geoip-city", "", "GeoIP2/GeoLite2 City .mmdb (default <data-dir>/geoip/city.mmdb if present)")
	fs.StringVar(&s.GeoIPASN, "geoip-asn", "", "GeoLite2 ASN .mmdb (default <data-dir>/geoip/asn.mmdb if present)")
	fs.StringVar(&s.DNSResolver, "dns-resolver", "system", "DNS server for visitors' domain types, host:port; system: the system's resolver; off: no reverse DNS (the AS organisation decides)")
	fs.StringVar(&s.Secret, "secret", "", "secret shared by all crumb nodes that signs consent tokens, 32+ bytes (default: generated once into <data-dir>/secret)")
	fs.IntVar(&s.RateLimit, "rate-limit", 600, "ingest requests per minute one client address may make on this node; 0 disables")
	fs.IntVar(&s.ShareLimit, "share-rate-limit", 300, "stats requests per minute one client address may make with share links on this node (logins and API tokens are not limited); 0 disables")
	fs.IntVar(&s.Heavy, "heavy-requests", 2, "heavy dashboard requests this node runs at once (with filters, paths, funnels, retention, goals, entry/exit pages, loyalty: each reads every event or visit of its range); the others wait their turn up to 30 s, then get 503; share links have as many turns of their own; about ClickHouse's cores; negative: no limit")
	fs.IntVar(&s.BufferMax, "buffer-max", 1_000_000, "records the durable buffer holds before ingest answers 503")
	fs.IntVar(&s.BatchSize, "batch-size", 5000, "most rows in one insert into ClickHouse")
	fs.DurationVar(&s.FlushInterval, "flush-interval", time.Second, "longest a record waits in the buffer for a full batch")
	fs.DurationVar(&s.SyncInterval, "sync-interval", time.Second, "how often the buffer is fsynced: what a power loss can cost at most")
	fs.DurationVar(&s.SitesRefresh, "sites-refresh", 5*time.Second, "how often site settings are re-read from ClickHouse")
	fs.IntVar(&s.MemoryLimitMB, "memory-limit-mb", 120, "soft limit of the Go heap in MB: the collector works harder near it (0: none; GOMEMLIMIT wins)")
	fs.BoolVar(&s.Demo, "demo", false, "create a demo site for localhost and an admin login if there are none")
}

// Defaults fills settings derived from others.
func (s *Serve) Defaults() {
	if s.GeoIPCity == "" {
		s.GeoIPCity = existing(filepath.Join(s.DataDir, "geoip", "city.mmdb"))
	}
	if s.GeoIPASN == "" {
		s.GeoIPASN = existing(filepath.Join(s.DataDir, "geoip", "asn.mmdb"))
	}
	if s.PublicURL == "" {
		port := s.Listen[strings.LastIndex(s.Listen, ":")+1:]
		s.PublicURL = "http://localhost:" + port
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	if s.MetricsListen == "off" {
		s.MetricsListen = ""
	}
}

func existing(p string) string {
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// CIDRList is a comma-separated list of networks.
type CIDRList []netip.Prefix

func (l *CIDRList) String() string {
	parts := make([]string, len(*l))
	for i, p := range *l {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Set parses "10.0.0.0/8,127.0.0.1"; a bare address means that one host.
func (l *CIDRList) Set(v string) error {
	*l = nil
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return err
			}
			*l = append(*l, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return err
		}
		*l = append(*l, p.Masked())
	}
	return nil
}
