-- User schemas with their comments.
SELECT n.nspname                                            AS name,
       pg_catalog.obj_description(n.oid, 'pg_namespace')    AS comment
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY n.nspname;
