-- What pg_dump would restore for the schemas in $1 (text[]) besides tables and views: functions and
-- procedures, aggregates, operators (shell operators, which only a commutator or negator link made, are
-- left out: creating the operator that links to them makes them again, as pg_dump relies on), operator
-- families with their loose members, operator classes with theirs, enum/composite/range/domain types,
-- casts that involve one of their types or functions, and the extensions installed in them. One row per object: its kind, its pg_depend address
-- (class, oid), the words that name it after COMMENT ON, the statement that creates it, and its comment.
-- Objects an extension owns (pg_depend deptype 'e') come with their extension, and objects another one
-- owns (deptype 'i': a range type's constructors, a table's row type) come with that one. Run it with
-- search_path empty, so that every name it prints is schema-qualified.
WITH selected AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY ($1::text[])
), owned AS (
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype IN ('e', 'i')
)
SELECT 'extension'                                          AS kind,
       'pg_extension'                                       AS class,
       x.oid::int8                                          AS oid,
       'EXTENSION ' || pg_catalog.quote_ident(x.extname)    AS identity,
       'CREATE EXTENSION IF NOT EXISTS ' || pg_catalog.quote_ident(x.extname)
         || ' WITH SCHEMA ' || pg_catalog.quote_ident(s.nspname) AS definition,
       pg_catalog.obj_description(x.oid, 'pg_extension')    AS comment,
       x.extname                                            AS extension
  FROM pg_catalog.pg_extension x
  JOIN selected s ON s.oid = x.extnamespace
 WHERE x.extname <> 'plpgsql'
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       'pg_proc',
       p.oid::int8,
       CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || p.oid::pg_catalog.regprocedure::text,
       pg_catalog.pg_get_functiondef(p.oid),
       pg_catalog.obj_description(p.oid, 'pg_proc'),
       NULL
  FROM pg_catalog.pg_proc p
  JOIN selected s ON s.oid = p.pronamespace
 WHERE p.prokind IN ('f', 'p', 'w')
   AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND o.objid = p.oid)
   -- a base type's I/O functions are made with it (list_dump_base_types.sql), between its shell and it
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type bt
                    WHERE bt.typtype = 'b' AND bt.typnamespace IN (SELECT oid FROM selected)
                      AND p.oid IN (bt.typinput, bt.typoutput, bt.typreceive, bt.typsend, bt.typmodin,
                                    bt.typmodout, bt.typanalyze))
