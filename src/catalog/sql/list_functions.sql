-- User functions and procedures (not those an extension brings), with their full definition as the server
-- writes it (pg_get_functiondef, not available for aggregates) and their identity: schema.name(argument types).
-- Functions that belong to another object (a range type's constructors) come with it.
SELECT p.oid::int8                                          AS oid,
       n.nspname                                            AS schema,
       p.proname                                            AS name,
       p.oid::pg_catalog.regprocedure::text                 AS signature,
       CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END AS definition,
       p.prokind                                            AS kind,
       pg_catalog.obj_description(p.oid, 'pg_proc')         AS comment
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
 ORDER BY n.nspname, p.proname, p.oid;
