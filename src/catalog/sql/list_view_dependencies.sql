-- What each view and materialized view reads, from the pg_depend entries of its _RETURN rule: the
-- relations (tables, views, sequences, ...) and the functions outside pg_catalog its query names. One row
-- per (view, object), with the extension the object belongs to, if one does. Run it with search_path empty, so that names come schema-qualified.
SELECT DISTINCT
       r.ev_class::int8                                       AS view_oid,
       CASE WHEN d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass THEN 'relation' ELSE 'function' END AS kind,
       d.refobjid::int8                                       AS oid,
       CASE WHEN d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
            THEN (SELECT rn.nspname FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
                   WHERE rc.oid = d.refobjid)
            ELSE (SELECT pn.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
                   WHERE p.oid = d.refobjid)
       END                                                    AS schema,
       CASE WHEN d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
            THEN (SELECT rc.relname FROM pg_catalog.pg_class rc WHERE rc.oid = d.refobjid)
            ELSE d.refobjid::pg_catalog.regprocedure::text
       END                                                    AS name,
       (SELECT x.extname FROM pg_catalog.pg_depend xd JOIN pg_catalog.pg_extension x ON x.oid = xd.refobjid
         WHERE xd.classid = d.refclassid AND xd.objid = d.refobjid AND xd.deptype = 'e') AS extension
  FROM pg_catalog.pg_rewrite r
  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
  JOIN pg_catalog.pg_depend d
    ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid AND d.deptype = 'n'
 WHERE r.rulename = '_RETURN'
   AND d.refobjid <> r.ev_class
   AND (d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        OR (d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid = d.refobjid)
                <> 'pg_catalog'::pg_catalog.regnamespace))
 ORDER BY 1, 2, 4, 5;
