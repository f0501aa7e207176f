-- What each object uses, from pg_depend (normal dependencies, and automatic ones such as an operator
-- class's on its family): (class, oid) needs (ref_class, ref_oid). A composite type's column types are
-- recorded against its relation, and a domain's CHECK functions against its constraint: both are mapped
-- back to the type. An operator or support function of an operator class or family (pg_amop, pg_amproc)
-- is mapped to the class or family it belongs to. A member of an extension is mapped to that extension.
-- A text search configuration needs its parser and the dictionaries of its mappings (recorded against the
-- configuration itself), a dictionary its template, a parser or template its functions.
-- An operator class or family needs its access method (which pg_depend does not record).
-- Objects of other kinds are filtered out by the caller.
WITH member_of AS (
  SELECT m.classid, m.objid, m.refclassid, m.refobjid
    FROM pg_catalog.pg_depend m
   WHERE m.classid IN ('pg_catalog.pg_amop'::pg_catalog.regclass, 'pg_catalog.pg_amproc'::pg_catalog.regclass)
     AND m.refclassid IN ('pg_catalog.pg_opclass'::pg_catalog.regclass, 'pg_catalog.pg_opfamily'::pg_catalog.regclass)
     AND m.deptype IN ('i', 'a')
), dependency AS (
  SELECT CASE d.classid
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN 'pg_type'
           WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN 'pg_type'
           WHEN 'pg_catalog.pg_amop'::pg_catalog.regclass THEN m.refclassid::pg_catalog.regclass::text
           WHEN 'pg_catalog.pg_amproc'::pg_catalog.regclass THEN m.refclassid::pg_catalog.regclass::text
           ELSE d.classid::pg_catalog.regclass::text END AS class,
         CASE d.classid
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass
             THEN (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typrelid = d.objid)
           WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass
             THEN (SELECT c.contypid FROM pg_catalog.pg_constraint c WHERE c.oid = d.objid)
           WHEN 'pg_catalog.pg_amop'::pg_catalog.regclass THEN m.refobjid
           WHEN 'pg_catalog.pg_amproc'::pg_catalog.regclass THEN m.refobjid
           ELSE d.objid END AS oid,
         d.refclassid,
         d.refobjid
    FROM pg_catalog.pg_depend d
    LEFT JOIN member_of m ON m.classid = d.classid AND m.objid = d.objid
   WHERE d.deptype IN ('n', 'a')
     AND d.classid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass,
                       'pg_catalog.pg_cast'::pg_catalog.regclass, 'pg_catalog.pg_class'::pg_catalog.regclass,
                       'pg_catalog.pg_constraint'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass,
                       'pg_catalog.pg_opfamily'::pg_catalog.regclass, 'pg_catalog.pg_opclass'::pg_catalog.regclass,
                       'pg_catalog.pg_amop'::pg_catalog.regclass, 'pg_catalog.pg_amproc'::pg_catalog.regclass,
                       'pg_catalog.pg_collation'::pg_catalog.regclass, 'pg_catalog.pg_ts_parser'::pg_catalog.regclass,
                       'pg_catalog.pg_ts_template'::pg_catalog.regclass, 'pg_catalog.pg_ts_dict'::pg_catalog.regclass,
                       'pg_catalog.pg_ts_config'::pg_catalog.regclass,
                       'pg_catalog.pg_am'::pg_catalog.regclass)
  UNION ALL
  -- pg_depend holds no link from an operator class or family to its access method: one made with CREATE
  -- ACCESS METHOD must come first all the same.
  SELECT 'pg_opclass', c.oid, 'pg_catalog.pg_am'::pg_catalog.regclass::oid, c.opcmethod
    FROM pg_catalog.pg_opclass c WHERE c.opcmethod >= 16384
  UNION ALL
  SELECT 'pg_opfamily', f.oid, 'pg_catalog.pg_am'::pg_catalog.regclass::oid, f.opfmethod
    FROM pg_catalog.pg_opfamily f WHERE f.opfmethod >= 16384
)
SELECT d.class,
       d.oid::int8 AS oid,
       CASE WHEN x.refobjid IS NOT NULL THEN 'pg_extension' ELSE d.refclassid::pg_catalog.regclass::text END AS ref_class,
       COALESCE(x.refobjid, d.refobjid)::int8 AS ref_oid
  FROM dependency d
  LEFT JOIN pg_catalog.pg_depend x
         ON x.classid = d.refclassid AND x.objid = d.refobjid AND x.deptype = 'e'
 WHERE d.oid IS NOT NULL AND d.oid <> 0;
