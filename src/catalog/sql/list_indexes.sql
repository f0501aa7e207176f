-- Every index of the tables list_tables.sql returns, as the server writes it, with the constraint it backs
-- (if any) and the index of the parent table it is attached to (a partition's index of a partitioned one).
SELECT i.indrelid::int8                                   AS table_oid,
       i.indexrelid::int8                                 AS oid,
       ic.relname                                         AS name,
       pg_catalog.pg_get_indexdef(i.indexrelid)           AS definition,
       i.indisunique                                      AS is_unique,
       ic.relpages::int8 * current_setting('block_size')::int8 AS bytes,
       i.indisvalid                                       AS is_valid,
       i.indisclustered                                   AS is_clustered,
       i.indisreplident                                   AS is_replica_identity,
       (SELECT inh.inhparent::int8 FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = i.indexrelid) AS parent_index_oid,
       (SELECT con.conname FROM pg_catalog.pg_constraint con
         WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')) AS constraint_name,
       ARRAY(SELECT a.attnum::int || '=' || a.attstattarget
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0
              ORDER BY a.attnum)                          AS statistics_targets,
       -- The key columns of an index on plain columns only (no expression, no predicate): what a sync can
       -- match rows by. INCLUDE columns (past indnkeyatts) are not part of the key. A sync matches rows by
       -- the columns' `=` under their own collations, so the index must be unique by that same equality:
       -- each key column under its own collation (not `k COLLATE "C"` on a case-insensitive column, where
       -- 'a' and 'A' are two keys but one by `=`) and with its type's default operator class (not
       -- record_image_ops, unique by the bytes of values that `=` may call equal).
       CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL
             AND NOT EXISTS (
                   SELECT 1
                     FROM ROWS FROM (pg_catalog.unnest(i.indkey::int2[]), pg_catalog.unnest(i.indcollation::oid[]),
                                    pg_catalog.unnest(i.indclass::oid[]))
                            WITH ORDINALITY AS k(attnum, coll, opclass, n)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass
                    WHERE k.n <= i.indnkeyatts
                      AND (k.coll IS DISTINCT FROM a.attcollation OR oc.opcdefault IS NOT TRUE)) THEN
         ARRAY(SELECT a.attname::text
                 FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE k.n <= i.indnkeyatts
                ORDER BY k.n)
       END                                                AS key_columns,
       i.indisprimary                                     AS is_primary,
       -- The operator classes of its columns made with CREATE OPERATOR CLASS outside an extension (an
       -- extension's come with it): pg_get_indexdef leaves a column's class out when it is the default for
       -- the column's type, so the target must have the same classes for the definition to mean the same.
       ARRAY(SELECT DISTINCT i.indclass[k]::int8
               FROM pg_catalog.generate_subscripts(i.indclass, 1) AS k
              WHERE i.indclass[k] >= 16384
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                                 WHERE x.classid = 'pg_catalog.pg_opclass'::pg_catalog.regclass
                                   AND x.objid = i.indclass[k] AND x.deptype = 'e')) AS operator_classes,
       ic.reloptions                                      AS options,
       pg_catalog.obj_description(i.indexrelid, 'pg_class') AS comment
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND c.oid <> ALL ($1::oid[]) -- locked by another session: list_locked_tables.sql
 ORDER BY i.indrelid, ic.relname;
