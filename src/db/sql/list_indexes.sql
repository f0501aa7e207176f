-- Indexes that no constraint owns (those come with their constraint), as the server writes them.
SELECT i.indrelid::int8                                   AS table_oid,
       ic.relname                                         AS name,
       pg_catalog.pg_get_indexdef(i.indexrelid)           AS definition,
       i.indisunique                                      AS is_unique,
       ic.relpages::int8 * current_setting('block_size')::int8 AS bytes,
       i.indisvalid                                       AS is_valid,
       EXISTS (SELECT 1 FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid) AS is_partition_child,
       pg_catalog.obj_description(i.indexrelid, 'pg_class') AS comment
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
 ORDER BY i.indrelid, ic.relname;
