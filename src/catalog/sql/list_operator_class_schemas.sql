-- The schemas that hold what the operator classes $1 (oid[]) are made of: each class, its family, the
-- operators and support functions of the family, and the functions behind those operators. Built-in
-- schemas are left out: what they hold is on every server.
SELECT DISTINCT n.nspname AS schema
  FROM (SELECT c.opcnamespace AS nsp FROM pg_catalog.pg_opclass c WHERE c.oid = ANY ($1::oid[])
        UNION ALL
        SELECT f.opfnamespace FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily
         WHERE c.oid = ANY ($1::oid[])
        UNION ALL
        SELECT o.oprnamespace FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_amop a ON a.amopfamily = c.opcfamily
          JOIN pg_catalog.pg_operator o ON o.oid = a.amopopr WHERE c.oid = ANY ($1::oid[])
        UNION ALL
        SELECT p.pronamespace FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_amop a ON a.amopfamily = c.opcfamily
          JOIN pg_catalog.pg_operator o ON o.oid = a.amopopr JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
         WHERE c.oid = ANY ($1::oid[])
        UNION ALL
        SELECT p.pronamespace FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_amproc a ON a.amprocfamily = c.opcfamily
          JOIN pg_catalog.pg_proc p ON p.oid = a.amproc WHERE c.oid = ANY ($1::oid[])) AS used
  JOIN pg_catalog.pg_namespace n ON n.oid = used.nsp
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY 1;
