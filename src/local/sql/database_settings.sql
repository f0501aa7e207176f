-- The connected database's name, encoding and locale: what its local copy is created with. The locale
-- provider (15+), its locale (daticulocale 15-16, datlocale 17+) and ICU rules (16+) are read through
-- to_jsonb(row), which yields NULL where a version lacks them.
SELECT d.datname                                              AS name,
       pg_catalog.pg_encoding_to_char(d.encoding)             AS encoding,
       d.datcollate                                           AS collate,
       d.datctype                                             AS ctype,
       coalesce(to_jsonb(d) ->> 'datlocprovider', 'c')        AS provider,
       coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale') AS locale,
       to_jsonb(d) ->> 'daticurules'                          AS icu_rules
  FROM pg_catalog.pg_database d
 WHERE d.datname = pg_catalog.current_database();
