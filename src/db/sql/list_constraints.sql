-- Table constraints other than NOT NULL, as the server itself writes them (pg_get_constraintdef), with the
-- index that backs a primary key, unique or exclusion constraint.
SELECT con.conrelid::int8                                   AS table_oid,
       con.conname                                          AS name,
       con.contype                                          AS type,
       pg_catalog.pg_get_constraintdef(con.oid, true)       AS definition,
       con.convalidated                                     AS validated,
       con.conislocal                                       AS is_local,
       con.conindid::int8                                   AS index_oid,
       CASE WHEN con.conindid <> 0 THEN pg_catalog.pg_get_indexdef(con.conindid) END AS index_definition,
       con.confrelid::int8                                  AS referenced_table_oid,
       pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
  FROM pg_catalog.pg_constraint con
  JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE con.contype IN ('p', 'u', 'f', 'c', 'x')
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY con.conrelid, con.contype, con.conname;
