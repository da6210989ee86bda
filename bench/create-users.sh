#!/usr/bin/env bash
# create-users.sh measures user creation end to end: the real kcred server on
# SQLite (a fresh --data directory, all cores), driven over loopback HTTP by
# bench/loadgen in its own process on the same cores. Each of COUNT rounds
# (default 3) runs the raw P-256 keygen+sign rate, loadgen at each
# concurrency of CONCURRENCY (default "4 8 16 32") for DURATION (default 5s)
# after WARMUP (default 1s), then the raw rate again, so the baseline
# straddles the load, and the same loads against a bare Go issuing server
# (loadgen -serve-bare: a key and certificate per request, no store) in its
# own process. It prints the medians, the ratio of each create rate to the
# raw rate and to the bare server's, and checks that the server holds
# exactly the users loadgen was told were created. docs/PERFORMANCE.md
# keeps the results.
#
# With CFSSL and VAULT set to the paths of those programs' binaries (how to
# build them: docs/PERFORMANCE.md), the same loads run in each round
# against two well-known Go PKI servers as well, each making a P-256 key
# and certificate per request: `cfssl serve` (newcert, under a P-256 CA,
# warnings-only log) and `vault server -dev` (pki/issue of a role with a
# P-256 key, a root CA generated inside; dev mode keeps its storage in
# memory, which costs it less than a durable store would).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-3}
CONCURRENCY=${CONCURRENCY:-4 8 16 32}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}

tmp=$(mktemp -d)
server=
bare=
cfssl=
vault=
cleanup() {
	status=$?
	for p in $server $bare $cfssl $vault; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$status" -eq 0 ]; then
		rm -rf "$tmp"
	else
		echo "create-users.sh: failed; server log and results kept in $tmp" >&2
	fi
}
trap cleanup EXIT

go build -o "$tmp/kcred" ./cmd/kcred
go build -o "$tmp/loadgen" ./bench/loadgen

# The bootstrap token must be at least 32 characters.
token=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
# Port 0 picks a free port; the "listening" log line says which. The server
# keeps Go's default GOMAXPROCS (every core) and SQLite whatever the caller's
# environment says; the master key is made under --data on the first start.
env -u GOMAXPROCS -u KCRED_DATABASE_URL KCRED_BOOTSTRAP_TOKEN="$token" \
	"$tmp/kcred" server --data "$tmp/data" --listen 127.0.0.1:0 >"$tmp/server.log" 2>&1 &
server=$!

"$tmp/loadgen" -serve-bare 127.0.0.1:0 >"$tmp/bare.log" 2>&1 &
bare=$!

# ready LOG PID PATH prints the URL that LOG announces once PATH answers.
ready() {
	for _ in $(seq 100); do
		u=$(grep -o 'url=http://[^ ]*' "$1" | head -n 1 | cut -d= -f2 || true)
		if [ -n "$u" ] && curl -sf -o /dev/null "$u$3"; then
			echo "$u"
			return
		fi
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "create-users.sh: $1 not ready after 10s" >&2
	cat "$1" >&2
	exit 1
}
url=$(ready "$tmp/server.log" "$server" /readyz)
bareurl=$(ready "$tmp/bare.log" "$bare" /readyz)

# freeport prints a loopback port nothing listens on now, for the servers
# that cannot be given port 0.
freeport() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -n "${CFSSL:-}" ]; then
	mkdir "$tmp/cfssl"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=bench Project CA" \
		-keyout "$tmp/cfssl/ca-key.pem" -out "$tmp/cfssl/ca.pem" 2>/dev/null
	echo '{"signing": {"profiles": {"client": {"expiry": "19680h", "usages": ["digital signature", "client auth"]}}}}' \
		>"$tmp/cfssl/config.json"
	port=$(freeport)
	"$CFSSL" serve -address 127.0.0.1 -port "$port" -loglevel 2 -config "$tmp/cfssl/config.json" \
		-ca "$tmp/cfssl/ca.pem" -ca-key "$tmp/cfssl/ca-key.pem" >"$tmp/cfssl.log" 2>&1 &
	cfssl=$!
	echo "url=http://127.0.0.1:$port" >"$tmp/cfssl.url"
	cfsslurl=$(ready "$tmp/cfssl.url" "$cfssl" /api/v1/cfssl/health)
