-- Rewrite rules of tables (a view's _RETURN rule is the view itself), as the server writes them, with their
-- enabled state: O on origin, D disabled, R on replica, A always.
SELECT r.ev_class::int8                                     AS table_oid,
       r.rulename                                           AS name,
       pg_catalog.pg_get_ruledef(r.oid)                     AS definition,
       r.ev_enabled                                         AS enabled,
       pg_catalog.obj_description(r.oid, 'pg_rewrite')      AS comment
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE r.rulename <> '_RETURN'
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND c.oid <> ALL ($1::oid[]) -- locked by another session: list_locked_tables.sql
 ORDER BY r.ev_class, r.rulename;
