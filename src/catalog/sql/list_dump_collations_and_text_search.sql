-- The collations and text search objects of the schemas in $1 (text[]) that pg_dump would restore, with the
-- same columns as list_dump_objects.sql, plus what creating one takes beyond the other objects of the list:
-- `needs_version` (the server_version_num of the first PostgreSQL that accepts its definition) with
-- `needs_feature` (what needs it), and `support_functions`: for a text search parser or template, the
-- functions it is made of, as [signature, language, library] (CREATE TEXT SEARCH PARSER / TEMPLATE takes
-- functions that must already exist; they are usually written in C).
-- A collation's locale sits in a different column per version (collcollate for ICU before 15,
-- colliculocale in 15 and 16, colllocale from 17; collicurules from 16), so those columns are read through
-- to_jsonb(row), which yields NULL where they do not exist; the definition only uses the options both
-- old and new servers print the same, so a collation compares equal wherever it was made.
-- A configuration's mappings come as ALTER TEXT SEARCH CONFIGURATION ... ADD MAPPING FOR <token type> WITH
-- <dictionaries in order>, one per token type, token types named by their parser (ts_token_type).
-- Run it with search_path empty, so that every name it prints is schema-qualified.
WITH selected AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY ($1::text[])
), owned AS (
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype IN ('e', 'i')
), collations AS (
  SELECT co.oid, co.collname, co.collprovider, co.collcollate::text AS lc_collate, co.collctype::text AS lc_ctype,
         co.collisdeterministic AS deterministic, s.nspname,
         COALESCE(pg_catalog.to_jsonb(co) ->> 'colllocale', pg_catalog.to_jsonb(co) ->> 'colliculocale',
                  CASE WHEN co.collprovider = 'i' THEN co.collcollate::text END) AS locale,
         pg_catalog.to_jsonb(co) ->> 'collicurules' AS rules
    FROM pg_catalog.pg_collation co
    JOIN selected s ON s.oid = co.collnamespace
   WHERE co.collprovider <> 'd'
     AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_collation'::pg_catalog.regclass AND o.objid = co.oid)
), support AS (
  SELECT f.oid,
         pg_catalog.jsonb_build_array(f.oid::pg_catalog.regprocedure::text, l.lanname,
           CASE WHEN l.lanname = 'c' THEN f.probin END) AS function
    FROM pg_catalog.pg_proc f JOIN pg_catalog.pg_language l ON l.oid = f.prolang
)
SELECT 'collation'                                                 AS kind,
       'pg_collation'                                              AS class,
       c.oid::int8                                                 AS oid,
       'COLLATION ' || pg_catalog.quote_ident(c.nspname) || '.' || pg_catalog.quote_ident(c.collname) AS identity,
       'CREATE COLLATION ' || pg_catalog.quote_ident(c.nspname) || '.' || pg_catalog.quote_ident(c.collname) || ' ('
         || pg_catalog.concat_ws(', ',
              CASE c.collprovider WHEN 'i' THEN 'provider = icu' WHEN 'b' THEN 'provider = builtin' ELSE 'provider = libc' END,
              CASE WHEN c.collprovider = 'c' THEN 'lc_collate = ' || pg_catalog.quote_literal(c.lc_collate)
                        || ', lc_ctype = ' || pg_catalog.quote_literal(c.lc_ctype)
                   ELSE 'locale = ' || pg_catalog.quote_literal(c.locale) END,
              CASE WHEN c.rules IS NOT NULL THEN 'rules = ' || pg_catalog.quote_literal(c.rules) END,
              CASE WHEN NOT c.deterministic THEN 'deterministic = false' END)
         || ')'                                                    AS definition,
       pg_catalog.obj_description(c.oid, 'pg_collation')           AS comment,
       NULL                                                        AS extension,
       CASE WHEN c.collprovider = 'b' THEN 170000 WHEN c.rules IS NOT NULL THEN 160000 END AS needs_version,
       CASE WHEN c.collprovider = 'b' THEN 'the builtin collation provider'
            WHEN c.rules IS NOT NULL THEN 'an ICU collation with rules' END AS needs_feature,
       NULL::jsonb                                                 AS support_functions
  FROM collations c
