// Package rdns tells the kind of network a visitor comes from, as classic
// log analysers (AWStats, Webalizer) report it from the visitor's host
// name: the type of the public suffix of the address's reverse-DNS (PTR)
// name (.com commercial, .net network, .edu and .ac.uk education, .gov
// government, .org organisation, a country's own domain), or, without a
// PTR name, a class read from the name of the network's AS organisation
// (university, government, hosting, ISP).
//
// The visitor's address is never sent to DNS: a lookup is keyed by the
// address's network prefix (/24 for IPv4, /48 for IPv6) and asks for the
// PTR name of the prefix's first host address (a.b.c.1, or PREFIX::1),
// answered for the whole prefix; only the type, the public suffix and
// which source decided are kept. Ingest never waits on DNS: Lookup answers from the
// cache, and otherwise from the AS organisation at once while the prefix
// is queued for resolution by a few background workers (a bounded queue:
// when it is full the prefix is simply not resolved this time).
package rdns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Domain types.
const (
	Commercial   = "commercial"   // .com, .biz, .co.uk and other commercial or generic domains
	Network      = "network"      // .net, .ne.jp: ISPs and networks
	Education    = "education"    // .edu, .ac.uk, .edu.au: universities and schools
	Government   = "government"   // .gov, .mil, .gov.uk, .gouv.fr
	Organisation = "organisation" // .org, .or.jp
	Country      = "country"      // a country's own domain without a class (.de, .fr)
	Hosting      = "hosting"      // hosting and cloud providers (from the AS organisation)
	Unknown      = "unknown"
)

// Sources of a result.
const (
	SourcePTR  = "ptr" // the reverse-DNS name
	SourceASN  = "asn" // the AS organisation's name
	SourceNone = ""    // nothing told
)

// Result is what is kept of a visitor's network.
type Result struct {
	Type   string // one of the domain types
	Suffix string // the PTR name's public suffix ("com", "ac.uk"), "" from the ASN
	Source string // SourcePTR, SourceASN or SourceNone
}

