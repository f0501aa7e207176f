-- User-defined collations (not those an extension brings). The provider's locale sits in a different
-- column per version (collcollate before 15, colliculocale in 15 and 16, colllocale from 17), so columns
-- that only some versions have are read through to_jsonb(row), which yields NULL where they do not exist.
SELECT co.oid::int8                                         AS oid,
       n.nspname                                            AS schema,
       co.collname                                          AS name,
       co.collprovider                                      AS provider,
       co.collcollate                                       AS lc_collate,
       co.collctype                                         AS lc_ctype,
       coalesce(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale') AS locale,
       to_jsonb(co) ->> 'collicurules'                      AS rules,
       co.collisdeterministic                               AS deterministic,
       pg_catalog.obj_description(co.oid, 'pg_collation')   AS comment
  FROM pg_catalog.pg_collation co
  JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_collation'::pg_catalog.regclass AND d.objid = co.oid AND d.deptype = 'e')
 ORDER BY n.nspname, co.collname;
