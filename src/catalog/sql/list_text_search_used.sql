-- The text search configurations and dictionaries that the tables in $1 (oid[]), or the tables above them
-- (partitioned tables, inheritance parents), name in a column default or generated column, an index, a
-- constraint or a policy: a regconfig or regdictionary constant (`to_tsvector('app.english', body)`) is
-- recorded in pg_depend. One row per object: its pg_depend address and its schema. Built-in ones (OID
-- below 16384) exist on every server and are left out.
WITH RECURSIVE tables AS (
  SELECT t.oid FROM pg_catalog.unnest($1::oid[]) AS t(oid)
  UNION
  SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN tables ON tables.oid = i.inhrelid
)
SELECT DISTINCT d.refclassid::pg_catalog.regclass::text AS class,
       d.refobjid::int8                                 AS oid,
       n.nspname                                        AS schema
  FROM pg_catalog.pg_depend d
  LEFT JOIN pg_catalog.pg_attrdef ad ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass::pg_catalog.oid AND ad.oid = d.objid
  LEFT JOIN pg_catalog.pg_index ix ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AND ix.indexrelid = d.objid
  LEFT JOIN pg_catalog.pg_constraint con ON d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass::pg_catalog.oid AND con.oid = d.objid
  LEFT JOIN pg_catalog.pg_policy pol ON d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass::pg_catalog.oid AND pol.oid = d.objid
  LEFT JOIN pg_catalog.pg_ts_config c ON d.refclassid = 'pg_catalog.pg_ts_config'::pg_catalog.regclass::pg_catalog.oid AND c.oid = d.refobjid
  LEFT JOIN pg_catalog.pg_ts_dict t ON d.refclassid = 'pg_catalog.pg_ts_dict'::pg_catalog.regclass::pg_catalog.oid AND t.oid = d.refobjid
  JOIN pg_catalog.pg_namespace n ON n.oid = COALESCE(c.cfgnamespace, t.dictnamespace)
 WHERE d.refclassid IN ('pg_catalog.pg_ts_config'::pg_catalog.regclass::pg_catalog.oid, 'pg_catalog.pg_ts_dict'::pg_catalog.regclass::pg_catalog.oid)
   AND d.refobjid >= 16384::pg_catalog.oid
   AND COALESCE(ad.adrelid, ix.indrelid, con.conrelid, pol.polrelid) IN (SELECT oid FROM tables)
 ORDER BY 3, 1, 2;
