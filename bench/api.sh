#!/usr/bin/env bash
# api.sh measures the HTTP API: credential reads beside a bare net/http
# handler serving the same JSON, and user creation on SQLite and PostgreSQL
# beside the raw key generation and signing rate, all in one run. It prints
# the median of COUNT runs (default 5) of each figure; docs/PERFORMANCE.md
# keeps the results.
set -euo pipefail
cd "$(dirname "$0")/.."
export KCRED_TEST_DATABASE_URL=${KCRED_TEST_DATABASE_URL:-'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'}
out=$(mktemp)
go test -run '^$' -bench 'BareHandler|GetUser|CreateUser|RawIssue' -benchtime "${BENCHTIME:-3s}" \
	-count "${COUNT:-5}" ./internal/httpapi | tee "$out"
echo
echo "medians:"
awk -f bench/median.awk "$out"
rm -f "$out"
