-- What each user table, type, function and sequence uses, from pg_depend: the user types, functions,
-- sequences, collations and tables it refers to, and the extensions owning anything it refers to.
-- A dependency of a table's part is the table's: a column's type or default is needed to create the table
-- (phase 'create'); an index's operator class, a constraint's or trigger's function only after its data
-- (phase 'after'). Built-in objects (OID below 16384) are never dependencies.
WITH deps AS (
  SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
    FROM pg_catalog.pg_depend d
   WHERE d.deptype IN ('n', 'a') AND d.refobjid >= 16384
     -- what an extension's own objects use is the extension's business
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                      WHERE e.classid = d.classid AND e.objid = d.objid AND e.deptype = 'e')
),
owner AS (
  SELECT deps.*,
         CASE deps.classid
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN
             CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'i' THEN 'table' WHEN 'I' THEN 'table'
                            WHEN 'S' THEN 'sequence' WHEN 'c' THEN 'type' END
           WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN 'table'
           WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN
             CASE WHEN con.contypid <> 0 THEN 'type' WHEN con.conrelid <> 0 THEN 'table' END
           WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN 'table'
           WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN 'table'
           WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN 'table'
           WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN 'table'
           WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN 'type'
           WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN 'function'
         END AS kind,
         CASE deps.classid
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN
             CASE WHEN c.relkind IN ('i', 'I') THEN ix.indrelid WHEN c.relkind = 'c' THEN c.reltype ELSE c.oid END
           WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN ad.adrelid
           WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN coalesce(nullif(con.contypid, 0), con.conrelid)
           WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN tg.tgrelid
           WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN pol.polrelid
           WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN rw.ev_class
           WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN st.stxrelid
           ELSE deps.objid
         END AS oid,
         CASE WHEN deps.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                OR (deps.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.relkind IN ('r', 'p', 'S', 'c'))
                OR (deps.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND con.contypid <> 0)
                OR deps.classid IN ('pg_catalog.pg_type'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass)
              THEN 'create' ELSE 'after' END AS phase
    FROM deps
    LEFT JOIN pg_catalog.pg_class c ON deps.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = deps.objid
    LEFT JOIN pg_catalog.pg_index ix ON ix.indexrelid = c.oid
    LEFT JOIN pg_catalog.pg_attrdef ad ON deps.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND ad.oid = deps.objid
    LEFT JOIN pg_catalog.pg_constraint con ON deps.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND con.oid = deps.objid
    LEFT JOIN pg_catalog.pg_trigger tg ON deps.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass AND tg.oid = deps.objid
    LEFT JOIN pg_catalog.pg_policy pol ON deps.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND pol.oid = deps.objid
    LEFT JOIN pg_catalog.pg_rewrite rw ON deps.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.oid = deps.objid
    LEFT JOIN pg_catalog.pg_statistic_ext st ON deps.classid = 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass AND st.oid = deps.objid
),
referenced AS (
  -- An array type stands for its element type, a multirange for its range, a table's row type for the table.
  SELECT o.kind, o.oid, o.phase, o.refclassid,
         CASE WHEN o.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass THEN
                coalesce(el.oid, mr.rngtypid, rt.oid)
              ELSE o.refobjid END AS refobjid
    FROM owner o
    LEFT JOIN pg_catalog.pg_type rt ON o.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND rt.oid = o.refobjid
    LEFT JOIN pg_catalog.pg_type el ON el.typarray = rt.oid
    LEFT JOIN pg_catalog.pg_range mr ON (to_jsonb(mr) ->> 'rngmultitypid')::oid = rt.oid
   WHERE o.kind IS NOT NULL
)
SELECT DISTINCT * FROM (
SELECT r.kind,
       r.oid::int8                                          AS oid,
       r.phase,
       CASE WHEN x.oid IS NOT NULL THEN 'extension'
            WHEN r.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass THEN
              CASE WHEN tc.relkind IN ('r', 'p') THEN 'table' ELSE 'type' END
            WHEN r.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass THEN
              CASE rc.relkind WHEN 'S' THEN 'sequence' WHEN 'c' THEN 'type' WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' END
            WHEN r.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass THEN 'function'
            WHEN r.refclassid = 'pg_catalog.pg_collation'::pg_catalog.regclass THEN 'collation'
       END                                                  AS needs_kind,
       (CASE WHEN x.oid IS NOT NULL THEN 0
             WHEN r.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND tc.relkind IN ('r', 'p') THEN tc.oid
             WHEN r.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND rc.relkind = 'c' THEN rc.reltype
             ELSE r.refobjid END)::int8                     AS needs_oid,
       x.extname                                            AS extension
  FROM referenced r
  LEFT JOIN pg_catalog.pg_type t ON r.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = r.refobjid
  LEFT JOIN pg_catalog.pg_class tc ON tc.oid = t.typrelid
  LEFT JOIN pg_catalog.pg_class rc ON r.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND rc.oid = r.refobjid
  LEFT JOIN pg_catalog.pg_depend xd
         ON xd.classid = r.refclassid AND xd.objid = r.refobjid AND xd.deptype = 'e'
  LEFT JOIN pg_catalog.pg_extension x ON x.oid = xd.refobjid
 WHERE (x.oid IS NOT NULL
        OR r.refclassid IN ('pg_catalog.pg_type'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass,
                            'pg_catalog.pg_collation'::pg_catalog.regclass)
        OR rc.relkind IN ('S', 'c', 'r', 'p'))
) AS uses
 WHERE NOT (needs_kind = kind AND needs_oid = oid)
 ORDER BY 1, 2, 3, 4, 5;
