#!/usr/bin/env bash
# pg_dump_dir - pg_dump -Fd -j $JOBS (directory format; default compression = gzip, PGDUMP_Z=0 for none) into a
# folder, then pg_restore -j $JOBS into the target (../shared/bench/runners/pg_dump_dir_j2.sh). pg_restore
# creates the tables, loads the data (each table in its own transaction after a TRUNCATE), then builds
# indexes and constraints $JOBS at a time; sequences are restored too.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dir="$WORK_DIR/dump"

phase dump
pg_dump "$SRC_URL" -Fd -j "$JOBS" ${PGDUMP_Z:+-Z "$PGDUMP_Z"} -f "$dir"
echo "DUMP_BYTES $(du -sb "$dir" | cut -f1)" >&2

phase restore
pg_restore -j "$JOBS" -d "$TGT_URL" "$dir"
phase end
rm -rf "$dir"
