-- The access methods pg_dump would restore (dumpAccessMethod): those made with CREATE ACCESS METHOD, that
-- is not built in (OID from 16384, as selectDumpableAccessMethod decides) and not owned by an extension
-- (those come with their extension). Access methods belong to the database, not to a schema. Run it with
-- search_path empty, so that the handler's name is schema-qualified unless it is in pg_catalog.
SELECT 'access method'                                                         AS kind,
       'pg_am'                                                                 AS class,
       am.oid::int8                                                            AS oid,
       'ACCESS METHOD ' || pg_catalog.quote_ident(am.amname)                   AS identity,
       'CREATE ACCESS METHOD ' || pg_catalog.quote_ident(am.amname)
         || ' TYPE ' || CASE am.amtype WHEN 't' THEN 'TABLE' ELSE 'INDEX' END
         || ' HANDLER ' || am.amhandler::pg_catalog.regproc::text              AS definition,
       pg_catalog.obj_description(am.oid, 'pg_am')                             AS comment,
       NULL::text                                                              AS extension
  FROM pg_catalog.pg_am am
 WHERE am.oid >= 16384
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_am'::pg_catalog.regclass AND d.objid = am.oid AND d.deptype = 'e')
 ORDER BY 4;