UNION ALL
SELECT 'aggregate',
       'pg_proc',
       p.oid::int8,
       'AGGREGATE ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(p.proname)
         || '(' || CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_catalog.pg_get_function_identity_arguments(p.oid) END || ')',
       'CREATE AGGREGATE ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(p.proname)
         || '(' || CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_catalog.pg_get_function_arguments(p.oid) END || ') ('
         || pg_catalog.concat_ws(', ',
              'SFUNC = ' || a.aggtransfn::pg_catalog.regproc::text,
              'STYPE = ' || pg_catalog.format_type(a.aggtranstype, NULL),
              CASE WHEN a.aggtransspace <> 0 THEN 'SSPACE = ' || a.aggtransspace END,
              CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC = ' || a.aggfinalfn::pg_catalog.regproc::text END,
              CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
              CASE WHEN a.aggfinalfn <> 0 AND (pg_catalog.to_jsonb(a) ->> 'aggfinalmodify') IS DISTINCT FROM
                          CASE WHEN a.aggkind = 'n' THEN 'r' ELSE 'w' END
                   THEN 'FINALFUNC_MODIFY = ' || CASE pg_catalog.to_jsonb(a) ->> 'aggfinalmodify'
                          WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END END,
              CASE WHEN a.aggcombinefn <> 0 THEN 'COMBINEFUNC = ' || a.aggcombinefn::pg_catalog.regproc::text END,
              CASE WHEN a.aggserialfn <> 0 THEN 'SERIALFUNC = ' || a.aggserialfn::pg_catalog.regproc::text END,
              CASE WHEN a.aggdeserialfn <> 0 THEN 'DESERIALFUNC = ' || a.aggdeserialfn::pg_catalog.regproc::text END,
              CASE WHEN a.agginitval IS NOT NULL THEN 'INITCOND = ' || pg_catalog.quote_literal(a.agginitval) END,
              CASE WHEN a.aggmtransfn <> 0 THEN 'MSFUNC = ' || a.aggmtransfn::pg_catalog.regproc::text END,
              CASE WHEN a.aggminvtransfn <> 0 THEN 'MINVFUNC = ' || a.aggminvtransfn::pg_catalog.regproc::text END,
              CASE WHEN a.aggmtransfn <> 0 THEN 'MSTYPE = ' || pg_catalog.format_type(a.aggmtranstype, NULL) END,
              CASE WHEN a.aggmtransspace <> 0 THEN 'MSSPACE = ' || a.aggmtransspace END,
              CASE WHEN a.aggmfinalfn <> 0 THEN 'MFINALFUNC = ' || a.aggmfinalfn::pg_catalog.regproc::text END,
              CASE WHEN a.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,
              CASE WHEN a.aggminitval IS NOT NULL THEN 'MINITCOND = ' || pg_catalog.quote_literal(a.aggminitval) END,
              CASE WHEN a.aggsortop <> 0 THEN 'SORTOP = ' || a.aggsortop::pg_catalog.regoperator::text END,
              CASE WHEN a.aggkind = 'h' THEN 'HYPOTHETICAL' END,
              CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END)
         || ')',
       pg_catalog.obj_description(p.oid, 'pg_proc'),
       NULL
  FROM pg_catalog.pg_proc p
  JOIN selected s ON s.oid = p.pronamespace
  JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
 WHERE p.prokind = 'a'
   AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND o.objid = p.oid)
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END,
       'pg_type',
       t.oid::int8,
       CASE t.typtype WHEN 'd' THEN 'DOMAIN ' ELSE 'TYPE ' END || t.oid::pg_catalog.regtype::text,
       CASE t.typtype
         WHEN 'e' THEN 'CREATE TYPE ' || t.oid::pg_catalog.regtype::text || ' AS ENUM ('
           || (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                 FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) || ')'
         WHEN 'c' THEN 'CREATE TYPE ' || t.oid::pg_catalog.regtype::text || ' AS ('
           || COALESCE((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(at.attname) || ' '
                   || pg_catalog.format_type(at.atttypid, at.atttypmod)
                   || CASE WHEN at.attcollation <> 0 AND at.attcollation <> et.typcollation
                           THEN ' COLLATE ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = at.attcollation) ELSE '' END,
                   ', ' ORDER BY at.attnum)
                 FROM pg_catalog.pg_attribute at JOIN pg_catalog.pg_type et ON et.oid = at.atttypid
                WHERE at.attrelid = t.typrelid AND at.attnum > 0 AND NOT at.attisdropped), '') || ')'
         WHEN 'r' THEN 'CREATE TYPE ' || t.oid::pg_catalog.regtype::text || ' AS RANGE ('
           || pg_catalog.concat_ws(', ',
                'SUBTYPE = ' || pg_catalog.format_type(r.rngsubtype, NULL),
                CASE WHEN NOT oc.opcdefault THEN 'SUBTYPE_OPCLASS = ' || pg_catalog.quote_ident(ocn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname) END,
                CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
                     THEN 'COLLATION = ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = r.rngcollation) END,
                CASE WHEN r.rngcanonical <> 0 THEN 'CANONICAL = ' || r.rngcanonical::pg_catalog.regproc::text END,
                CASE WHEN r.rngsubdiff <> 0 THEN 'SUBTYPE_DIFF = ' || r.rngsubdiff::pg_catalog.regproc::text END,
                CASE WHEN pg_catalog.to_jsonb(r) ? 'rngmultitypid'
                     THEN 'MULTIRANGE_TYPE_NAME = ' || ((pg_catalog.to_jsonb(r) ->> 'rngmultitypid')::oid)::pg_catalog.regtype::text END)
           || ')'
         WHEN 'd' THEN 'CREATE DOMAIN ' || t.oid::pg_catalog.regtype::text || ' AS '
           || pg_catalog.format_type(t.typbasetype, t.typtypmod)
           || CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
                   THEN ' COLLATE ' || (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) ELSE '' END
           || CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END
           || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
           || COALESCE((SELECT pg_catalog.string_agg(' CONSTRAINT ' || pg_catalog.quote_ident(c.conname) || ' '
                   || pg_catalog.pg_get_constraintdef(c.oid), '' ORDER BY c.conname)
                 FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' AND c.convalidated), '')
           -- CREATE DOMAIN has no NOT VALID: a check that is NOT VALID is added after it, still NOT VALID
           || COALESCE((SELECT pg_catalog.string_agg(E';\nALTER DOMAIN ' || t.oid::pg_catalog.regtype::text || ' ADD CONSTRAINT '
                   || pg_catalog.quote_ident(c.conname) || ' ' || pg_catalog.pg_get_constraintdef(c.oid), '' ORDER BY c.conname)
                 FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' AND NOT c.convalidated), '')
       END,
       pg_catalog.obj_description(t.oid, 'pg_type'),
       NULL
  FROM pg_catalog.pg_type t
  JOIN selected s ON s.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_class rel ON rel.oid = t.typrelid
  LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
  LEFT JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
  LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
  LEFT JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
  LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
 WHERE (t.typtype IN ('e', 'r', 'd') OR (t.typtype = 'c' AND rel.relkind = 'c'))
   AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND o.objid = t.oid)
UNION ALL
SELECT 'cast',
       'pg_cast',
       c.oid::int8,
       'CAST (' || pg_catalog.format_type(c.castsource, NULL) || ' AS ' || pg_catalog.format_type(c.casttarget, NULL) || ')',
       'CREATE CAST (' || pg_catalog.format_type(c.castsource, NULL) || ' AS ' || pg_catalog.format_type(c.casttarget, NULL) || ') '
         || CASE c.castmethod WHEN 'f' THEN 'WITH FUNCTION ' || c.castfunc::pg_catalog.regprocedure::text
                              WHEN 'i' THEN 'WITH INOUT' ELSE 'WITHOUT FUNCTION' END
         || CASE c.castcontext WHEN 'a' THEN ' AS ASSIGNMENT' WHEN 'i' THEN ' AS IMPLICIT' ELSE '' END,
       pg_catalog.obj_description(c.oid, 'pg_cast'),
       NULL
  FROM pg_catalog.pg_cast c
  JOIN pg_catalog.pg_type src ON src.oid = c.castsource
  JOIN pg_catalog.pg_type tgt ON tgt.oid = c.casttarget
  LEFT JOIN pg_catalog.pg_proc f ON f.oid = c.castfunc
 WHERE (src.typnamespace IN (SELECT oid FROM selected) OR tgt.typnamespace IN (SELECT oid FROM selected)
        OR f.pronamespace IN (SELECT oid FROM selected))
   AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND o.objid = c.oid)
UNION ALL
SELECT 'operator',
       'pg_operator',
       o.oid::int8,
       'OPERATOR ' || o.oid::pg_catalog.regoperator::text,
       'CREATE OPERATOR ' || pg_catalog.quote_ident(s.nspname) || '.' || o.oprname || ' ('
         || pg_catalog.concat_ws(', ',
              'FUNCTION = ' || o.oprcode::pg_catalog.regproc::text,
              CASE WHEN o.oprleft <> 0 THEN 'LEFTARG = ' || pg_catalog.format_type(o.oprleft, NULL) END,
              CASE WHEN o.oprright <> 0 THEN 'RIGHTARG = ' || pg_catalog.format_type(o.oprright, NULL) END,
              CASE WHEN o.oprcom <> 0 THEN 'COMMUTATOR = OPERATOR(' || (SELECT pg_catalog.quote_ident(ln.nspname) || '.' || l.oprname FROM pg_catalog.pg_operator l JOIN pg_catalog.pg_namespace ln ON ln.oid = l.oprnamespace WHERE l.oid = o.oprcom) || ')' END,
              CASE WHEN o.oprnegate <> 0 THEN 'NEGATOR = OPERATOR(' || (SELECT pg_catalog.quote_ident(ln.nspname) || '.' || l.oprname FROM pg_catalog.pg_operator l JOIN pg_catalog.pg_namespace ln ON ln.oid = l.oprnamespace WHERE l.oid = o.oprnegate) || ')' END,
              CASE WHEN o.oprrest <> 0 THEN 'RESTRICT = ' || o.oprrest::pg_catalog.regproc::text END,
              CASE WHEN o.oprjoin <> 0 THEN 'JOIN = ' || o.oprjoin::pg_catalog.regproc::text END,
              CASE WHEN o.oprcanhash THEN 'HASHES' END,
              CASE WHEN o.oprcanmerge THEN 'MERGES' END)
         || ')',
       pg_catalog.obj_description(o.oid, 'pg_operator'),
       NULL
  FROM pg_catalog.pg_operator o
  JOIN selected s ON s.oid = o.oprnamespace
 WHERE o.oprcode <> 0
   AND NOT EXISTS (SELECT 1 FROM owned o2 WHERE o2.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND o2.objid = o.oid)
UNION ALL
-- A family's loose members (pg_depend 'a' on the family; an operator class's own members are 'i' on the
-- class) are added to it in the same definition.
SELECT 'operator family',
       'pg_opfamily',
       f.oid::int8,
       'OPERATOR FAMILY ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(f.opfname)
         || ' USING ' || pg_catalog.quote_ident(am.amname),
       'CREATE OPERATOR FAMILY ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(f.opfname)
         || ' USING ' || pg_catalog.quote_ident(am.amname)
         || COALESCE((SELECT '; ALTER OPERATOR FAMILY ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(f.opfname)
                       || ' USING ' || pg_catalog.quote_ident(am.amname) || ' ADD '
                       || pg_catalog.string_agg(m.member, ', ' ORDER BY m.sort1, m.sort2, m.member)
                        FROM (SELECT 1 AS sort1, ao.amopstrategy AS sort2,
                                     'OPERATOR ' || ao.amopstrategy || ' ' || ao.amopopr::pg_catalog.regoperator::text
                                       || CASE WHEN ao.amoppurpose = 'o' THEN ' FOR ORDER BY '
                                            || (SELECT pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(sf.opfname) FROM pg_catalog.pg_opfamily sf JOIN pg_catalog.pg_namespace sn ON sn.oid = sf.opfnamespace WHERE sf.oid = ao.amopsortfamily)
                                          ELSE '' END AS member
                                FROM pg_catalog.pg_amop ao
                                JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = ao.oid
                                 AND d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND d.refobjid = f.oid AND d.deptype = 'a'
                               WHERE ao.amopfamily = f.oid
                              UNION ALL
                              SELECT 2, ap.amprocnum,
                                     'FUNCTION ' || ap.amprocnum || ' (' || pg_catalog.format_type(ap.amproclefttype, NULL) || ', '
                                       || pg_catalog.format_type(ap.amprocrighttype, NULL) || ') ' || ap.amproc::pg_catalog.regprocedure::text
                                FROM pg_catalog.pg_amproc ap
                                JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = ap.oid
                                 AND d.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND d.refobjid = f.oid AND d.deptype = 'a'
                               WHERE ap.amprocfamily = f.oid) m
                      HAVING pg_catalog.count(*) > 0), ''),
       pg_catalog.obj_description(f.oid, 'pg_opfamily'),
       NULL
  FROM pg_catalog.pg_opfamily f
  JOIN selected s ON s.oid = f.opfnamespace
  JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod
 WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND o.objid = f.oid)
