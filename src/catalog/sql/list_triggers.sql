-- User triggers of tables (not the internal ones behind foreign keys), as the server writes them, with their
-- enabled state (O on origin, D disabled, R on replica, A always), whether a load fires it (an INSERT or
-- TRUNCATE trigger: tgtype bits 4 and 32 of pg_trigger.h) and whether it is a partition's clone of
-- its partitioned table's trigger (tgparentid, 13+, read through to_jsonb so this runs on 12; before 15
-- clones are internal and not listed).
SELECT tg.tgrelid::int8                                     AS table_oid,
       tg.tgname                                            AS name,
       pg_catalog.pg_get_triggerdef(tg.oid)                 AS definition,
       tg.tgenabled                                         AS enabled,
       (tg.tgtype::int & (4 | 32)) <> 0                     AS fires_on_load,
       (tg.tgtype::int & (4 | 8 | 16)) <> 0                 AS fires_on_sync,
       coalesce((to_jsonb(tg) ->> 'tgparentid')::oid, 0) <> 0 AS is_clone,
       pg_catalog.obj_description(tg.oid, 'pg_trigger')     AS comment
  FROM pg_catalog.pg_trigger tg
  JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT tg.tgisinternal
   AND c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY tg.tgrelid, tg.tgname;
