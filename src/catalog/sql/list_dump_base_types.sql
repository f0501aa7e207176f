-- The base types of the schemas in $1 (text[]) that pg_dump would restore: made with CREATE TYPE's base
-- form outside any extension (an extension's come with it), array types left out (they come with their
-- element type). What CREATE TYPE takes is read as in list_types.sql (typsubscript, from 14, through
-- to_jsonb), with the type's own I/O functions, which are made with it between its shell and its
-- definition. Run it with search_path empty, so that every name it prints is schema-qualified.
SELECT 'type'                                                  AS kind,
       'pg_type'                                               AS class,
       t.oid::int8                                             AS oid,
       'TYPE ' || t.oid::pg_catalog.regtype::text              AS identity,
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS name,
       pg_catalog.obj_description(t.oid, 'pg_type')            AS comment,
       jsonb_build_object(
         'input', t.typinput::pg_catalog.regproc::text,
         'output', t.typoutput::pg_catalog.regproc::text,
         'receive', nullif(t.typreceive, 0)::pg_catalog.regproc::text,
         'send', nullif(t.typsend, 0)::pg_catalog.regproc::text,
         'typmod_in', nullif(t.typmodin, 0)::pg_catalog.regproc::text,
         'typmod_out', nullif(t.typmodout, 0)::pg_catalog.regproc::text,
         'analyze', nullif(t.typanalyze, 0)::pg_catalog.regproc::text,
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
         'functions', coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'oid', p.oid::int8,
                            'signature', p.oid::pg_catalog.regprocedure::text,
                            'language', l.lanname,
                            'library', p.probin,
                            'definition', pg_catalog.pg_get_functiondef(p.oid)) ORDER BY p.oid)
                          FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                         WHERE p.oid >= 16384
                           AND p.oid IN (t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin,
                                         t.typmodout, t.typanalyze)), '[]')) AS base
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = ANY ($1::text[])
   AND t.typtype = 'b'
   AND NOT (t.typelem <> 0 AND t.typlen = -1
            AND EXISTS (SELECT 1 FROM pg_catalog.pg_type el WHERE el.oid = t.typelem AND el.typarray = t.oid))
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
 ORDER BY 4;
