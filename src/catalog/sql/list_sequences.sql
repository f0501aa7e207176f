-- Every user sequence, its parameters, and the table column that owns it (serial and identity columns).
SELECT s.seqrelid::int8                                   AS oid,
       n.nspname                                          AS schema,
       c.relname                                          AS name,
       pg_catalog.format_type(s.seqtypid, NULL)           AS data_type,
       s.seqstart::text                                   AS start_value,
       s.seqincrement::text                               AS increment,
       s.seqmin::text                                     AS min_value,
       s.seqmax::text                                     AS max_value,
       s.seqcache::text                                   AS cache,
       s.seqcycle                                         AS cycle,
       c.relpersistence                                   AS persistence,
       d.refobjid::int8                                   AS owner_table_oid,
       a.attname                                          AS owner_column,
       d.deptype                                          AS owner_dependency,
       pg_catalog.obj_description(c.oid, 'pg_class')      AS comment
  FROM pg_catalog.pg_sequence s
  JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.seqrelid
        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY n.nspname, c.relname;
