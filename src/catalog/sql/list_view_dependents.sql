-- What on this server reads the relation $1 (regclass text) through a rule, at any depth: the views and
-- materialized views built on it (and tables with rules that name it). One row per relation, the deepest
-- first, which is the order they can be dropped in.
WITH RECURSIVE dependent (oid, depth) AS (
  SELECT r.ev_class, 1
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
   WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass::pg_catalog.oid
     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
     AND d.refobjid = $1::pg_catalog.regclass::pg_catalog.oid
     AND r.ev_class <> d.refobjid
  UNION
  SELECT r.ev_class, dependent.depth + 1
    FROM dependent
    JOIN pg_catalog.pg_depend d
      ON d.refobjid = dependent.oid
     AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass::pg_catalog.oid
     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
   WHERE r.ev_class <> dependent.oid AND dependent.depth < 100
)
SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, max(dependent.depth) AS depth
  FROM dependent
  JOIN pg_catalog.pg_class c ON c.oid = dependent.oid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 GROUP BY 1, 2, 3
 ORDER BY 4 DESC, 1, 2;
