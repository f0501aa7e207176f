-- Why tablehaul must not write its bookkeeping into schema "tablehaul" on this target: one row per
-- problem, none when it is safe. Trusted are the role tablehaul runs as and superusers (who can do anything
-- anyway); any other role's object could run its code as tablehaul's role the moment tablehaul writes
-- through it: a trigger, a rule or a policy runs as the role that fires it, a superuser included. So every
-- object tablehaul writes through is owned by a trusted role, carries no trigger, rule or policy, and no
-- other role may create objects in the schema or write to (or put triggers on) its tables.
WITH trusted AS (
  SELECT oid FROM pg_catalog.pg_roles WHERE rolsuper OR rolname = CURRENT_USER
),
schema AS (
  SELECT oid, nspowner, nspacl FROM pg_catalog.pg_namespace WHERE nspname = 'tablehaul'
),
relations AS (
  SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.relrowsecurity
    FROM pg_catalog.pg_class c JOIN schema s ON c.relnamespace = s.oid
   WHERE c.relname IN ('runs', 'copied_tables', 'pending_foreign_keys', 'sync_marks')
)
SELECT pg_catalog.format('schema "tablehaul" is owned by role %I', pg_catalog.pg_get_userbyid(s.nspowner)) AS problem
  FROM schema s WHERE s.nspowner NOT IN (SELECT oid FROM trusted)
UNION ALL
SELECT pg_catalog.format('role %s may create objects in schema "tablehaul"',
         CASE WHEN a.grantee = 0::pg_catalog.oid THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END)
  FROM schema s, pg_catalog.aclexplode(s.nspacl) a
 WHERE a.privilege_type = 'CREATE' AND a.grantee NOT IN (SELECT oid FROM trusted)
UNION ALL
SELECT pg_catalog.format('tablehaul.%I is owned by role %I', r.relname, pg_catalog.pg_get_userbyid(r.relowner))
  FROM relations r WHERE r.relowner NOT IN (SELECT oid FROM trusted)
UNION ALL
SELECT pg_catalog.format('tablehaul.%I is not a plain table', r.relname)
  FROM relations r WHERE r.relkind <> 'r'
UNION ALL
SELECT pg_catalog.format('role %s has %s on tablehaul.%I',
         CASE WHEN a.grantee = 0::pg_catalog.oid THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
         a.privilege_type, r.relname)
  FROM relations r, pg_catalog.aclexplode(r.relacl) a
 WHERE a.privilege_type <> 'SELECT' AND a.grantee NOT IN (SELECT oid FROM trusted)
UNION ALL
SELECT pg_catalog.format('tablehaul.%I has trigger %I (function %s, owned by %I)', r.relname, t.tgname,
         t.tgfoid::pg_catalog.regproc, pg_catalog.pg_get_userbyid(p.proowner))
  FROM relations r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid
  JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
 WHERE NOT t.tgisinternal
UNION ALL
SELECT pg_catalog.format('tablehaul.%I has rule %I', r.relname, w.rulename)
  FROM relations r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.oid
UNION ALL
SELECT pg_catalog.format('tablehaul.%I has row-level security policy %I', r.relname, p.polname)
  FROM relations r JOIN pg_catalog.pg_policy p ON p.polrelid = r.oid
UNION ALL
SELECT pg_catalog.format('tablehaul.%I has row-level security enabled', r.relname)
  FROM relations r WHERE r.relrowsecurity;
