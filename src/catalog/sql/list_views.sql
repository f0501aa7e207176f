-- Every view and materialized view outside the system schemas (and outside tablehaul's own bookkeeping
-- schema), with what creating an identical one needs: its query as pg_get_viewdef prints it, its options
-- (security_barrier, security_invoker, check_option; a materialized view's storage settings), whether a
-- materialized view holds data, its comment, its columns (defaults, comments) and a materialized view's
-- indexes. Views an extension owns come with their extension and are left out. Run it with search_path
-- empty, so that every relation, function, type and operator the definitions name is schema-qualified.
SELECT c.oid::int8                                           AS oid,
       n.nspname                                             AS schema,
       c.relname                                             AS name,
       c.relkind                                             AS kind,
       pg_catalog.pg_get_viewdef(c.oid, true)                AS definition,
       c.reloptions                                          AS options,
       c.relispopulated                                      AS populated,
       pg_catalog.obj_description(c.oid, 'pg_class')         AS comment,
       COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                          'name', a.attname,
                          'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                          'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                          'comment', pg_catalog.col_description(c.oid, a.attnum)) ORDER BY a.attnum)
                   FROM pg_catalog.pg_attribute a
                   LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS columns,
       COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                          'name', ic.relname,
                          'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
                          'comment', pg_catalog.obj_description(i.indexrelid, 'pg_class'),
                          'clustered', i.indisclustered) ORDER BY ic.relname)
                   FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = c.oid), '[]')          AS indexes
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                    WHERE x.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND x.objid = c.oid AND x.deptype = 'e')
 ORDER BY n.nspname, c.relname;
