-- The columns of every table list_tables.sql returns, in their physical order, with their exact types and
-- whether binary COPY can carry them between two servers (see binary_safe below). Columns that only some
-- versions have (attcompression 14+, named NOT NULL constraints 18+) are read through to_jsonb(row), which
-- yields NULL where the column does not exist: this file runs on PostgreSQL 12 and later.
SELECT a.attrelid::int8                                     AS table_oid,
       a.attnum::int                                        AS position,
       a.attname                                            AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod)      AS type,
       a.atttypid::int8                                     AS type_oid,
       t.typtype                                            AS type_kind,
       a.attnotnull                                         AS not_null,
       a.attislocal                                         AS is_local,
       a.attinhcount::int                                   AS inherited_count,
       a.attgenerated                                       AS generated,
       a.attidentity                                        AS identity,
       CASE WHEN c.oid <> ALL ($1::oid[]) THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END AS default_expr,
       CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
       END                                                  AS collation,
       a.attstorage                                         AS storage,
       t.typstorage                                         AS type_storage,
       nullif(to_jsonb(a) ->> 'attcompression', '')         AS compression,
       nullif(a.attstattarget, -1)::int                     AS statistics_target,
       a.attoptions                                         AS options,
       pg_catalog.col_description(a.attrelid, a.attnum)     AS comment,
       nn.conname                                           AS not_null_name,
       coalesce(nn.convalidated, true)                      AS not_null_validated,
       coalesce(nn.connoinherit, false)                     AS not_null_no_inherit,
       coalesce(nn.conislocal, a.attislocal)                AS not_null_is_local,
       -- Binary COPY embeds type OIDs in arrays and composites, and reg* values are OIDs themselves; OIDs of
       -- types created by users differ between servers. Built-in base, range and multirange types (and
       -- arrays of them), enums (sent as their label) and one-level domains over those are safe.
       (t.typtype = 'e'
        OR (bt.oid < 16384 AND bt.typtype IN ('b', 'r', 'm') AND bt.typsend <> 0 AND bt.typreceive <> 0
            AND bt.typname !~ '^_?reg' AND bt.typname NOT IN ('aclitem', '_aclitem')
            AND (bt.typelem = 0 OR bt.typlen <> -1 OR (bt.typelem < 16384 AND et.typtype IN ('b', 'r', 'm'))))
       )                                                    AS binary_safe,
       -- interval (1186) or an array of it: PostgreSQL 17 gave the largest months, days and microseconds
       -- the meaning 'infinity', so an older server's binary value can change meaning on a newer one
       (bt.oid = 1186 OR et.oid = 1186)                     AS carries_interval
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem
  LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
  LEFT JOIN pg_catalog.pg_constraint nn
         ON nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum
 WHERE c.relkind IN ('r', 'p')
   AND a.attnum > 0
   AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
 ORDER BY a.attrelid, a.attnum;