fi
if [ -n "${VAULT:-}" ]; then
	port=$(freeport)
	"$VAULT" server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" -log-level=warn \
		>"$tmp/vault.log" 2>&1 &
	vault=$!
	echo "url=http://127.0.0.1:$port" >"$tmp/vault.url"
	vaulturl=$(ready "$tmp/vault.url" "$vault" /v1/sys/health)
	v() { curl -sSf -H "X-Vault-Token: $token" "$@" >/dev/null; }
	v -d '{"type": "pki", "config": {"max_lease_ttl": "87600h"}}' "$vaulturl/v1/sys/mounts/pki"
	v -d '{"common_name": "bench Project CA", "key_type": "ec", "key_bits": 256, "ttl": "87600h"}' \
		"$vaulturl/v1/pki/root/generate/internal"
	v -d '{"allow_any_name": true, "enforce_hostnames": false, "key_type": "ec", "key_bits": 256,
		"client_flag": true, "server_flag": false, "ttl": "19680h"}' "$vaulturl/v1/pki/roles/kafka1"
fi

api() { curl -sSf -H "Authorization: Bearer $token" "$@"; }
api -d '{"project": "bench"}' "$url/v1/project" >/dev/null
api -d '{"service_name": "kafka1", "service_type": "kafka"}' "$url/v1/project/bench/service" >/dev/null

# The load average says how quiet the machine was: other work on the two
# cores shows in every figure below.
echo "before: $(uptime)"
out=$tmp/results
load() { "$tmp/loadgen" -url "$url" -token "$token" -project bench -service kafka1 -d "$DURATION" -warmup "$WARMUP" "$@"; }
for r in $(seq "$COUNT"); do
	load -raw | tee -a "$out"
	for c in $CONCURRENCY; do
		load -c "$c" -prefix "r$r-c$c" | tee -a "$out"
		load -url "$bareurl" -name BareIssue -c "$c" -prefix "b$r-c$c" | grep -v 'users created' | tee -a "$out"
		if [ -n "$cfssl" ]; then
			load -url "$cfsslurl" -target cfssl -name CfsslIssue -c "$c" -prefix "f$r-c$c" | grep -v 'users created' | tee -a "$out"
		fi
		if [ -n "$vault" ]; then
			load -url "$vaulturl" -target vault -name VaultIssue -c "$c" -prefix "v$r-c$c" | grep -v 'users created' | tee -a "$out"
		fi
	done
	load -raw | tee -a "$out"
done

echo "after: $(uptime)"
echo
echo "medians:"
awk -f bench/median.awk "$out" | tee "$tmp/medians"
# Each create rate over the raw rate of the same runs and over the other
# servers' rates at the same concurrency.
awk '$3 == "raw/s" { raw = $2 }
	$3 == "req/s" && $1 ~ /CreateUser/ { c = $1; sub(/.*\//, "", c); rate[++n] = $1; v[n] = $2; conc[n] = c }
	$3 == "req/s" && $1 !~ /CreateUser/ { c = $1; sub(/.*\//, "", c); s = $1; sub(/\/.*/, "", s); sub(/BenchmarkLoad/, "", s); sub(/Issue/, "", s)
		if (!(s in seen)) { seen[s] = 1; servers[++m] = s }; other[s, c] = $2 }
	END { for (i = 1; i <= n; i++) {
		printf "%-40s %10.3f create/raw", rate[i], v[i] / raw
		for (j = 1; j <= m; j++) printf " %10.3f create/%s", v[i] / other[servers[j], conc[i]], tolower(servers[j])
		printf "\n" } }' "$tmp/medians"

# Every 200 must be a user the server keeps: count them (the service's
# users, without secrets, less avnadmin) against loadgen's own count.
sent=$(awk '/users created/ { s += $2 } END { print s + 0 }' "$out")
held=$(api "$url/v1/project/bench/service/kafka1?include_secrets=false" | jq '[.service.users[] | select(.username != "avnadmin")] | length')
echo
echo "users created: $sent by loadgen, $held on the server"
if [ "$sent" -ne "$held" ]; then
	echo "create-users.sh: the server holds $held users, loadgen created $sent" >&2
	exit 1
fi
