-- User-defined types: enums (labels in sort order, which decides comparisons), domains (base type, default,
-- NOT NULL and named CHECK constraints), composite types (attributes in order), range types (with their
-- multirange's name on 14+) and base types, with the extension that owns any of them. Columns that only
-- some versions have are read through to_jsonb(row), which yields NULL where they do not exist.
SELECT t.oid::int8                                          AS oid,
       n.nspname                                            AS schema,
       t.typname                                            AS name,
       t.typtype                                            AS kind,
       pg_catalog.format_type(t.oid, NULL)                  AS rendered,
       x.extname                                            AS extension,
       pg_catalog.obj_description(t.oid, 'pg_type')         AS comment,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
              WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
       CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base_type,
       CASE WHEN t.typtype = 'd' THEN coalesce(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault) END AS default_expr,
       t.typnotnull                                         AS not_null,
       (SELECT con.conname FROM pg_catalog.pg_constraint con
         WHERE con.contypid = t.oid AND con.contype = 'n')  AS not_null_name,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END AS collation,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'name', con.conname,
                          'definition', pg_catalog.pg_get_constraintdef(con.oid),
                          'validated', con.convalidated,
                          'comment', pg_catalog.obj_description(con.oid, 'pg_constraint'))
                        ORDER BY con.conname)
                   FROM pg_catalog.pg_constraint con
                  WHERE con.contypid = t.oid AND con.contype = 'c'), '[]') AS checks,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'name', a.attname,
                          'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                          'collation', CASE WHEN a.attcollation <> at.typcollation AND a.attcollation <> 0
                                            THEN pg_catalog.quote_ident(acn.nspname) || '.' || pg_catalog.quote_ident(aco.collname) END,
                          'comment', pg_catalog.col_description(a.attrelid, a.attnum))
                        ORDER BY a.attnum)
                   FROM pg_catalog.pg_attribute a
                   JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
                   LEFT JOIN pg_catalog.pg_collation aco ON aco.oid = a.attcollation
                   LEFT JOIN pg_catalog.pg_namespace acn ON acn.oid = aco.collnamespace
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS attributes,
       pg_catalog.format_type(r.rngsubtype, NULL)           AS range_subtype,
       CASE WHEN r.rngsubopc IS NOT NULL AND NOT opc.opcdefault
            THEN pg_catalog.quote_ident(opcn.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) END AS range_opclass,
       CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
            THEN pg_catalog.quote_ident(rcn.nspname) || '.' || pg_catalog.quote_ident(rco.collname) END AS range_collation,
       nullif(r.rngcanonical, 0)::regproc::text             AS range_canonical,
       nullif(r.rngsubdiff, 0)::regproc::text               AS range_subdiff,
       pg_catalog.format_type(nullif(to_jsonb(r) ->> 'rngmultitypid', '0')::oid, NULL) AS multirange_name,
       -- A base type made outside an extension: what CREATE TYPE needs, as pg_dump writes it (typsubscript
       -- only exists from 14, read through to_jsonb).
       CASE WHEN t.typtype = 'b' THEN jsonb_build_object(
              'input', t.typinput::pg_catalog.regproc::text,
              'output', t.typoutput::pg_catalog.regproc::text,
              'receive', nullif(t.typreceive, 0)::pg_catalog.regproc::text,
              'send', nullif(t.typsend, 0)::pg_catalog.regproc::text,
              'typmod_in', nullif(t.typmodin, 0)::pg_catalog.regproc::text,
              'typmod_out', nullif(t.typmodout, 0)::pg_catalog.regproc::text,
              'analyze', nullif(t.typanalyze, 0)::pg_catalog.regproc::text,
              -- to_jsonb writes a regproc as its name, '-' for none
              'subscript', nullif(to_jsonb(t) ->> 'typsubscript', '-'),
              'internal_length', t.typlen,
              'passed_by_value', t.typbyval,
              'alignment', t.typalign,
              'storage', t.typstorage,
              'category', t.typcategory,
              'preferred', t.typispreferred,
              'default', t.typdefault,
              'element', CASE WHEN t.typelem <> 0 THEN pg_catalog.format_type(t.typelem, NULL) END,
              'delimiter', t.typdelim,
              'collatable', t.typcollation <> 0,
              -- its user-written I/O functions (not the built-in ones it may reuse), made with it
              'functions', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                 'oid', p.oid::int8,
                                 'signature', p.oid::pg_catalog.regprocedure::text,
                                 'language', l.lanname,
                                 'library', p.probin,
                                 'definition', pg_catalog.pg_get_functiondef(p.oid)) ORDER BY p.oid)
                               FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                              WHERE p.oid >= 16384
                                AND p.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin,
                                              t.typmodout, t.typanalyze)), '[]'))
       END                                                  AS base_type_definition
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
  LEFT JOIN pg_catalog.pg_class tc ON tc.oid = t.typrelid
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
  LEFT JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
  LEFT JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc
  LEFT JOIN pg_catalog.pg_namespace opcn ON opcn.oid = opc.opcnamespace
  LEFT JOIN pg_catalog.pg_collation rco ON rco.oid = r.rngcollation
  LEFT JOIN pg_catalog.pg_namespace rcn ON rcn.oid = rco.collnamespace
  LEFT JOIN pg_catalog.pg_depend d
         ON d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
   AND (t.typtype IN ('e', 'd', 'r', 'b') OR (t.typtype = 'c' AND tc.relkind = 'c'))
   -- array types come with their element type
   AND NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid))
 ORDER BY n.nspname, t.typname;
