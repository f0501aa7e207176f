#!/bin/bash
# mode: sync under an OLTP load, with the bad moments of a night: see README.md beside this file.
# Usage: bench/experiments/sync-soak/soak.sh [rounds] (as root; needs Debian's PostgreSQL 15 and pgbench)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
dir=${SOAK_DIR:-/tmp/tablehaul-sync-soak}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
rounds=${1:-12}
th="node $repo/bin/tablehaul.js"
id -u postgres >/dev/null 2>&1 || useradd -m postgres
mkdir -p "$dir" && chmod 777 "$dir"
start() { su postgres -c "$bin/pg_ctl -D $dir/data$1 -o '-p $1 -k /tmp -c shared_buffers=256MB -c max_connections=60' -l $dir/data$1.log ${2:-start}" >/dev/null; }
for port in 5701 5702; do
  [ -d "$dir/data$port" ] || su postgres -c "$bin/initdb -D $dir/data$port -U postgres -A trust >/dev/null"
  start $port
done
trap 'for port in 5701 5702; do su postgres -c "$bin/pg_ctl -D $dir/data$port stop -m fast" >/dev/null 2>&1; done' EXIT
export PGOPTIONS=--client-min-messages=warning
src="$bin/psql -h /tmp -p 5701 -U postgres -q -X postgres"
tgt="$bin/psql -h /tmp -p 5702 -U postgres -q -X postgres"
cd "$dir"
cat > tablehaul.yaml <<YAML
source: { url: postgres://postgres@127.0.0.1:5701/postgres }
target: { url: postgres://postgres@127.0.0.1:5702/postgres }
tables: [public.pgbench_*, { name: public.events, changed: updated_at }]
mode: sync
jobs: 3
log: { dir: ./logs }
YAML
$bin/pgbench -h /tmp -p 5701 -U postgres -i -s 5 -q postgres >/dev/null 2>&1
$src -c "DROP TABLE IF EXISTS events; DROP SEQUENCE IF EXISTS events_seq;
  CREATE TABLE events (id bigint PRIMARY KEY, k int, v text, body text, tags int[], doc jsonb, updated_at timestamptz NOT NULL DEFAULT now());
  CREATE SEQUENCE events_seq START 100001;
  INSERT INTO events SELECT g, g % 100, md5(g::text), CASE WHEN g % 100 = 0 THEN repeat(md5(g::text), 300) END,
    ARRAY[g, g + 1], jsonb_build_object('g', g), now() FROM generate_series(1, 100000) g;"
$th run >first.log 2>&1 || { echo "first copy failed: $dir/first.log"; exit 1; }
load() { $bin/pgbench -h /tmp -p 5701 -U postgres -n -c 6 -j 2 -T "$1" -b tpcb-like@5 -f "$here/writers.sql@5" -f "$here/bypass.sql@1" postgres >>pgbench.log 2>&1; }
failures=0
for i in $(seq 1 "$rounds"); do
  load 20 & writers=$!
  sleep 2
  case $((i % 8)) in
    0) what="source restarted mid-run"; $th run >r$i.log 2>&1 & t=$!; sleep 1.$((RANDOM % 9)); start 5701 "restart -m fast"; wait $t ;;
    1) what="target restarted (immediate) mid-run"; $th run >r$i.log 2>&1 & t=$!; sleep 1.$((RANDOM % 9)); start 5702 "restart -m immediate"; wait $t ;;
    2) what="rows changed on the target, VACUUM FREEZE on the source"; $tgt -c "UPDATE events SET v = 'local' WHERE id % 997 = 0; DELETE FROM events WHERE id % 1999 = 0; INSERT INTO events (id, k, v) VALUES (-999999999 - $i, 1, 'local')"; $src -c "VACUUM FREEZE events"; $th run >r$i.log 2>&1 ;;
    3) what="VACUUM FULL of the source table mid-run"; $th run >r$i.log 2>&1 & t=$!; sleep 0.$((RANDOM % 9)); $src -c "VACUUM FULL events"; wait $t ;;
    4) what="a local reader on the target"; ($tgt -c "BEGIN; SELECT count(*) FROM pgbench_accounts; SELECT pg_sleep(3); COMMIT" >/dev/null &); $th run >r$i.log 2>&1 ;;
    5) what="two runs at once"; $th run >r$i.log 2>&1 & t=$!; $th run >r$i-second.log 2>&1; wait $t ;;
    6) what="SIGINT mid-run"; $th run >r$i.log 2>&1 & t=$!; sleep 1.$((RANDOM % 9)); kill -INT $t; wait $t ;;
    7) what="SIGKILL mid-run"; $th run >r$i.log 2>&1 & t=$!; sleep 0.$((RANDOM % 9))$((RANDOM % 9)); kill -KILL $t; wait $t ;;
  esac
  during=$?
  wait $writers
  $th run >r$i-after.log 2>&1; after=$?
  $th verify --checksum >v$i.log 2>&1; verified=$?
  [ $after = 0 ] && [ $verified = 0 ] || failures=$((failures + 1))
  echo "round $i ($what): during exit $during, after exit $after, verify exit $verified ($(grep -cE '^SAME +[^ ]+ +[0-9,]+ +[0-9,]+ ' v$i.log) tables SAME)"
  grep -hE '^DIFFERENT|INTERNAL|unexpected' v$i.log r$i*.log | head -5
done
echo "$rounds rounds, $failures with a failed run after the load or a difference"
[ $failures = 0 ]