UNION ALL
SELECT 'operator class',
       'pg_opclass',
       c.oid::int8,
       'OPERATOR CLASS ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.opcname)
         || ' USING ' || pg_catalog.quote_ident(am.amname),
       'CREATE OPERATOR CLASS ' || pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.opcname)
         || CASE WHEN c.opcdefault THEN ' DEFAULT' ELSE '' END
         || ' FOR TYPE ' || pg_catalog.format_type(c.opcintype, NULL)
         || ' USING ' || pg_catalog.quote_ident(am.amname)
         || ' FAMILY ' || pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.opfname)
         || ' AS '
         || pg_catalog.concat_ws(', ',
              (SELECT pg_catalog.string_agg('OPERATOR ' || ao.amopstrategy || ' ' || ao.amopopr::pg_catalog.regoperator::text
                        || CASE WHEN ao.amoppurpose = 'o' THEN ' FOR ORDER BY '
                             || (SELECT pg_catalog.quote_ident(sn.nspname) || '.' || pg_catalog.quote_ident(sf.opfname) FROM pg_catalog.pg_opfamily sf JOIN pg_catalog.pg_namespace sn ON sn.oid = sf.opfnamespace WHERE sf.oid = ao.amopsortfamily)
                           ELSE '' END, ', ' ORDER BY ao.amopstrategy)
                 FROM pg_catalog.pg_amop ao
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = ao.oid
                  AND d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND d.refobjid = c.oid
                WHERE ao.amopfamily = c.opcfamily),
              (SELECT pg_catalog.string_agg('FUNCTION ' || ap.amprocnum || ' (' || pg_catalog.format_type(ap.amproclefttype, NULL) || ', '
                        || pg_catalog.format_type(ap.amprocrighttype, NULL) || ') ' || ap.amproc::pg_catalog.regprocedure::text,
                        ', ' ORDER BY ap.amprocnum)
                 FROM pg_catalog.pg_amproc ap
                 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = ap.oid
                  AND d.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND d.refobjid = c.oid
                WHERE ap.amprocfamily = c.opcfamily),
              CASE WHEN c.opckeytype <> 0 THEN 'STORAGE ' || pg_catalog.format_type(c.opckeytype, NULL) END),
       pg_catalog.obj_description(c.oid, 'pg_opclass'),
       NULL
  FROM pg_catalog.pg_opclass c
  JOIN selected s ON s.oid = c.opcnamespace
  JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod
  JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily
  JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace
 WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND o.objid = c.oid)
 ORDER BY 1, 4;
