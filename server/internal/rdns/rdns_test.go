package rdns

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestFromName(t *testing.T) {
	for _, tt := range []struct {
		name        string
		typ, suffix string
		ok          bool
	}{
		{"dsl-1-2-3-4.dynamic.comcast.net.", Network, "net", true},
		{"host.example.com", Commercial, "com", true},
		{"pc12.cs.ox.ac.uk", Education, "ac.uk", true},
		{"lab.mit.edu", Education, "edu", true},
		{"gw.agency.gov", Government, "gov", true},
		{"proxy.dwp.gov.uk", Government, "gov.uk", true},
		{"www.wikimedia.org", Organisation, "org", true},
		{"p5b0.dip0.t-ipconnect.de", Country, "de", true},
		{"ab12.ne.jp.example.ne.jp", Network, "ne.jp", true},
		{"static.vpn.example.co.uk", Commercial, "co.uk", true},
		{"box.example.io", Country, "io", true}, // .io is a country domain
		{"HOST.EXAMPLE.COM.", Commercial, "com", true},
		{"1.2.3.4.in-addr.arpa", "", "", false},
		{"not a host!", "", "", false},
		{"com", "", "", false},
		{"localhost", "", "", false},
		{"", "", "", false},
	} {
		res, ok := FromName(tt.name)
		if ok != tt.ok || res.Type != tt.typ || res.Suffix != tt.suffix || ok && res.Source != SourcePTR {
			t.Errorf("FromName(%q) = %+v, %v; want %s %s %v", tt.name, res, ok, tt.typ, tt.suffix, tt.ok)
		}
	}
}

func TestFromASN(t *testing.T) {
	for org, want := range map[string]string{
		"Massachusetts Institute of Technology": Education,
		"University of Oxford":                  Education,
		"Deutsches Forschungsnetz (DFN)":        Education,
		"U.S. Department of Defense Network":    Government,
		"Amazon.com, Inc.":                      Hosting,
		"Hetzner Online GmbH":                   Hosting,
		"Deutsche Telekom AG":                   Network,
		"Comcast Cable Communications, LLC":     Network,
		"Wikimedia Foundation Inc.":             Organisation,
		"":                                      Unknown,
	} {
		if got := fromASN(org); got.Type != want || org != "" && got.Source != SourceASN {
			t.Errorf("fromASN(%q) = %+v, want %s", org, got, want)
		}
	}
}

// dnsServer is a real DNS server on loopback answering PTR questions from
// names: a name of "" times out (no answer), "!garbage" answers a name
// that is no host name.
func dnsServer(t *testing.T, names map[string]string) (addr string, queries *atomic.Int64) {
	t.Helper()
	queries = new(atomic.Int64)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		queries.Add(1)
		q := req.Question[0]
		name, known := names[q.Name]
		if known && name == "" {
			return // no answer: the client times out
		}
		m := new(dns.Msg)
		m.SetReply(req)
		switch {
		case !known:
			m.Rcode = dns.RcodeNameError
		case name == "!garbage":
			// A PTR whose name is not a host name, with escaped bytes.
			m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60},
				Ptr: "bad\\032name\\255.example.com."})
		default:
			m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60}, Ptr: name})
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), queries
}

func arpa(ip string) string {
	name, _ := dns.ReverseAddr(ip)
	return name
}

func TestResolver_LooksUpOffTheHotPath(t *testing.T) {
	addr, queries := dnsServer(t, map[string]string{
		// The prefix's first host stands for it; the visitor's own
		// address is never asked for.
		arpa("81.2.69.1"):   "pc1.cs.example.ac.uk.",
		arpa("81.2.69.160"): "visitor.example.com.",
		arpa("81.2.70.1"):   "",         // times out
		arpa("81.2.71.1"):   "!garbage", // not a host name
	})
	r := New(Options{Server: addr, Timeout: 300 * time.Millisecond, Workers: 2})
	defer r.Close()
	ip := netip.MustParseAddr("81.2.69.160")

	// The first request does not wait: the AS organisation decides, and
	// the prefix is queued.
	start := time.Now()
	if got := r.Lookup(ip, "Andrews & Arnold Ltd"); got.Type != Network || got.Source != SourceASN {
		t.Fatalf("first lookup: %+v", got)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("the first lookup waited %v", d)
	}
	// Then the PTR name of 81.2.69.1 decides, for the whole /24, with one
	// DNS query.
	want := Result{Type: Education, Suffix: "ac.uk", Source: SourcePTR}
	waitFor(t, func() bool { return r.Lookup(ip, "Andrews & Arnold Ltd") == want })
	if got := r.Lookup(netip.MustParseAddr("81.2.69.7"), ""); got != want {
		t.Errorf("another address of the prefix: %+v", got)
	}
	if n := queries.Load(); n != 1 {
		t.Errorf("%d DNS queries for one prefix, want 1", n)
	}
	// A server that does not answer, and a garbage answer: the ASN's class
	// stays, and the lookups never wait.
	for _, s := range []string{"81.2.70.1", "81.2.71.1"} {
		ip := netip.MustParseAddr(s)
		r.Lookup(ip, "Hetzner Online GmbH")
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		if got := r.Lookup(ip, "Hetzner Online GmbH"); got.Type != Hosting || got.Source != SourceASN || time.Since(start) > 50*time.Millisecond {
			t.Errorf("%s: %+v", s, got)
		}
	}
	// Private and unknown addresses are never resolved.
	before := queries.Load()
	if got := r.Lookup(netip.MustParseAddr("10.1.2.3"), ""); got.Type != Unknown {
		t.Errorf("private address: %+v", got)
	}
	if got := r.Lookup(netip.Addr{}, ""); got.Type != Unknown {
		t.Errorf("no address: %+v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if queries.Load() != before {
		t.Error("a private address was resolved")
	}
}

func TestResolver_BoundedQueueNeverBlocks(t *testing.T) {
	addr, _ := dnsServer(t, map[string]string{}) // every name: NXDOMAIN
	r := New(Options{Server: addr, Queue: 2, Workers: 1, Timeout: 200 * time.Millisecond})
	defer r.Close()
	start := time.Now()
	for i := range 2000 {
		ip := netip.AddrFrom4([4]byte{5, byte(i >> 8), byte(i), 1})
		if got := r.Lookup(ip, "Orange S.A."); got.Source != SourceASN {
			t.Fatalf("%v: %+v", ip, got)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("2,000 lookups with a queue of 2 took %v", d)
	}
}

func TestResolver_Off(t *testing.T) {
	var r *Resolver
	if got := r.Lookup(netip.MustParseAddr("8.8.8.8"), "Google LLC"); got.Type != Hosting || got.Source != SourceASN {
		t.Errorf("resolution off: %+v", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("not within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
