package app_test

import (
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"

	"github.com/crumbhq/crumb/server/internal/config"
	"github.com/crumbhq/crumb/server/internal/model"
	"github.com/crumbhq/crumb/server/internal/rdns"
)

// TestDomainType_FromReverseDNS: with a DNS server (a real one, on
// loopback), events get the domain type of their network's PTR name once
// it is resolved, off the request path; before that, and without a PTR
// name, the AS organisation's class. Only the type, the public suffix and
// the source are stored, never the host name.
func TestDomainType_FromReverseDNS(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The network's first host is asked for, never the visitor's address.
	ptr, _ := dns.ReverseAddr(rdns.HostOf(rdns.PrefixOf(netip.MustParseAddr(visitorIP))).String())
	own, _ := dns.ReverseAddr(visitorIP)
	var askedOwn atomic.Bool
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		if req.Question[0].Name == own {
			askedOwn.Store(true)
		}
		m := new(dns.Msg)
		m.SetReply(req)
		if req.Question[0].Name == ptr {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: ptr, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60},
				Ptr: "pc17.secret-lab.example.ac.uk."})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	defer srv.Shutdown()

	f := newFixture(t, func(c *config.Serve, _ *model.Site) { c.DNSResolver = pc.LocalAddr().String() })
	tok := f.accept(uuid.NewString())
	send := func(path string, headers ...string) {
		t.Helper()
		res := f.do("POST", "/api/events", map[string]any{"site": "site1", "visitor": uuid.NewString(), "session": uuid.NewString(), "consent": tok,
			"events": []any{pageview("https://example.com" + path)}}, headers...)
		if res.code != 202 {
			t.Fatalf("events: %d %s", res.code, res.raw)
		}
	}
	start := time.Now()
	send("/first")
	if d := time.Since(start); d > time.Second {
		t.Errorf("the first request waited %v for DNS", d)
	}
	// The next requests, once the prefix is resolved.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		send("/later")
		f.flush()
		if f.count("SELECT count() FROM events WHERE path = '/later' AND domain_source = 'ptr'") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the PTR name never decided")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if askedOwn.Load() {
		t.Error("the visitor's own address was sent to DNS")
	}
	// An address of another network, without a PTR name or a known AS.
	send("/elsewhere", "X-Forwarded-For", "81.2.70.5")
	time.Sleep(300 * time.Millisecond)
	send("/elsewhere", "X-Forwarded-For", "81.2.70.5")
	f.flush()
	for _, tc := range []struct{ path, typ, suffix, source string }{
		{"/later", "education", "ac.uk", "ptr"},
		{"/elsewhere", "unknown", "", ""},
	} {
		if n := f.count("SELECT count() FROM events WHERE path = ? AND domain_type = ? AND domain_suffix = ? AND domain_source = ?",
			tc.path, tc.typ, tc.suffix, tc.source); n == 0 {
			t.Errorf("%s: no event with domain type %s, suffix %q, source %s", tc.path, tc.typ, tc.suffix, tc.source)
		}
	}
	// The host name is nowhere.
	for _, q := range []string{"SELECT count() FROM events WHERE position(concat(domain_type, domain_suffix, domain_source, hostname, path), 'secret-lab') > 0",
		"SELECT count() FROM report_dims WHERE position(value, 'secret-lab') > 0"} {
		if n := f.count(q); n != 0 {
			t.Errorf("the PTR host name is stored: %s", q)
		}
	}
	if !strings.Contains(f.scrape(), "crumb_ingest_accepted_total") {
		t.Error("no metrics")
	}
}
