#!/usr/bin/env bash
# psql_pipe - the baseline (../shared/bench/runners/psql_pipe.sh): one psql per side and a shell pipe,
# one table after the other, text COPY format.
#   1. schema without indexes/constraints:  pg_dump --schema-only --section=pre-data | psql target
#   2. for each table:  psql source -c "\copy t TO STDOUT" | psql target -c "\copy t FROM STDIN"
#   3. sequence values copied (a schema-only dump does not carry them)
#   4. indexes, primary/foreign keys, checks: pg_dump --schema-only --section=post-data | psql target
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

phase schema
pg_dump "$SRC_URL" --schema-only --section=pre-data | psql_tgt >/dev/null

phase data
for tbl in $(list_tables); do
  psql "$SRC_URL" -X -q -v ON_ERROR_STOP=1 -c "\\copy $tbl TO STDOUT" |
    psql_tgt -c "\\copy $tbl FROM STDIN"
done

phase sequences
sync_sequences

phase post
pg_dump "$SRC_URL" --schema-only --section=post-data | psql_tgt >/dev/null
phase end
