# common.sh - helpers of the peer runners (sourced), after ../shared/bench/common.sh of the reference harness.
# The bench (bench/run.ts) sets: SRC_URL, TGT_URL (no password: PGPASSWORD is set), JOBS, WORK_DIR (an empty
# folder of this run), and PATH with the PostgreSQL client tools of the servers' major version first.
: "${SRC_URL:?}" "${TGT_URL:?}" "${JOBS:?}" "${WORK_DIR:?}"

psql_src() { psql "$SRC_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_tgt() { psql "$TGT_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
q_src() { psql "$SRC_URL" -X -At -v ON_ERROR_STOP=1 -c "$1"; }

# "PHASE name epoch-seconds" on stderr: the bench reads these marks and gives each phase its wall time and
# the servers' CPU over it.
phase() { echo "PHASE $1 $(date +%s.%N)" >&2; }

# The user tables of the source, biggest first, as schema-qualified quoted names.
list_tables() {
  q_src "select format('%I.%I', n.nspname, c.relname)
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind in ('r','p') and n.nspname not in ('information_schema') and n.nspname !~ '^pg_'
          order by pg_table_size(c.oid) desc, 1"
}

# Copy the values of all sequences from source to target (schema-only dumps do not carry them).
sync_sequences() {
  local sql
  sql="$(q_src "select coalesce(string_agg(format('select setval(%L, %s, %s);',
                       format('%I.%I', schemaname, sequencename),
                       coalesce(last_value, start_value), (last_value is not null)::text), E'\n'), '')
                  from pg_sequences")"
  [ -n "$sql" ] && printf '%s\n' "$sql" | psql_tgt >/dev/null
  return 0
}
