-- Every table a run can read or write: ordinary and partitioned tables outside the system schemas
-- (and outside tablehaul's own bookkeeping schema), with what the planner needs to order and split them
-- and what creating an identical table needs.
SELECT c.oid::int8                                   AS oid,
       n.nspname                                     AS schema,
       c.relname                                     AS name,
       c.relkind                                     AS kind,
       c.relispartition                              AS is_partition,
       c.relpersistence                              AS persistence,
       c.relhassubclass                              AS has_children,
       ARRAY(SELECT i.inhparent::int8
               FROM pg_catalog.pg_inherits i
              WHERE i.inhrelid = c.oid
              ORDER BY i.inhseqno)                   AS parent_oids,
       -- relpages * block size needs no lock; a table never vacuumed or analysed has relpages = 0, and only
       -- then is its size measured (pg_table_size waits for a lock, bounded by the session's lock_timeout).
       -- A table another session locks ($1, list_locked_tables.sql) is not measured: it fails on its own.
       CASE WHEN c.relpages > 0
            THEN (c.relpages::int8 + coalesce(tc.relpages, 0)) * current_setting('block_size')::int8
            WHEN c.oid = ANY ($1::oid[]) THEN 0
            ELSE pg_catalog.pg_table_size(c.oid)
       END                                           AS bytes,
       c.reltuples::float8                           AS estimated_rows,
       CASE WHEN c.relkind = 'p' AND c.oid <> ALL ($1::oid[]) THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition AND c.oid <> ALL ($1::oid[]) THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       x.extname                                     AS extension,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS can_select,
       pg_catalog.has_table_privilege(c.oid, 'INSERT') AS can_insert,
       pg_catalog.has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate,
       pg_catalog.has_table_privilege(c.oid, 'UPDATE') AS can_update,
       pg_catalog.has_table_privilege(c.oid, 'DELETE') AS can_delete,
       -- a sync compares through temporary tables, which TEMP on the database allows
       pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMP') AS can_create_temp,
       pg_catalog.pg_has_role(c.relowner, 'USAGE')  AS is_owner,
       (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) AS bypass_rls,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
       c.relrowsecurity                              AS row_security,
       c.relforcerowsecurity                         AS force_row_security,
       c.relreplident                                AS replica_identity,
       c.reloptions                                  AS options,
       tc.reloptions                                 AS toast_options,
       CASE WHEN am.amname <> 'heap' THEN am.amname END AS access_method,
       -- what CREATE ACCESS METHOD needs for one made by hand (an extension's comes with the extension)
       CASE WHEN am.amname <> 'heap' AND NOT EXISTS (
                   SELECT 1 FROM pg_catalog.pg_depend ad
                    WHERE ad.classid = 'pg_catalog.pg_am'::pg_catalog.regclass AND ad.objid = am.oid AND ad.deptype = 'e')
            THEN am.amhandler::pg_catalog.regproc::text END AS access_method_handler,
       CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END AS of_type
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
  LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY n.nspname, c.relname;
