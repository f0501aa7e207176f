-- The equality operator of each key column of a sync, as the table's unique indexes on plain columns use it:
-- one row per (index, key column) of table $1 (regclass text); the caller picks the index on its key columns.
-- A sync matches rows by this operator, written schema-qualified (OPERATOR(schema.=)) on operands cast to
-- the operator class's input type: an unqualified `=` on a domain, enum, composite or extension type would
-- take a better-matching `=` that any role allowed to create in public (every role before PostgreSQL 15)
-- may define there, and run it as tablehaul's role. Every operator below has an exact match in pg_catalog
-- for its operand types, so none can be taken that way either. Only the indexes list_indexes.sql lets a
-- sync match rows by count: each key column under its own collation, with its type's default operator class.
SELECT i.indexrelid::pg_catalog.int8                          AS index,
       a.attname::pg_catalog.text                             AS name,
       pg_catalog.quote_ident(n.nspname)                      AS schema,
       -- A polymorphic input type (anyenum, anyarray, record) cannot be cast to: its operator lives in
       -- pg_catalog, which no other role can add to. Otherwise the column's own type needs no cast.
       CASE WHEN ty.typtype OPERATOR(pg_catalog.<>) 'p'::pg_catalog."char"
             AND a.atttypid OPERATOR(pg_catalog.<>) c.opcintype
            THEN pg_catalog.format_type(c.opcintype, NULL) END AS cast_to
  FROM pg_catalog.pg_index i
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]), pg_catalog.unnest(i.indclass::pg_catalog.oid[]))
       WITH ORDINALITY AS k(attnum, opclass, n)
  JOIN pg_catalog.pg_attribute a
    ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) k.attnum
  JOIN pg_catalog.pg_opclass c ON c.oid OPERATOR(pg_catalog.=) k.opclass
  JOIN pg_catalog.pg_amop am
    ON am.amopfamily OPERATOR(pg_catalog.=) c.opcfamily
   AND am.amoplefttype OPERATOR(pg_catalog.=) c.opcintype
   AND am.amoprighttype OPERATOR(pg_catalog.=) c.opcintype
   AND am.amopstrategy OPERATOR(pg_catalog.=) 3::pg_catalog.int2
  JOIN pg_catalog.pg_operator o ON o.oid OPERATOR(pg_catalog.=) am.amopopr
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
  JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) c.opcintype
 WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass::pg_catalog.oid
   AND i.indisunique AND i.indisvalid AND i.indexprs IS NULL AND i.indpred IS NULL
   AND k.n OPERATOR(pg_catalog.<=) i.indnkeyatts::pg_catalog.int8
   AND NOT EXISTS (
         SELECT 1
           FROM ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]), pg_catalog.unnest(i.indcollation::pg_catalog.oid[]),
                           pg_catalog.unnest(i.indclass::pg_catalog.oid[]))
                  WITH ORDINALITY AS o(attnum, coll, opclass, n)
           JOIN pg_catalog.pg_attribute oa
             ON oa.attrelid OPERATOR(pg_catalog.=) i.indrelid AND oa.attnum OPERATOR(pg_catalog.=) o.attnum
           JOIN pg_catalog.pg_opclass oc ON oc.oid OPERATOR(pg_catalog.=) o.opclass
          WHERE o.n OPERATOR(pg_catalog.<=) i.indnkeyatts::pg_catalog.int8
            AND (o.coll OPERATOR(pg_catalog.<>) oa.attcollation OR NOT oc.opcdefault))
 ORDER BY i.indexrelid, k.n
