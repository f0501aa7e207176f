-- Extended statistics objects on tables (CREATE STATISTICS), as the server writes them, with their
-- statistics target (stxstattarget, 13+, read through to_jsonb so this runs on 12; -1 or NULL is the default).
SELECT st.stxrelid::int8                                    AS table_oid,
       st.stxname                                           AS name,
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(st.stxname) AS qualified_name,
       pg_catalog.pg_get_statisticsobjdef(st.oid)           AS definition,
       nullif((to_jsonb(st) ->> 'stxstattarget')::int, -1)  AS statistics_target,
       pg_catalog.obj_description(st.oid, 'pg_statistic_ext') AS comment
  FROM pg_catalog.pg_statistic_ext st
  JOIN pg_catalog.pg_namespace n ON n.oid = st.stxnamespace
  JOIN pg_catalog.pg_class c ON c.oid = st.stxrelid
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND c.oid <> ALL ($1::oid[]) -- locked by another session: list_locked_tables.sql
 ORDER BY st.stxrelid, st.stxname;
