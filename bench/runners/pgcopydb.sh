#!/usr/bin/env bash
# pgcopydb - `pgcopydb clone` (../shared/bench/runners/pgcopydb.sh): dumps the schema with pg_dump, restores
# pre-data with pg_restore, runs $JOBS COPY processes that stream each table source->target, builds indexes
# with $JOBS workers as soon as each table is loaded, VACUUM ANALYZEs each table, restores the remaining
# post-data (foreign keys) and resets sequences. pgcopydb finds pg_dump/pg_restore through PATH.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir="$WORK_DIR/pgcopydb"
phase clone
pgcopydb clone --source "$SRC_URL" --target "$TGT_URL" --dir "$dir" \
  --table-jobs "$JOBS" --index-jobs "$JOBS" > "$WORK_DIR/pgcopydb.log" 2>&1 || { tail -n 40 "$WORK_DIR/pgcopydb.log" >&2; exit 1; }
phase end
# keep its own summary table (per-step timings) in the run's log
sed -n '/Step /,$p' "$WORK_DIR/pgcopydb.log" | cut -c 1-160 >&2 || true
rm -rf "$dir"
