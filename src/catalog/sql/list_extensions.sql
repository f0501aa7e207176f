-- Installed extensions with the schema their objects live in, and whether this server could install each
-- extension it knows of (pg_available_extensions lists those whose files are present).
SELECT x.extname                                            AS name,
       n.nspname                                            AS schema,
       x.extversion                                         AS version,
       true                                                 AS installed
  FROM pg_catalog.pg_extension x
  JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
UNION ALL
SELECT a.name, NULL, a.default_version, false
  FROM pg_catalog.pg_available_extensions a
 WHERE a.installed_version IS NULL
 ORDER BY 1;
