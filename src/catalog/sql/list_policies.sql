-- Row-level security policies of tables: permissive or restrictive, the command (r SELECT, a INSERT,
-- w UPDATE, d DELETE, * ALL), the roles (PUBLIC when none), and the USING and WITH CHECK expressions.
SELECT pol.polrelid::int8                                   AS table_oid,
       pol.polname                                          AS name,
       pol.polpermissive                                    AS permissive,
       pol.polcmd                                           AS command,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE pg_catalog.quote_ident(a.rolname) END
               FROM unnest(pol.polroles) AS r(oid)
               LEFT JOIN pg_catalog.pg_roles a ON a.oid = r.oid
              ORDER BY 1)                                   AS roles,
       pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)    AS using_expr,
       pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expr,
       pg_catalog.obj_description(pol.oid, 'pg_policy')     AS comment
  FROM pg_catalog.pg_policy pol
  JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND c.oid <> ALL ($1::oid[]) -- locked by another session: list_locked_tables.sql
 ORDER BY pol.polrelid, pol.polname;
