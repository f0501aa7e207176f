-- User enum types with their labels in sort order (the order is part of the type: it decides comparisons).
SELECT t.oid::int8                                        AS oid,
       n.nspname                                          AS schema,
       t.typname                                          AS name,
       pg_catalog.format_type(t.oid, NULL)                AS rendered,
       array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
 GROUP BY t.oid, n.nspname, t.typname
 ORDER BY n.nspname, t.typname;