// Options tune a Resolver; the zero value is the default.
type Options struct {
	// Server is the DNS server ("host:port"); "" is the system's resolver.
	Server string
	// Timeout bounds one lookup; default 2 s.
	Timeout time.Duration
	// CacheSize is how many prefixes are remembered; default 65,536.
	CacheSize int
	// TTL is how long an answer is remembered; default 24 h.
	TTL time.Duration
	// Queue is how many prefixes may wait for resolution; default 1,024.
	Queue int
	// Workers resolve the queue; default 4.
	Workers int
	// Rate bounds the lookups per second, all workers together, so that
	// traffic from ever new networks costs little; default 20.
	Rate int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Resolver classifies visitors' networks. It is safe for concurrent use.
type Resolver struct {
	opts     Options
	resolver *net.Resolver
	queue    chan job
	tick     *time.Ticker // one lookup a tick (Options.Rate)
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	cache   map[netip.Prefix]entry
	order   []netip.Prefix // insertion order, for eviction
	pending map[netip.Prefix]bool
}

type entry struct {
	res     Result // SourceNone when the prefix has no usable PTR name
	expires time.Time
}

type job struct {
	prefix netip.Prefix
}

// New starts a resolver and its workers; Close stops them.
func New(o Options) *Resolver {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 65536
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.Queue <= 0 {
		o.Queue = 1024
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Resolver{opts: o, resolver: net.DefaultResolver, queue: make(chan job, o.Queue), tick: time.NewTicker(time.Second / time.Duration(o.Rate)),
		cache: map[netip.Prefix]entry{}, pending: map[netip.Prefix]bool{}}
	if o.Server != "" {
		server := o.Server
		r.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for range o.Workers {
		r.wg.Add(1)
		go r.work(ctx)
	}
	return r
}

// Close stops the workers.
func (r *Resolver) Close() {
	r.cancel()
	r.wg.Wait()
	r.tick.Stop()
}

// HostOf is the address whose PTR name stands for prefix: its first host
// address (a.b.c.1, PREFIX::1).
func HostOf(prefix netip.Prefix) netip.Addr { return prefix.Masked().Addr().Next() }

// PrefixOf is the network an address is resolved and cached for.
func PrefixOf(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Lookup returns the domain type of ip's network without waiting: the
// reverse-DNS answer for its prefix when one is known, else the class of
// asnOrg (the AS organisation's name), queueing the prefix for resolution.
// A nil Resolver (resolution off) answers from asnOrg alone.
func (r *Resolver) Lookup(ip netip.Addr, asnOrg string) Result {
	if r == nil || !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return fromASN(asnOrg)
	}
	prefix := PrefixOf(ip)
	now := r.opts.Now()
	r.mu.Lock()
	e, ok := r.cache[prefix]
	if ok && now.Before(e.expires) {
		r.mu.Unlock()
		if e.res.Source == SourcePTR {
			return e.res
		}
		return fromASN(asnOrg)
	}
	queued := r.pending[prefix]
	if !queued {
		select {
		case r.queue <- job{prefix}:
			r.pending[prefix] = true
		default: // full: not resolved this time
		}
	}
	r.mu.Unlock()
	return fromASN(asnOrg)
}

// work resolves queued prefixes until ctx ends.
func (r *Resolver) work(ctx context.Context) {
	defer r.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-r.queue:
			select {
			case <-ctx.Done():
				return
			case <-r.tick.C: // within the rate
			}
			res := r.resolve(ctx, HostOf(j.prefix))
			r.mu.Lock()
			delete(r.pending, j.prefix)
			if _, ok := r.cache[j.prefix]; !ok {
				if len(r.order) >= r.opts.CacheSize {
					delete(r.cache, r.order[0])
					r.order = r.order[1:]
				}
				r.order = append(r.order, j.prefix)
			}
			r.cache[j.prefix] = entry{res: res, expires: r.opts.Now().Add(r.opts.TTL)}
			r.mu.Unlock()
		}
	}
}

// resolve asks for addr's PTR names and classifies the first usable one.
func (r *Resolver) resolve(ctx context.Context, addr netip.Addr) Result {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	names, err := r.resolver.LookupAddr(ctx, addr.String())
	if err != nil {
		return Result{}
	}
	for _, n := range names {
		if res, ok := FromName(n); ok {
			return res
		}
	}
	return Result{}
}

// FromName classifies a host name by its public suffix; ok is false for
// a name that is not a usable host name.
func FromName(name string) (Result, bool) {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	if !validName(name) || strings.HasSuffix(name, ".arpa") || !strings.Contains(name, ".") {
		return Result{}, false
	}
	suffix, icann := publicsuffix.PublicSuffix(name)
	if !icann {
		// A private suffix (a hosting platform's): its ICANN suffix.
		labels := strings.Split(suffix, ".")
		suffix = labels[len(labels)-1]
	}
	if suffix == name {
		return Result{}, false // a bare suffix is no host
	}
	return Result{Type: suffixType(suffix), Suffix: suffix, Source: SourcePTR}, true
}

// suffixType is the domain type of a public suffix: its class label (the
// generic top-level domain, or a country domain's second level: ac.uk,
// co.jp, gov.br), else country for a bare country domain.
func suffixType(suffix string) string {
	labels := strings.Split(suffix, ".")
	tld := labels[len(labels)-1]
	class := tld
	if len(labels) >= 2 {
		class = labels[len(labels)-2]
	}
	switch class {
	case "com", "co", "biz", "ltd", "plc", "firm", "corp", "inc", "store", "shop":
		return Commercial
	case "net", "ne", "isp", "nic":
		return Network
	case "edu", "ac", "sch", "school", "univ", "uni", "academy":
		return Education
	case "gov", "go", "gob", "gouv", "govt", "gv", "mil", "admin", "government":
		return Government
	case "org", "or", "ngo", "asso", "assn":
		return Organisation
	}
	if len(labels) == 1 && len(tld) == 2 {
		return Country
	}
	if len(labels) >= 2 && len(tld) == 2 {
		return Country // a country domain's other classes (.tm.fr, .qc.ca)
	}
	return Commercial // a generic top-level domain (.info, .io, .app)
}

// validName reports whether name has only the characters of a host name.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// fromASN classifies a network by its AS organisation's name.
func fromASN(org string) Result {
	if org == "" {
		return Result{Type: Unknown}
	}
	o := strings.ToLower(org)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(o, w) {
				return true
			}
		}
		return false
	}
	t := Network // an AS without another clue is an access network
	switch {
	case has("universit", "college", "school", "hochschule", "research and education", "research & education", "academic",
		"education", "institute of technology", "polytechnic", "fachhochschule", "ecole", "école", "renater", "jisc", "dfn", "surf b.v", "geant", "internet2"):
		t = Education
	case has("government", "ministry", "ministerio", "ministère", "bundes", "federal", "state of ", "county of", "city of ", "municipal",
		"department of", "gouvernement", "council", "parliament", "military", "defense", "defence", "police"):
		t = Government
	case has("amazon", "google", "microsoft", "azure", "digitalocean", "hetzner", "ovh", "linode", "akamai", "cloudflare", "vultr",
		"scaleway", "contabo", "oracle", "alibaba", "tencent", "hosting", "hoster", "cloud", "data center", "datacenter", "colocation",
		"server", "leaseweb", "choopa", "ionos"):
		t = Hosting
	case has("foundation", "association", "e.v.", "non-profit", "nonprofit", "society", "church", "charity"):
		t = Organisation
	}
	return Result{Type: t, Source: SourceASN}
}