UNION ALL
SELECT 'text search parser',
       'pg_ts_parser',
       p.oid::int8,
       'TEXT SEARCH PARSER ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(p.prsname),
       'CREATE TEXT SEARCH PARSER ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(p.prsname) || ' ('
         || pg_catalog.concat_ws(', ',
              'START = ' || p.prsstart::pg_catalog.regproc::text,
              'GETTOKEN = ' || p.prstoken::pg_catalog.regproc::text,
              'END = ' || p.prsend::pg_catalog.regproc::text,
              CASE WHEN p.prsheadline <> 0 THEN 'HEADLINE = ' || p.prsheadline::pg_catalog.regproc::text END,
              'LEXTYPES = ' || p.prslextype::pg_catalog.regproc::text)
         || ')',
       pg_catalog.obj_description(p.oid, 'pg_ts_parser'),
       NULL,
       NULL,
       NULL,
       (SELECT pg_catalog.jsonb_agg(f.function ORDER BY f.function)
          FROM support f WHERE f.oid IN (p.prsstart, p.prstoken, p.prsend, p.prsheadline, p.prslextype))
  FROM pg_catalog.pg_ts_parser p
  JOIN selected s ON s.oid = p.prsnamespace
 WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_ts_parser'::pg_catalog.regclass AND o.objid = p.oid)
UNION ALL
SELECT 'text search template',
       'pg_ts_template',
       t.oid::int8,
       'TEXT SEARCH TEMPLATE ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(t.tmplname),
       'CREATE TEXT SEARCH TEMPLATE ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(t.tmplname) || ' ('
         || pg_catalog.concat_ws(', ',
              CASE WHEN t.tmplinit <> 0 THEN 'INIT = ' || t.tmplinit::pg_catalog.regproc::text END,
              'LEXIZE = ' || t.tmpllexize::pg_catalog.regproc::text)
         || ')',
       pg_catalog.obj_description(t.oid, 'pg_ts_template'),
       NULL,
       NULL,
       NULL,
       (SELECT pg_catalog.jsonb_agg(f.function ORDER BY f.function)
          FROM support f WHERE f.oid IN (t.tmplinit, t.tmpllexize))
  FROM pg_catalog.pg_ts_template t
  JOIN selected s ON s.oid = t.tmplnamespace
 WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_ts_template'::pg_catalog.regclass AND o.objid = t.oid)
UNION ALL
-- dictinitoption is the options as the server stored them (`stopwords = 'english', accept = 'false'`):
-- given back to CREATE, they are stored the same.
SELECT 'text search dictionary',
       'pg_ts_dict',
       d.oid::int8,
       'TEXT SEARCH DICTIONARY ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(d.dictname),
       'CREATE TEXT SEARCH DICTIONARY ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(d.dictname)
         || ' (TEMPLATE = ' || pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.tmplname)
         || COALESCE(', ' || d.dictinitoption, '') || ')',
       pg_catalog.obj_description(d.oid, 'pg_ts_dict'),
       NULL,
       NULL,
       NULL,
       NULL
  FROM pg_catalog.pg_ts_dict d
  JOIN selected s ON s.oid = d.dictnamespace
  JOIN pg_catalog.pg_ts_template t ON t.oid = d.dicttemplate
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace
 WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_ts_dict'::pg_catalog.regclass AND o.objid = d.oid)
UNION ALL
SELECT 'text search configuration',
       'pg_ts_config',
       c.oid::int8,
       'TEXT SEARCH CONFIGURATION ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.cfgname),
       'CREATE TEXT SEARCH CONFIGURATION ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.cfgname)
         || ' (PARSER = ' || pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.prsname) || ')'
         || COALESCE((SELECT pg_catalog.string_agg(
                               '; ALTER TEXT SEARCH CONFIGURATION ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.cfgname)
                               || ' ADD MAPPING FOR ' || pg_catalog.quote_ident(tt.alias) || ' WITH ' || m.dictionaries,
                               '' ORDER BY m.maptokentype)
                        FROM (SELECT cm.maptokentype,
                                     pg_catalog.string_agg(pg_catalog.quote_ident(dn.nspname) || '.' || pg_catalog.quote_ident(md.dictname),
                                                           ', ' ORDER BY cm.mapseqno) AS dictionaries
                                FROM pg_catalog.pg_ts_config_map cm
                                JOIN pg_catalog.pg_ts_dict md ON md.oid = cm.mapdict
                                JOIN pg_catalog.pg_namespace dn ON dn.oid = md.dictnamespace
                               WHERE cm.mapcfg = c.oid
                               GROUP BY cm.maptokentype) m
                        JOIN pg_catalog.ts_token_type(c.cfgparser) tt ON tt.tokid = m.maptokentype), ''),
       pg_catalog.obj_description(c.oid, 'pg_ts_config'),
       NULL,
       NULL,
       NULL,
       NULL
  FROM pg_catalog.pg_ts_config c
  JOIN selected s ON s.oid = c.cfgnamespace
  JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace
 WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_ts_config'::pg_catalog.regclass AND o.objid = c.oid)
 ORDER BY 1, 4;
