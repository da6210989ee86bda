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
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-3}
CONCURRENCY=${CONCURRENCY:-4 8 16 32}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}

tmp=$(mktemp -d)
server=
bare=
cleanup() {
	status=$?
	for p in $server $bare; do
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
	done
	load -raw | tee -a "$out"
done

echo "after: $(uptime)"
echo
echo "medians:"
awk -f bench/median.awk "$out" | tee "$tmp/medians"
# Each create rate over the raw rate of the same runs and over the bare
# server's rate at the same concurrency.
awk '$3 == "raw/s" { raw = $2 }
	$3 == "req/s" && $1 ~ /CreateUser/ { c = $1; sub(/.*\//, "", c); rate[++n] = $1; v[n] = $2; conc[n] = c }
	$3 == "req/s" && $1 ~ /BareIssue/ { c = $1; sub(/.*\//, "", c); bare[c] = $2 }
	END { for (i = 1; i <= n; i++) printf "%-40s %10.3f create/raw %10.3f create/bare\n", rate[i], v[i] / raw, v[i] / bare[conc[i]] }' "$tmp/medians"

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
