-- Table constraints other than NOT NULL (list_columns.sql has those), as the server itself writes them
-- (pg_get_constraintdef), with the index that backs a primary key, unique or exclusion constraint and the
-- constraint of the parent table a partition's constraint was cloned from.
SELECT con.conrelid::int8                                   AS table_oid,
       con.conname                                          AS name,
       con.contype                                          AS type,
       pg_catalog.pg_get_constraintdef(con.oid)             AS definition,
       con.convalidated                                     AS validated,
       con.conislocal                                       AS is_local,
       con.coninhcount::int                                 AS inherited_count,
       con.connoinherit                                     AS no_inherit,
       con.conindid::int8                                   AS index_oid,
       CASE WHEN con.conindid <> 0 AND con.contype <> 'f' AND c.oid <> ALL ($1::oid[]) THEN pg_catalog.pg_get_indexdef(con.conindid) END AS index_definition,
       CASE WHEN con.conindid <> 0 THEN ic.relname END      AS index_name,
       con.confrelid::int8                                  AS referenced_table_oid,
       con.conparentid::int8                                AS parent_constraint_oid,
       con.oid::int8                                        AS oid,
       -- PostgreSQL 18: temporal keys (WITHOUT OVERLAPS) and foreign keys (PERIOD), NOT ENFORCED ones
       coalesce((to_jsonb(con) ->> 'conperiod')::boolean, false) AS period,
       coalesce((to_jsonb(con) ->> 'conenforced')::boolean, true) AS enforced,
       pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_class ic ON ic.oid = con.conindid
 WHERE con.contype IN ('p', 'u', 'f', 'c', 'x')
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   -- CHECK and exclusion constraints are written from the table's expressions, under a lock on it.
   AND (con.contype IN ('p', 'u', 'f') OR c.oid <> ALL ($1::oid[]))
 ORDER BY con.conrelid, con.contype, con.conname;
