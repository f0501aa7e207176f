-- Who owns each object of the schemas in $1 (text[]) that a copy can bring, and who may use it: the
-- schemas themselves, tables, partitioned tables, views, materialized views, sequences, types and domains,
-- functions, procedures and aggregates, operators, operator classes and families, collations, text search
-- configurations and dictionaries (none of these last five has privileges); with $2 (boolean) also the
-- database's large objects. Objects an extension owns (pg_depend 'e') and those another object owns ('i':
-- array types, a table's row type, a multirange) follow their owner and are left out.
-- One row per object: its kind, its OID, its schema and name (relations are matched to the run's tables by these),
-- the words that name it after ALTER ... / GRANT ... ON, its owner, and its privileges as (grantor, grantee,
-- privilege, grantable) rows, NULL grantee meaning PUBLIC; a NULL ACL is PostgreSQL's default for the
-- kind (acldefault), so both sides compare by what is allowed, not by how it is stored. Column privileges
-- come per column. `linked` marks a sequence that belongs to a table column (its owner follows the table's).
-- Run it with search_path empty, so that every name it prints is schema-qualified.
WITH selected AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY ($1::text[])
), owned AS (
  SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype IN ('e', 'i')
), objects AS (
  SELECT 'schema' AS kind, s.nspname AS schema_name, s.nspname AS name,
         pg_catalog.quote_ident(s.nspname) AS identity, n.nspowner AS owner,
         COALESCE(n.nspacl, pg_catalog.acldefault('n'::"char", n.nspowner)) AS acl,
         NULL::jsonb AS columns, false AS linked, n.oid::int8 AS oid
    FROM selected s JOIN pg_catalog.pg_namespace n ON n.oid = s.oid
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'p' THEN 'partitioned table' ELSE 'table' END,
         s.nspname, c.relname,
         pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.relname), c.relowner,
         COALESCE(c.relacl, pg_catalog.acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner)),
         (SELECT pg_catalog.jsonb_object_agg(a.attname, (
                   SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                            pg_catalog.pg_get_userbyid(x.grantor),
                            CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END,
                            x.privilege_type, x.is_grantable))
                     FROM pg_catalog.aclexplode(a.attacl) x))
            FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL),
         c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                      WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                                        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')),
         c.oid::int8
    FROM pg_catalog.pg_class c JOIN selected s ON s.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
     AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND o.objid = c.oid
                       AND c.relkind <> 'S')
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, s.nspname, t.typname,
         t.oid::pg_catalog.regtype::text, t.typowner,
         COALESCE(t.typacl, pg_catalog.acldefault('T'::"char", t.typowner)),
         NULL, false, t.oid::int8
    FROM pg_catalog.pg_type t JOIN selected s ON s.oid = t.typnamespace
    LEFT JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
   WHERE (t.typrelid = 0 OR r.relkind = 'c')
     AND NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND o.objid = t.oid)
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, s.nspname, p.proname,
         CASE WHEN p.prokind = 'a' AND p.pronargs = 0
              THEN pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '(*)'
              ELSE p.oid::pg_catalog.regprocedure::text END,
         p.proowner,
         COALESCE(p.proacl, pg_catalog.acldefault('f'::"char", p.proowner)),
         NULL, false, p.oid::int8
    FROM pg_catalog.pg_proc p JOIN selected s ON s.oid = p.pronamespace
   WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND o.objid = p.oid)
  UNION ALL
  SELECT 'operator', s.nspname, o.oprname, o.oid::pg_catalog.regoperator::text, o.oprowner, NULL::pg_catalog.aclitem[], NULL, false, o.oid::int8
    FROM pg_catalog.pg_operator o JOIN selected s ON s.oid = o.oprnamespace
   WHERE o.oprcode <> 0
     AND NOT EXISTS (SELECT 1 FROM owned w WHERE w.classid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND w.objid = o.oid)
  UNION ALL
  SELECT 'operator class', s.nspname, c.opcname,
         pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.opcname) || ' USING ' || pg_catalog.quote_ident(am.amname),
         c.opcowner, NULL, NULL, false, c.oid::int8
    FROM pg_catalog.pg_opclass c JOIN selected s ON s.oid = c.opcnamespace JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod
   WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND o.objid = c.oid)
  UNION ALL
  SELECT 'operator family', s.nspname, f.opfname,
         pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(f.opfname) || ' USING ' || pg_catalog.quote_ident(am.amname),
         f.opfowner, NULL, NULL, false, f.oid::int8
    FROM pg_catalog.pg_opfamily f JOIN selected s ON s.oid = f.opfnamespace JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod
   WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND o.objid = f.oid)
  UNION ALL
  SELECT 'collation', s.nspname, c.collname,
         pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.collname),
         c.collowner, NULL, NULL, false, c.oid::int8
    FROM pg_catalog.pg_collation c JOIN selected s ON s.oid = c.collnamespace
   WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_collation'::pg_catalog.regclass AND o.objid = c.oid)
  UNION ALL
  -- Text search parsers and templates have no owner (only superusers make them).
  SELECT 'text search configuration', s.nspname, c.cfgname,
         pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(c.cfgname),
         c.cfgowner, NULL, NULL, false, c.oid::int8
    FROM pg_catalog.pg_ts_config c JOIN selected s ON s.oid = c.cfgnamespace
   WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_ts_config'::pg_catalog.regclass AND o.objid = c.oid)
  UNION ALL
  SELECT 'text search dictionary', s.nspname, d.dictname,
         pg_catalog.quote_ident(s.nspname) || '.' || pg_catalog.quote_ident(d.dictname),
         d.dictowner, NULL, NULL, false, d.oid::int8
    FROM pg_catalog.pg_ts_dict d JOIN selected s ON s.oid = d.dictnamespace
   WHERE NOT EXISTS (SELECT 1 FROM owned o WHERE o.classid = 'pg_catalog.pg_ts_dict'::pg_catalog.regclass AND o.objid = d.oid)
  UNION ALL
  SELECT 'large object', NULL, m.oid::text, m.oid::text, m.lomowner,
         COALESCE(m.lomacl, pg_catalog.acldefault('L'::"char", m.lomowner)),
         NULL, false, m.oid::int8
    FROM pg_catalog.pg_largeobject_metadata m
   WHERE $2::boolean
)
SELECT o.kind, o.oid, o.schema_name, o.name, o.identity, pg_catalog.pg_get_userbyid(o.owner) AS owner, o.columns, o.linked,
       CASE WHEN o.kind IN ('operator', 'operator class', 'operator family', 'collation',
                            'text search configuration', 'text search dictionary') THEN NULL
            ELSE COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                                    pg_catalog.pg_get_userbyid(x.grantor),
                                    CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END,
                                    x.privilege_type, x.is_grantable))
                             FROM pg_catalog.aclexplode(o.acl) x), '[]') END AS acl
  FROM objects o
 ORDER BY o.kind, o.identity;
