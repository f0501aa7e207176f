-- tablehaul's own bookkeeping on the target: which runs happened and which tables each run series
-- committed (written in the same transaction as each table's data), and foreign keys lifted for a copy
-- that still have to be put back. `run --resume` reads it.
CREATE SCHEMA IF NOT EXISTS tablehaul;

CREATE TABLE IF NOT EXISTS tablehaul.runs (
  run_id            text PRIMARY KEY,
  -- A run and the runs that resume it share a series: what one of them committed, the others skip.
  series_id         text NOT NULL,
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  status            text NOT NULL DEFAULT 'running',
  source            text,
  snapshot_taken_at timestamptz
);
-- Which job a run was (its source database and table selection, hashed): --resume only continues the same.
ALTER TABLE tablehaul.runs ADD COLUMN IF NOT EXISTS job text;

CREATE TABLE IF NOT EXISTS tablehaul.copied_tables (
  series_id    text NOT NULL,
  table_schema text NOT NULL,
  table_name   text NOT NULL,
  run_id       text NOT NULL,
  rows         bigint NOT NULL,
  bytes        bigint NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (series_id, table_schema, table_name)
);

CREATE TABLE IF NOT EXISTS tablehaul.pending_foreign_keys (
  table_schema text NOT NULL,
  table_name   text NOT NULL,
  name         text NOT NULL,
  definition   text NOT NULL,
  comment      text,
  lifted_by    text NOT NULL,
  PRIMARY KEY (table_schema, table_name, name)
);

-- What mode: sync remembers of each table between runs (src/steps/sync/sync-mark.ts): one row per target
-- table, written in the table's own transaction.
CREATE TABLE IF NOT EXISTS tablehaul.sync_marks (
  table_schema       text NOT NULL,
  table_name         text NOT NULL,
  source_changes     bigint,
  source_stats_since text,
  changed_column     text,
  high_water         text,
  synced_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_schema, table_name)
);
-- Where the last copy stopped on both sides (src/steps/sync/since.ts); added after the first release. Only
-- altered when missing: ALTER TABLE takes an exclusive lock and needs ownership even with IF NOT EXISTS.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                  WHERE attrelid = 'tablehaul.sync_marks'::pg_catalog.regclass::pg_catalog.oid AND attname = 'since' AND NOT attisdropped) THEN
    ALTER TABLE tablehaul.sync_marks ADD COLUMN since jsonb;
  END IF;
END
$$;
