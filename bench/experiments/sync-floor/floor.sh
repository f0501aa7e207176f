#!/bin/bash
# What any in-place refresh of a 1 % round must write and take on the target, against a reload: see README.md.
# Usage: floor.sh SOURCE_URL TARGET_URL [rounds]   (psql on PATH; the source holds the bench's standard dataset,
# the target is a database this script may fill; its server should run with full_page_writes on, as by default)
set -euo pipefail
source_url=$1
target_url=$2
rounds=${3:-2}
S=(psql "$source_url" -X -q -v ON_ERROR_STOP=1)
T=(psql "$target_url" -X -q -At -v ON_ERROR_STOP=1)
tables=(accounts wide)

# The two tables' shape as the source has it, without the foreign keys to the tables left out.
if [ "$("${T[@]}" -c "SELECT count(*) FROM pg_class WHERE relname IN ('accounts', 'wide') AND relkind = 'r'")" != 2 ]; then
  for table in "${tables[@]}"; do
    "${S[@]}" -At -c "SELECT 'CREATE TABLE ' || '$table' || ' (' || string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END, ', ' ORDER BY attnum) || ')' FROM pg_attribute WHERE attrelid = 'public.$table'::regclass AND attnum > 0 AND NOT attisdropped" | "${T[@]}"
    "${S[@]}" -At -c "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'public.$table'::regclass" | sed 's/$/;/' | "${T[@]}"
  done
  "${T[@]}" -c "CREATE SEQUENCE wide_id_seq OWNED BY wide.id; ALTER TABLE wide ALTER id SET DEFAULT nextval('wide_id_seq')"
fi

wal_since() { "${T[@]}" -c "SELECT round((pg_wal_lsn_diff(pg_current_wal_lsn(), '$1') / 1048576.0)::numeric, 1)"; }

# A reload as replace does it: TRUNCATE and COPY FREEZE in one transaction per table, both tables at once.
reload() {
  "${T[@]}" -c CHECKPOINT
  local start_lsn start
  start_lsn=$("${T[@]}" -c "SELECT pg_current_wal_lsn()")
  start=$(date +%s.%N)
  for table in "${tables[@]}"; do
    "${S[@]}" -c "\\copy (SELECT * FROM $table) TO STDOUT WITH (FORMAT binary)" |
      "${T[@]}" -1 -c "TRUNCATE $table" -c "\\copy $table FROM STDIN WITH (FORMAT binary, FREEZE)" &
  done
  wait
  echo "reload:        WAL $(wal_since "$start_lsn") MB, $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
  "${T[@]}" -c "SELECT setval('wide_id_seq', (SELECT max(id) FROM wide))" >/dev/null
}

# The bench's 1 % round (bench/lib/sync.ts, mutate) with every changed row already in a temporary table on
# the target (not timed; temporary tables write no WAL): only the UPDATE, DELETE and INSERT by key remain.
in_place() {
  local k=$1 compression=$2
  "${T[@]}" <<SQL
SET wal_compression = $compression;
CREATE TEMP TABLE ua AS SELECT aid, abalance + 1 AS abalance FROM accounts WHERE aid % 100 = $((k % 100));
CREATE TEMP TABLE da AS SELECT aid FROM accounts WHERE aid % 1000 = $(((k * 7) % 1000));
CREATE TEMP TABLE ia AS SELECT m.top + row_number() OVER () AS aid, a.bid, 0 AS abalance, a.filler
  FROM accounts a, (SELECT max(aid) AS top FROM accounts) m WHERE a.aid % 200 = $((k % 200));
CREATE TEMP TABLE uw AS SELECT id, 'round $k'::text AS note, coalesce(amount, 0) + 1 AS amount, now() AS updated_at
  FROM wide WHERE id % 100 = $((k % 100));
CREATE TEMP TABLE dw AS SELECT id FROM wide WHERE id % 1000 = $(((k * 7 + 5) % 1000));
CREATE TEMP TABLE iw AS SELECT nextval('wide_id_seq') AS id, customer_id, category_id, gen_random_uuid() AS ext_id,
  name, email, status, amount, ratio, qty, score, created_at, now() AS updated_at, birth_date, is_active, flags,
  tags, attrs, payload, 'inserted in round $k'::text AS note FROM wide WHERE id % 200 = $(((k + 100) % 200));
ANALYZE ua; ANALYZE da; ANALYZE ia; ANALYZE uw; ANALYZE dw; ANALYZE iw;
CHECKPOINT;
SELECT pg_current_wal_lsn() AS l0, extract(epoch FROM clock_timestamp()) AS t0 \gset
BEGIN;
UPDATE accounts a SET abalance = u.abalance FROM ua u WHERE a.aid = u.aid;
DELETE FROM accounts a USING da d WHERE a.aid = d.aid;
INSERT INTO accounts SELECT * FROM ia;
COMMIT;
BEGIN;
UPDATE wide w SET note = u.note, amount = u.amount, updated_at = u.updated_at FROM uw u WHERE w.id = u.id;
DELETE FROM wide w USING dw d WHERE w.id = d.id;
INSERT INTO wide (id, customer_id, category_id, ext_id, name, email, status, amount, ratio, qty, score, created_at,
  updated_at, birth_date, is_active, flags, tags, attrs, payload, note) SELECT * FROM iw;
COMMIT;
SELECT 'in place, $3 ($compression): WAL ' || round((pg_wal_lsn_diff(pg_current_wal_lsn(), :'l0') / 1048576.0)::numeric, 1)
       || ' MB, ' || round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2) || ' s';
SQL
}

for round in $(seq 1 "$rounds"); do
  reload
  in_place $((round * 10 + 1)) lz4 'right after the reload'
  in_place $((round * 10 + 2)) lz4 'after an in-place round'
  in_place $((round * 10 + 3)) zstd 'after an in-place round'
done
