/**
 * The fidelity suite's source database: every built-in type family with its extreme and special values,
 * extension types, user types of every kind, partitions and inheritance, generated and identity columns,
 * sequences ahead of and behind their tables, an FK cycle, duplicate rows without a key, a 1,000-column
 * table, a table without columns, values of tens of MB, and identifiers of every awkward spelling.
 *
 * Written for PostgreSQL 12 and later: what a version lacks is left out (`version` is server_version_num).
 * Returned as separate scripts because some steps must commit before the next uses them (a new enum label).
 */
export function fidelitySchema(version: number): string[] {
  const v14 = version >= 140000
  const v15 = version >= 150000
  const v16 = version >= 160000
  const v17 = version >= 170000
  const v18 = version >= 180000
  const scripts: string[] = []

  // A 63-byte name (the longest PostgreSQL keeps): 61 ASCII bytes and a two-byte ñ.
  const long63 = `${'l'.repeat(61)}ñ`

  scripts.push(`
    CREATE SCHEMA fidelity;
    CREATE SCHEMA "Odd ""Schema""; DROP TABLE x;";
    CREATE EXTENSION hstore;
    CREATE EXTENSION citext;
    CREATE EXTENSION ltree;
    CREATE EXTENSION btree_gist;
    CREATE EXTENSION pg_trgm;
    COMMENT ON SCHEMA fidelity IS 'the fidelity suite''s schema';

    CREATE COLLATION fidelity.case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    COMMENT ON COLLATION fidelity.case_insensitive IS 'ICU, nondeterministic';

    CREATE TYPE fidelity.mood AS ENUM ('sad', 'ok', 'happy', 'it''s "quoted"', 'ünïcödé 🚀', 'with space');
    COMMENT ON TYPE fidelity.mood IS 'an enum';
    CREATE DOMAIN fidelity.posint AS integer DEFAULT 1 NOT NULL CONSTRAINT "positive!" CHECK (VALUE > 0);
    COMMENT ON DOMAIN fidelity.posint IS 'a domain with a default, NOT NULL and a named check';
    CREATE DOMAIN fidelity.code AS text COLLATE "C" CONSTRAINT code_format CHECK (VALUE ~ '^[A-Z]{2}[0-9]*$');
    CREATE DOMAIN fidelity.mood_domain AS fidelity.mood;
    CREATE DOMAIN fidelity.ci_text AS citext;
    CREATE DOMAIN fidelity.later_checked AS text;
    CREATE TYPE fidelity.address AS (street text COLLATE "C", zip fidelity.posint, tags text[]);
    COMMENT ON COLUMN fidelity.address.street IS 'attribute comment';
    CREATE TYPE fidelity.person AS (name text, home fidelity.address, moods fidelity.mood[], born date);
    CREATE TYPE fidelity.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
    CREATE TYPE fidelity.textrange_c AS RANGE (subtype = text, collation = "C");

    CREATE SEQUENCE fidelity.free_seq START 100 INCREMENT 7;
    CREATE SEQUENCE fidelity.never_called MINVALUE -100 START -50 INCREMENT -1 CACHE 5 CYCLE;
    COMMENT ON SEQUENCE fidelity.free_seq IS 'used by a default, owned by nobody';

    CREATE FUNCTION fidelity.next_code() RETURNS text LANGUAGE sql VOLATILE
      AS $$ SELECT 'FD' || nextval('fidelity.free_seq')::text $$;
    CREATE FUNCTION fidelity.double_it(integer) RETURNS integer LANGUAGE sql IMMUTABLE
      AS $$ SELECT $1 * 2 $$;
    COMMENT ON FUNCTION fidelity.double_it(integer) IS 'used by a generated column, an index and a check';
    CREATE FUNCTION fidelity.touch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.touched := true; RETURN NEW; END $$;
    CREATE FUNCTION fidelity.audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO fidelity.audit_log(what) VALUES (TG_TABLE_NAME || ' ' || TG_OP); RETURN NULL; END $$;
  `)

  scripts.push(`
    ALTER TYPE fidelity.mood ADD VALUE 'meh' BEFORE 'ok';
  `)

  // Every built-in type family, its extremes and special values, and a row of NULLs.
  const multiranges = v14
    ? `, imr int4multirange, nmr nummultirange, dmr datemultirange, umr fidelity.floatmultirange`
    : ''
  scripts.push(`
    ${v14 ? '' : '-- no multiranges before PostgreSQL 14'}
    CREATE TABLE fidelity.all_types (
      id int PRIMARY KEY,
      i2 smallint, i4 integer, i8 bigint, n numeric, n_huge numeric(1000, 500), n_scale numeric(5),
      f4 real, f8 double precision, m money,
      c char(5), vc varchar(10), t text, "char" "char", nm name,
      b bytea, bo boolean,
      ts timestamp, ts0 timestamp(0), tstz timestamptz, d date, tm time(3), tmtz timetz, iv interval, ivd interval day to second(2),
      pt point, ln line, ls lseg, bx box, pa path, pg polygon, ci circle,
      cidr_ cidr, inet_ inet, mac macaddr, mac8 macaddr8,
      bit_ bit(5), vbit bit varying(12),
      tsv tsvector, tsq tsquery,
      u uuid, x xml, j json, jb jsonb, jp jsonpath,
      i4r int4range, i8r int8range, nr numrange, tsr tsrange, tstzr tstzrange, dr daterange, fr fidelity.floatrange, trc fidelity.textrange_c
      ${multiranges},
      lsn pg_lsn, snap txid_snapshot, o oid, rt regtype, rp regproc, rc regclass,
      ai int[], at text[], a2 int[][], abounds int[], aj jsonb[], ats timestamptz[], ar int4range[], ab bytea[],
      h hstore, cit citext, lt ltree,
      mood fidelity.mood, moods fidelity.mood[], dom fidelity.posint, cd fidelity.code, md fidelity.mood_domain, cdom fidelity.ci_text,
      person fidelity.person, people fidelity.person[]
    );
    INSERT INTO fidelity.all_types VALUES (
      1,
      -32768, -2147483648, -9223372036854775808,
      'NaN', ${`'${'9'.repeat(500)}.${'1'.repeat(499)}9'`}, 12345,
      '-0', '-0', '-92233720368547758.08',
      'ab', 'ten chars!', E'tab\\there\\nnew line\\r\\\\ "dq" ''sq'' \\u00e9 🚀', 'x', repeat('n', 63),
      (SELECT decode(string_agg(lpad(to_hex(g), 2, '0'), ''), 'hex') FROM generate_series(0, 255) g), true,
      'infinity', '2024-02-29 23:59:59', '-infinity', '4713-01-01 BC', '24:00:00', '23:59:59.999999-15:59', '-178000000 years', '1 day 00:00:00.01',
      '(1.5,-2.25)', '{1,-1,0}', '[(0,0),(1,1)]', '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(1,1),5>',
      '10.0.0.0/8', '2001:db8::1/64', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
      B'10101', B'',
      $$'fat':2 'rat':3 'a b':1$$, $$'fat' & !('rat' | 'cat')$$,
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '<a b="1">x &amp; y<![CDATA[<z>]]></a>', '{"a" : 1,   "a": [2, {"b":null}], "\\u0000": "x"}',
      '{"z": 1, "a": "ü", "n": 1.000000000000000000001, "deep": [[[[]]]]}', '$.a[*] ? (@ > 1)',
      'empty', '(,)', '[-1.5,2.5)', '[2000-01-01,infinity)', '["2000-01-01 00:00:00+00",)', '[-infinity,2000-01-01)', '(-1e300,1e300]', '[a,z)'
      ${v14 ? `, '{[1,3),[5,7)}', '{}', '{[2000-01-01,2000-02-01)}', '{(1,2]}'` : ''},
      '16/B374D848', '10:20:10,14,15', 4294967295, 'timestamp with time zone', 'pg_catalog.now', 'pg_catalog.pg_class',
      '{1,NULL,3}', '{"a b",NULL,"c,d","e\\"f","","NULL","{}"}', '{{1,2},{3,4}}', '[0:2]={7,8,9}', ARRAY['{"x":1}'::jsonb, NULL], '{"2024-01-01 00:00:00+00",infinity}', '{"[1,2)",empty}', ARRAY['\\x00ff'::bytea, ''::bytea],
      'a=>1, "b c"=>NULL, "\\"q\\""=>"x"', 'MiXeD CaSe', 'top.middle.bottom',
      'it''s "quoted"', '{sad,meh,"with space"}', 2147483647, 'AB123', 'meh', 'CamelCase',
      ROW('Ada', ROW('1 "Main" St, \\ apt', 42, '{x,NULL}')::fidelity.address, '{happy,sad}', '0044-03-15 BC')::fidelity.person,
      ARRAY[ROW('Bo', NULL, NULL, NULL)::fidelity.person, ROW(NULL, ROW(NULL, 1, '{}')::fidelity.address, '{}', 'infinity')::fidelity.person, NULL]
    ), (
      2,
      32767, 2147483647, 9223372036854775807,
      ${v14 ? `'Infinity'` : `'1e131071'`}, ${`'-${'9'.repeat(500)}.${'9'.repeat(500)}'`}, -99900,
      'NaN', 'NaN', '92233720368547758.07',
      '', '', '', '', '',
      '', false,
      '294276-12-31 23:59:59.999999', '0001-01-01 00:00:00 BC', 'infinity', '5874897-12-31', '00:00:00', '00:00:00+15:59', '178000000 years 11 mons 30 days 23:59:59.999999', '-1 day -00:00:00.01',
      '(0,0)', '{0,1,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '((0,0))', '((0,0))', '<(0,0),0>',
      '0.0.0.0/0', '::/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00',
      B'00000', B'111111111111',
      '', '!''x''',
      '00000000-0000-0000-0000-000000000000', '', '""', '""', '$',
      '[1,1]', '[-9223372036854775808,9223372036854775807)', '(,)', '[,]', '("-infinity","infinity")', 'empty', '[NaN,NaN]', '["",""]'
      ${v14 ? `, '{}', '{[-Infinity,Infinity]}', '{}', '{}'` : ''},
      '0/0', '1:1:', 0, '-', '-', '-',
      '{}', '{}', '{}', '[-5:-4]={NULL,NULL}', '{}', '{}', '{}', '{}',
      '', '', '',
      'sad', '{}', 1, 'ZZ', 'sad', '',
      ROW(NULL, NULL, NULL, NULL)::fidelity.person, '{}'
    ), (
      3,
      0, 0, 0,
      ${v14 ? `'-Infinity'` : `'-1e-16383'`}, '0.${'0'.repeat(499)}1', 0,
      'Infinity', 'Infinity', '0',
      'abcde', 'ünïcödé', 'ünïcödé 日本語 Ελληνικά العربية 🚀', '"', '"quoted"',
      '\\x5c0a0d09', NULL,
      '2000-01-01 00:00:00.000001', '1999-12-31 23:59:59', '2000-01-01 00:00:00.000001+00', '2000-02-29', '12:34:56.789', '12:00:00-03:30', '1 mon -1 days +00:00:00.000001', '00:00:00',
      '(1e-300,-1e300)', '{1,0,-1e10}', '[(1e10,1e-10),(-1,-1)]', '(1,1),(1,1)', '[(1,2)]', '((1,2),(3,4),(5,6),(7,8))', '<(0.1,0.2),1e-5>',
      '192.168.100.128/25', '192.168.0.1', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff',
      B'11111', B'0',
      $$'ünïcödé':1A,2B,3C,4D$$, $$'a':* <-> 'b':A$$,
      'ffffffff-ffff-ffff-ffff-ffffffffffff', 'just text &lt; content', '[1, 2.50, -0, 1e400, "\\ud83d\\ude80"]', '[1, 2.50, -0, 1e-400, "\\ud83d\\ude80"]', 'strict $.a.b[1 to last]',
      '(1,2)', '[0,1]', '[0,0]', '["2024-01-01 00:00:00","2024-01-01 00:00:00.000001")', '["2024-01-01 00:00:00+00",infinity]', '[2024-01-01,2024-01-02)', '[1e-300,1e-299)', '(a,b]'
      ${v14 ? `, '{(1,2),[10,20]}', '{(0,1)}', '{[2000-01-01,2000-01-02),[2001-01-01,)}', '{(1,2),(3,4)}'` : ''},
      'FFFFFFFF/FFFFFFFF', '100:100:', 1, 'fidelity.mood[]', 'fidelity.double_it', 'fidelity.all_types',
      '{NULL}', '{NULL,""}', '{{NULL,NULL},{NULL,1}}', '[1:1][-1:0]={{1,2}}', ARRAY['null'::jsonb, '{}'::jsonb], '{NULL}', '{"(,)"}', '{NULL}',
      '"" => ""', '', 'a',
      'ünïcödé 🚀', '{NULL,sad}', 7, 'AA', 'happy', 'ß',
      ROW('', ROW('', 1, '{""}')::fidelity.address, '{}', '2000-01-01')::fidelity.person, ARRAY[NULL::fidelity.person]
    );
    -- NULL everywhere a NULL is allowed (the domain posint is NOT NULL: it takes its default)
    INSERT INTO fidelity.all_types (id) VALUES (4);
    INSERT INTO fidelity.all_types (id, f8, f4, n, b, t)
      SELECT 100 + g, g * 1.1e-300, g * 1.4e-45, g::numeric / 7, decode(md5(g::text), 'hex'), repeat(chr(32 + g % 95), g % 50)
        FROM generate_series(1, 2000) g;
    INSERT INTO fidelity.all_types (id, f8, f4) VALUES (5000, 4.9e-324, 1.17549435e-38), (5001, 1.7976931348623157e308, 3.4028235e38), (5002, 0.1, 0.1);
    COMMENT ON TABLE fidelity.all_types IS 'every type family';
    COMMENT ON COLUMN fidelity.all_types.n_huge IS 'numeric(1000,500)';
  `)

  // The system's own types a table may hold: identifiers of rows, transactions and catalog objects.
  const v13 = version >= 130000
  scripts.push(`
    CREATE TABLE fidelity.more_types (
      id int PRIMARY KEY, x xid, c cid, ti tid, rc refcursor, i2v int2vector, ov oidvector, acl aclitem, acls aclitem[],
      cfg regconfig, dict regdictionary, nsp regnamespace, op regoper, opr regoperator, proc regprocedure, rol regrole,
      bp bpchar, c1 char, ts3 timestamptz(3), ym interval year to month, hm interval hour to minute, tm0 time(0) with time zone,
      nn numeric(20, 20), vb varbit, f4a real[], ia2 int2[]
      ${v13 ? ', x8 xid8, ps pg_snapshot, coll regcollation' : ''}
      ${v15 ? ', ns numeric(3, -2)' : ''}
    );
    INSERT INTO fidelity.more_types VALUES (
      1, '4294967295', '7', '(4294967295,65535)', 'a cursor "name"', '1 -2 3', '0 1 4294967295', 'postgres=arwdDxt/postgres',
      '{postgres=r*w/postgres,=r/postgres}', 'english', 'simple', 'fidelity', '|/', '+(integer,integer)', 'sum(integer)', 'postgres',
      'no length limit   ', 'x', '2024-01-01 00:00:00.123456+05:30', '-1 year -2 mons', '1 day 25:59', '23:59:59.5+14',
      '0.00000000000000000001', '', '{NaN,-0,Infinity,1.17549435e-38}', '{-32768,32767}'
      ${v13 ? `, '18446744073709551615', '10:20:10,14,15', '"C"'` : ''}
      ${v15 ? ', 12300' : ''}
    );
    INSERT INTO fidelity.more_types (id) VALUES (2);
  `)

  // NULL versus the empty value in every text-like type.
  scripts.push(`
    CREATE TABLE fidelity.null_vs_empty (
      id int PRIMARY KEY, t text, vc varchar(3), c char(3), cit citext, b bytea, x xml, j json, jb jsonb,
      ta text[], h hstore, lt ltree, tsv tsvector, vcu varchar, nm name
    );
    INSERT INTO fidelity.null_vs_empty VALUES
      (1, '', '', '', '', '', '', '""', '""', '{}', '', '', '', '', ''),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, ' ', ' ', ' ', ' ', '\\x20', ' ', '" "', '" "', '{""}', '""=>""', 'a', 'a', ' ', ' '),
      (4, 'NULL', 'NUL', 'NUL', 'NULL', '\\x00', 'NULL', 'null', 'null', '{NULL}', '"NULL"=>NULL', 'NULL', 'NULL', 'NULL', 'NULL'),
      (5, E'\\\\N', E'\\\\N', E'\\\\N', E'\\\\N', '\\x5c4e', E'\\\\N', '"\\\\N"', '"\\\\N"', E'{"\\\\\\\\N"}', E'"\\\\\\\\N"=>"\\\\\\\\N"', 'N', 'N', E'\\\\N', E'\\\\N');
  `)

  // Partitions: range with a default partition and list sub-partitions, list, hash; a partition whose
  // physical column order differs from its parent's; indexes, keys, checks and a trigger on the parents.
  scripts.push(`
    CREATE TABLE fidelity.events (
      id bigint NOT NULL, happened date NOT NULL, region text NOT NULL, payload jsonb, amount numeric(12, 2) CHECK (amount >= 0),
      PRIMARY KEY (id, happened, region)
    ) PARTITION BY RANGE (happened);
    COMMENT ON TABLE fidelity.events IS 'range partitioned';
    CREATE TABLE fidelity.events_2023 PARTITION OF fidelity.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
    CREATE TABLE fidelity.events_2024 PARTITION OF fidelity.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
      PARTITION BY LIST (region);
    CREATE TABLE fidelity.events_2024_eu PARTITION OF fidelity.events_2024 FOR VALUES IN ('eu', 'uk');
    CREATE TABLE fidelity.events_2024_other PARTITION OF fidelity.events_2024 DEFAULT;
    -- created on its own with its columns in another order, then attached
    CREATE TABLE fidelity.events_2025 (region text NOT NULL, amount numeric(12, 2) CONSTRAINT events_amount_check CHECK (amount >= 0), payload jsonb, happened date NOT NULL, id bigint NOT NULL);
    ALTER TABLE fidelity.events ATTACH PARTITION fidelity.events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    CREATE TABLE fidelity.events_default PARTITION OF fidelity.events DEFAULT;
    CREATE INDEX events_region_idx ON fidelity.events (region) INCLUDE (amount);
    CREATE INDEX events_payload_idx ON fidelity.events USING gin (payload jsonb_path_ops);
    CREATE TABLE fidelity.audit_log (id bigserial PRIMARY KEY, what text, at timestamptz DEFAULT now());
    CREATE TRIGGER events_audit AFTER INSERT ON fidelity.events FOR EACH ROW EXECUTE FUNCTION fidelity.audit();
    INSERT INTO fidelity.events
      SELECT g, date '2023-01-01' + (g % 1200), (ARRAY['eu', 'uk', 'us', 'br', 'jp'])[1 + g % 5],
             jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g % 3)), (g % 1000) / 4.0
        FROM generate_series(1, 6000) g;

    CREATE TABLE fidelity.by_region (id int, region text, note text) PARTITION BY LIST (region);
    CREATE TABLE fidelity.by_region_eu PARTITION OF fidelity.by_region FOR VALUES IN ('eu');
    CREATE TABLE fidelity.by_region_nulls PARTITION OF fidelity.by_region FOR VALUES IN (NULL);
    CREATE TABLE fidelity.by_region_rest PARTITION OF fidelity.by_region DEFAULT;
    INSERT INTO fidelity.by_region VALUES (1, 'eu', 'a'), (2, NULL, 'b'), (3, 'us', 'c'), (3, 'us', 'c');

    CREATE TABLE fidelity.hashed (id uuid NOT NULL, v int) PARTITION BY HASH (id);
    CREATE TABLE fidelity.hashed_0 PARTITION OF fidelity.hashed FOR VALUES WITH (MODULUS 3, REMAINDER 0);
    CREATE TABLE fidelity.hashed_1 PARTITION OF fidelity.hashed FOR VALUES WITH (MODULUS 3, REMAINDER 1);
    CREATE TABLE fidelity.hashed_2 PARTITION OF fidelity.hashed FOR VALUES WITH (MODULUS 3, REMAINDER 2);
    ALTER TABLE fidelity.hashed ADD CONSTRAINT hashed_id_key UNIQUE (id);
    INSERT INTO fidelity.hashed SELECT md5(g::text)::uuid, g FROM generate_series(1, 1000) g;
  `)

  // Inheritance: a parent with rows of its own, a child declared with INHERITS, a child whose columns are
  // in another order (joined with ALTER TABLE … INHERIT), and one with two parents.
  scripts.push(`
    CREATE TABLE fidelity.vehicle (id int PRIMARY KEY, name text NOT NULL DEFAULT 'unnamed', wheels int CHECK (wheels >= 0),
                                   label text GENERATED ALWAYS AS (upper(name)) STORED);
    CREATE TABLE fidelity.car (doors int DEFAULT 4, CONSTRAINT car_doors CHECK (doors > 0)) INHERITS (fidelity.vehicle);
    CREATE TABLE fidelity.boat (length numeric, wheels int CONSTRAINT vehicle_wheels_check CHECK (wheels >= 0), name text NOT NULL, id int NOT NULL,
                                label text GENERATED ALWAYS AS (upper(name)) STORED);
    ALTER TABLE fidelity.boat INHERIT fidelity.vehicle;
    CREATE TABLE fidelity.floats (buoyancy real);
    CREATE TABLE fidelity.amphibian (id int, name text NOT NULL, wheels int, buoyancy real, doors int) INHERITS (fidelity.vehicle, fidelity.floats);
    INSERT INTO fidelity.vehicle VALUES (1, 'cart', 2), (2, 'sled', 0);
    INSERT INTO fidelity.car (id, name, wheels, doors) VALUES (10, 'beetle', 4, 2), (11, 'van', 4, 5);
    INSERT INTO fidelity.boat VALUES (12.5, 0, 'dinghy', 20);
    INSERT INTO fidelity.amphibian (id, name, wheels, buoyancy, doors) VALUES (30, 'duck', 6, 0.5, 2);
    INSERT INTO fidelity.floats VALUES (1.25);
  `)

  // Generated and identity columns; sequences behind and ahead of their tables; defaults using a
  // sequence nobody owns and a user function.
  scripts.push(`
    CREATE TABLE fidelity.gen_ident (
      id int GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5),
      qty int NOT NULL, price numeric(10, 2),
      total numeric GENERATED ALWAYS AS (qty * price) STORED,
      doubled int GENERATED ALWAYS AS (fidelity.double_it(qty)) STORED,
      ${v18 ? `tripled int GENERATED ALWAYS AS (qty * 3) VIRTUAL,` : ''}
      code text DEFAULT fidelity.next_code(),
      free bigint DEFAULT nextval('fidelity.free_seq'),
      touched boolean DEFAULT false,
      CHECK (fidelity.double_it(qty) < 100000)
    );
    INSERT INTO fidelity.gen_ident (qty, price) SELECT g, g / 3.0 FROM generate_series(1, 50) g;
    CREATE INDEX gen_ident_doubled ON fidelity.gen_ident (fidelity.double_it(qty)) WHERE qty > 10;
    CREATE TRIGGER gen_ident_touch BEFORE UPDATE ON fidelity.gen_ident FOR EACH ROW EXECUTE FUNCTION fidelity.touch();

    -- What upper() and lower() make of non-ASCII text depends on the database's locale (ß, final sigma,
    -- title-case digraphs, dotted İ): a copy computes these columns again, in its own locale.
    CREATE TABLE fidelity.cased (id int PRIMARY KEY, t text,
      up text GENERATED ALWAYS AS (upper(t)) STORED, low text GENERATED ALWAYS AS (lower(t)) STORED);
    INSERT INTO fidelity.cased (id, t) VALUES (1, 'ünïcödé Ünïcödé'), (2, 'straße STRASSE ẞ'), (3, 'ǅ ǆ Ǆ'),
      (4, 'ΣΑΣ ὈΔΥΣΣΕΎΣ σας'), (5, 'İstanbul ıi'), (6, 'ﬃ Ⅻ ⓐ ŉ'), (7, 'Ελληνικά 日本語 🚀');

    CREATE TABLE fidelity.by_default (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text);
    INSERT INTO fidelity.by_default (v) VALUES ('a'), ('b');
    INSERT INTO fidelity.by_default VALUES (1000, 'explicit, ahead of the sequence');

    CREATE TABLE fidelity.serial_behind (id serial PRIMARY KEY, v text);
    INSERT INTO fidelity.serial_behind (v) VALUES ('x'), ('y');
    INSERT INTO fidelity.serial_behind VALUES (500, 'the sequence stays behind max(id)');

    CREATE TABLE fidelity.serial_ahead (id bigserial PRIMARY KEY, v text);
    INSERT INTO fidelity.serial_ahead (v) VALUES ('x');
    SELECT setval('fidelity.serial_ahead_id_seq', 90000);

    CREATE TABLE fidelity.serial_unused (id smallserial, v text);
    INSERT INTO fidelity.serial_unused VALUES (7, 'the sequence was never called');
    SELECT nextval('fidelity.free_seq') FROM generate_series(1, 3);
  `)

  // Foreign keys: a cycle, a self reference, a deferrable one, a NOT VALID one with a violating row, one
  // referencing a partitioned table.
  scripts.push(`
    CREATE TABLE fidelity.dept (id int PRIMARY KEY, name text, manager_id int);
    CREATE TABLE fidelity.emp (id int PRIMARY KEY, dept_id int NOT NULL REFERENCES fidelity.dept ON DELETE CASCADE,
                               boss_id int REFERENCES fidelity.emp DEFERRABLE INITIALLY DEFERRED, name text);
    ALTER TABLE fidelity.dept ADD CONSTRAINT dept_manager_fk FOREIGN KEY (manager_id) REFERENCES fidelity.emp (id) DEFERRABLE;
    COMMENT ON CONSTRAINT dept_manager_fk ON fidelity.dept IS 'closes the cycle';
    BEGIN;
    SET CONSTRAINTS ALL DEFERRED;
    INSERT INTO fidelity.dept VALUES (1, 'R&D', 10), (2, 'Ops', 20);
    INSERT INTO fidelity.emp VALUES (10, 1, NULL, 'ada'), (20, 2, 10, 'bo'), (30, 2, 20, 'cy');
    COMMIT;
    CREATE TABLE fidelity.loose (id int, emp_id int);
    INSERT INTO fidelity.loose VALUES (1, 10), (2, 999);
    ALTER TABLE fidelity.loose ADD CONSTRAINT loose_emp_fk FOREIGN KEY (emp_id) REFERENCES fidelity.emp NOT VALID;
    CREATE TABLE fidelity.event_notes (event_id bigint, happened date, region text, note text,
      FOREIGN KEY (event_id, happened, region) REFERENCES fidelity.events);
    INSERT INTO fidelity.event_notes SELECT id, happened, region, 'note ' || id FROM fidelity.events WHERE id % 100 = 0;
  `)

  // Tables without keys holding duplicate rows, without columns, very wide, with huge values.
  scripts.push(`
    CREATE TABLE fidelity.dups (a int, b text, c jsonb);
    INSERT INTO fidelity.dups SELECT 1, 'same', '{"x": 1}' FROM generate_series(1, 3);
    INSERT INTO fidelity.dups SELECT NULL, NULL, NULL FROM generate_series(1, 2);
    INSERT INTO fidelity.dups VALUES (2, 'other', NULL);

    CREATE TABLE fidelity.nothing ();
    INSERT INTO fidelity.nothing DEFAULT VALUES;
    INSERT INTO fidelity.nothing DEFAULT VALUES;
    INSERT INTO fidelity.nothing DEFAULT VALUES;

    DO $$
    BEGIN
      EXECUTE 'CREATE TABLE fidelity.wide (' ||
        (SELECT string_agg(format('c%s %s', g, CASE g % 4 WHEN 0 THEN 'int' WHEN 1 THEN 'text' WHEN 2 THEN 'numeric' ELSE 'boolean' END), ', ')
           FROM generate_series(1, 1000) g) || ')';
      EXECUTE 'INSERT INTO fidelity.wide SELECT ' ||
        (SELECT string_agg(CASE g % 4 WHEN 0 THEN format('r * %s', g) WHEN 1 THEN format('''v'' || r || ''_%s''', g)
                                      WHEN 2 THEN format('r / %s.0', g) ELSE format('(r + %s) %% 2 = 0', g) END, ', ')
           FROM generate_series(1, 1000) g) || ' FROM generate_series(1, 20) r';
    END $$;

    CREATE TABLE fidelity.big_values (id int PRIMARY KEY, t text, b bytea);
    INSERT INTO fidelity.big_values VALUES
      (1, repeat('0123456789abcdef', 24 * 65536), NULL),
      (2, NULL, (SELECT decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 12 * 65536) g));
    ALTER TABLE fidelity.big_values ALTER COLUMN b SET STORAGE EXTERNAL;
  `)

  // Odd identifiers, and what surrounds a table: comments, storage settings, RLS, rules, triggers of
  // every state, statistics, indexes of every access method, exclusion constraints.
  scripts.push(`
    CREATE TABLE "Odd ""Schema""; DROP TABLE x;"."MixedCase Table ""q""; --" (
      "Id" int PRIMARY KEY, "select" text, "with space" text COLLATE fidelity.case_insensitive, "日本語" text,
      "semi;colon" int, "${long63}" int, "quote""d" text, "UPPER" text, upper text
    );
    INSERT INTO "Odd ""Schema""; DROP TABLE x;"."MixedCase Table ""q""; --"
      SELECT g, 'kw' || g, CASE WHEN g % 2 = 0 THEN 'ABC' ELSE 'abc' END, '値' || g, g, g, '"' || g, 'U', 'u' FROM generate_series(1, 300) g;
    CREATE UNIQUE INDEX "Odd Index ""1""" ON "Odd ""Schema""; DROP TABLE x;"."MixedCase Table ""q""; --" ("semi;colon") INCLUDE ("日本語");
    ALTER TABLE "Odd ""Schema""; DROP TABLE x;"."MixedCase Table ""q""; --" ADD CONSTRAINT "Check ""this""; too" CHECK ("${long63}" > 0);
    COMMENT ON COLUMN "Odd ""Schema""; DROP TABLE x;"."MixedCase Table ""q""; --"."日本語" IS 'unicode column';
    CREATE TABLE fidelity."${long63}" ("${long63}" int, "select" int);
    INSERT INTO fidelity."${long63}" VALUES (1, 2);
    CREATE TABLE "Odd ""Schema""; DROP TABLE x;"."select" ("from" int, "where" fidelity.mood DEFAULT 'ok');
    INSERT INTO "Odd ""Schema""; DROP TABLE x;"."select" VALUES (1, 'happy'), (2, DEFAULT);

    CREATE UNLOGGED TABLE fidelity.scratch (id int, v text) WITH (fillfactor = 70, autovacuum_enabled = false);
    ALTER TABLE fidelity.scratch ALTER COLUMN v SET STORAGE MAIN, ALTER COLUMN v SET STATISTICS 500, ALTER COLUMN id SET (n_distinct = -1);
    ALTER TABLE fidelity.scratch REPLICA IDENTITY FULL;
    INSERT INTO fidelity.scratch SELECT g, 'u' || g FROM generate_series(1, 100) g;

    CREATE TABLE fidelity.secrets (id int PRIMARY KEY, owner_name text, level int, body text);
    INSERT INTO fidelity.secrets SELECT g, 'user' || (g % 3), g % 5, 'secret ' || g FROM generate_series(1, 100) g;
    -- a function taking the table's row type: it can only be created after the table
    CREATE FUNCTION fidelity.is_visible(fidelity.secrets) RETURNS boolean LANGUAGE sql STABLE
      AS $$ SELECT $1.level < 3 $$;
    ALTER TABLE fidelity.secrets ENABLE ROW LEVEL SECURITY;
    ALTER TABLE fidelity.secrets FORCE ROW LEVEL SECURITY;
    CREATE POLICY own_rows ON fidelity.secrets FOR SELECT TO PUBLIC USING (owner_name = current_user AND fidelity.is_visible(secrets));
    CREATE POLICY "no writes" ON fidelity.secrets AS RESTRICTIVE FOR INSERT TO PUBLIC WITH CHECK (level < 3);
    COMMENT ON POLICY own_rows ON fidelity.secrets IS 'policy comment';
    CREATE RULE secrets_no_delete AS ON DELETE TO fidelity.secrets DO INSTEAD NOTHING;
    COMMENT ON RULE secrets_no_delete ON fidelity.secrets IS 'rule comment';
    CREATE TRIGGER secrets_off BEFORE UPDATE ON fidelity.secrets FOR EACH ROW EXECUTE FUNCTION fidelity.touch();
    ALTER TABLE fidelity.secrets DISABLE TRIGGER secrets_off;
    CREATE TRIGGER secrets_replica AFTER INSERT ON fidelity.secrets FOR EACH STATEMENT EXECUTE FUNCTION fidelity.audit();
    ALTER TABLE fidelity.secrets ENABLE REPLICA TRIGGER secrets_replica;
    CREATE TRIGGER secrets_always AFTER DELETE ON fidelity.secrets FOR EACH ROW WHEN (OLD.level > 1) EXECUTE FUNCTION fidelity.audit();
    ALTER TABLE fidelity.secrets ENABLE ALWAYS TRIGGER secrets_always;
    COMMENT ON TRIGGER secrets_always ON fidelity.secrets IS 'trigger comment';

    CREATE TABLE fidelity.indexed (
      id int, t text, tags text[], during tsrange, pt point, h hstore, lt ltree, v fidelity.ci_text, room int,
      CONSTRAINT indexed_pk PRIMARY KEY (id) WITH (fillfactor = 80),
      CONSTRAINT indexed_t_key UNIQUE (t) DEFERRABLE INITIALLY DEFERRED,
      CONSTRAINT no_double_booking EXCLUDE USING gist (room WITH =, during WITH &&)
    );
    COMMENT ON CONSTRAINT indexed_pk ON fidelity.indexed IS 'primary key comment';
    COMMENT ON INDEX fidelity.indexed_pk IS 'index comment of a key';
    CREATE INDEX indexed_trgm ON fidelity.indexed USING gin (t gin_trgm_ops);
    CREATE INDEX indexed_tags ON fidelity.indexed USING gin (tags);
    CREATE INDEX indexed_pt ON fidelity.indexed USING spgist (pt);
    CREATE INDEX indexed_brin ON fidelity.indexed USING brin (id) WITH (pages_per_range = 16);
    CREATE INDEX indexed_hash ON fidelity.indexed USING hash (t);
    CREATE INDEX indexed_h ON fidelity.indexed USING gist (h);
    CREATE INDEX indexed_lt ON fidelity.indexed USING gist (lt);
    CREATE INDEX indexed_expr ON fidelity.indexed ((lower(t)) DESC NULLS LAST, id) WHERE t IS NOT NULL;
    CREATE INDEX indexed_collated ON fidelity.indexed (t COLLATE "C" text_pattern_ops);
    ALTER INDEX fidelity.indexed_expr ALTER COLUMN 1 SET STATISTICS 300;
    COMMENT ON INDEX fidelity.indexed_expr IS 'expression index';
    CLUSTER fidelity.indexed USING indexed_pk;
    CREATE STATISTICS fidelity.indexed_stats (dependencies, ndistinct) ON id, room FROM fidelity.indexed;
    ${v15 ? `CREATE UNIQUE INDEX indexed_nnd ON fidelity.indexed (room, v) NULLS NOT DISTINCT;` : ''}

    -- Operator classes of the schema's own: an enum's default btree class that sorts it backwards (which
    -- pg_get_indexdef leaves out of the key's and the index's definitions) and one an index names.
    CREATE TYPE fidelity.size AS ENUM ('small', 'medium', 'large');
    CREATE FUNCTION fidelity.size_cmp_desc(a fidelity.size, b fidelity.size) RETURNS int LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT -pg_catalog.enum_cmp(a, b)';
    CREATE FUNCTION fidelity.size_lt_desc(a fidelity.size, b fidelity.size) RETURNS bool LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT a OPERATOR(pg_catalog.>) b';
    CREATE FUNCTION fidelity.size_le_desc(a fidelity.size, b fidelity.size) RETURNS bool LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT a OPERATOR(pg_catalog.>=) b';
    CREATE FUNCTION fidelity.size_eq(a fidelity.size, b fidelity.size) RETURNS bool LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT a OPERATOR(pg_catalog.=) b';
    CREATE OPERATOR fidelity.<<< (FUNCTION = fidelity.size_lt_desc, LEFTARG = fidelity.size, RIGHTARG = fidelity.size,
      COMMUTATOR = OPERATOR(fidelity.>>>));
    CREATE OPERATOR fidelity.<<= (FUNCTION = fidelity.size_le_desc, LEFTARG = fidelity.size, RIGHTARG = fidelity.size,
      COMMUTATOR = OPERATOR(fidelity.>>=));
    CREATE FUNCTION fidelity.size_ge_desc(a fidelity.size, b fidelity.size) RETURNS bool LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT a OPERATOR(pg_catalog.<=) b';
    CREATE FUNCTION fidelity.size_gt_desc(a fidelity.size, b fidelity.size) RETURNS bool LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT a OPERATOR(pg_catalog.<) b';
    CREATE OPERATOR fidelity.>>= (FUNCTION = fidelity.size_ge_desc, LEFTARG = fidelity.size, RIGHTARG = fidelity.size);
    CREATE OPERATOR fidelity.>>> (FUNCTION = fidelity.size_gt_desc, LEFTARG = fidelity.size, RIGHTARG = fidelity.size);
    CREATE OPERATOR fidelity.=== (FUNCTION = fidelity.size_eq, LEFTARG = fidelity.size, RIGHTARG = fidelity.size,
      COMMUTATOR = OPERATOR(fidelity.===));
    CREATE OPERATOR CLASS fidelity.size_desc_ops DEFAULT FOR TYPE fidelity.size USING btree AS
      OPERATOR 1 fidelity.<<<, OPERATOR 2 fidelity.<<=, OPERATOR 3 fidelity.===, OPERATOR 4 fidelity.>>=,
      OPERATOR 5 fidelity.>>>, FUNCTION 1 fidelity.size_cmp_desc(fidelity.size, fidelity.size);
    CREATE FUNCTION fidelity.int4_cmp_desc(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE STRICT
      AS 'SELECT pg_catalog.btint4cmp(b, a)';
    CREATE OPERATOR CLASS fidelity.int4_desc_ops FOR TYPE int4 USING btree AS
      OPERATOR 1 pg_catalog.>(int4, int4), OPERATOR 2 pg_catalog.>=(int4, int4), OPERATOR 3 pg_catalog.=(int4, int4),
      OPERATOR 4 pg_catalog.<=(int4, int4), OPERATOR 5 pg_catalog.<(int4, int4),
      FUNCTION 1 fidelity.int4_cmp_desc(int4, int4);
    CREATE TABLE fidelity.sized (s fidelity.size PRIMARY KEY, n int);
    CREATE INDEX sized_n ON fidelity.sized (n fidelity.int4_desc_ops);
    INSERT INTO fidelity.sized VALUES ('small', 1), ('medium', 2), ('large', 3);
    INSERT INTO fidelity.indexed
      SELECT g, 'text ' || g, ARRAY['t' || g % 10], tsrange('2024-01-01'::timestamp + g * interval '1 hour', '2024-01-01'::timestamp + (g + 1) * interval '1 hour'),
             point(g, -g), hstore('k', g::text), ('a.b' || g % 5)::ltree, 'V' || g, g % 7
        FROM generate_series(1, 500) g;

    CREATE TABLE fidelity.checked (id int, v fidelity.later_checked, c text CONSTRAINT not_blank CHECK (c <> '') NO INHERIT);
    INSERT INTO fidelity.checked VALUES (1, 'bad', 'x'), (2, 'good', 'y');
    ALTER TABLE fidelity.checked ADD CONSTRAINT id_small CHECK (id < 2) NOT VALID;
    ALTER DOMAIN fidelity.later_checked ADD CONSTRAINT not_bad CHECK (VALUE <> 'bad') NOT VALID;

    CREATE TABLE fidelity.typed OF fidelity.address;
    INSERT INTO fidelity.typed VALUES ('a', 1, '{x}');

    CREATE TABLE fidelity.dropped_cols (a int, gone text, b text, also_gone int, c int);
    ALTER TABLE fidelity.dropped_cols DROP COLUMN gone, DROP COLUMN also_gone;
    INSERT INTO fidelity.dropped_cols VALUES (1, 'b', 3);
    ${v14 ? `ALTER TABLE fidelity.dropped_cols ALTER COLUMN b SET COMPRESSION pglz;` : ''}
    ${v15 ? `CREATE UNLOGGED SEQUENCE fidelity.unlogged_seq;` : ''}
    -- an identity column on a partitioned table (its partitions share it from 17 on)
    CREATE TABLE fidelity.ident_parts (id int GENERATED BY DEFAULT AS IDENTITY, k int) PARTITION BY RANGE (k);
    CREATE TABLE fidelity.ident_parts_1 PARTITION OF fidelity.ident_parts FOR VALUES FROM (0) TO (100);
    INSERT INTO fidelity.ident_parts (k) SELECT g FROM generate_series(1, 50) g;
    ${
      v16
        ? `-- an ICU collation with tailoring rules (16)
           CREATE COLLATION fidelity.ruled (provider = icu, locale = 'und', rules = '&a < g');
           CREATE TABLE fidelity.ruled_text (id int, t text COLLATE fidelity.ruled);
           INSERT INTO fidelity.ruled_text VALUES (1, 'a'), (2, 'g'), (3, 'b');`
        : ''
    }
    ${
      v17
        ? `-- the builtin locale provider (17)
           CREATE COLLATION fidelity.builtin_utf8 (provider = builtin, locale = 'C.UTF-8');
           CREATE TABLE fidelity.builtin_collated (id int, t text COLLATE fidelity.builtin_utf8);
           INSERT INTO fidelity.builtin_collated VALUES (1, 'ǅ ß'), (2, 'Σ');`
        : ''
    }
    ${
      v18
        ? `-- a temporal key and a temporal foreign key, a NOT NULL constraint and a check that are NOT VALID or
           -- NOT ENFORCED, with rows that break them (18)
           CREATE TABLE fidelity.rooms (room int, during daterange, PRIMARY KEY (room, during WITHOUT OVERLAPS));
           INSERT INTO fidelity.rooms VALUES (1, '[2024-01-01,2025-01-01)'), (1, '[2025-01-01,2026-01-01)'), (2, '[2024-01-01,)');
           CREATE TABLE fidelity.stays (id int, room int, during daterange,
             FOREIGN KEY (room, PERIOD during) REFERENCES fidelity.rooms (room, PERIOD during));
           INSERT INTO fidelity.stays VALUES (1, 1, '[2024-06-01,2025-06-01)'), (2, 2, '[2030-01-01,2030-01-02)');
           CREATE TABLE fidelity.lax (id int, v text);
           INSERT INTO fidelity.lax VALUES (1, NULL), (2, 'x');
           ALTER TABLE fidelity.lax ADD CONSTRAINT lax_v_not_null NOT NULL v NOT VALID;
           ALTER TABLE fidelity.lax ADD CONSTRAINT lax_id_negative CHECK (id < 0) NOT ENFORCED;`
        : ''
    }
    ANALYZE;
  `)

  // Text search: a configuration of the schema, with a dictionary of its own, that a generated column, a
  // default and an index name: the default path brings them before the table, on every version.
  scripts.push(`
    CREATE TEXT SEARCH DICTIONARY fidelity.stop_en (TEMPLATE = simple, STOPWORDS = english, ACCEPT = false);
    COMMENT ON TEXT SEARCH DICTIONARY fidelity.stop_en IS 'English stop words, nothing else';
    CREATE TEXT SEARCH CONFIGURATION fidelity.english_stems (PARSER = default);
    ALTER TEXT SEARCH CONFIGURATION fidelity.english_stems
      ADD MAPPING FOR asciiword, word WITH fidelity.stop_en, pg_catalog.english_stem;
    ALTER TEXT SEARCH CONFIGURATION fidelity.english_stems ADD MAPPING FOR int, uint WITH pg_catalog.simple;
    COMMENT ON TEXT SEARCH CONFIGURATION fidelity.english_stems IS 'stop words, then stems';
    CREATE TABLE fidelity.searchable (
      id int PRIMARY KEY, body text,
      body_tsv tsvector GENERATED ALWAYS AS (to_tsvector('fidelity.english_stems', body)) STORED,
      title tsvector DEFAULT to_tsvector('fidelity.english_stems', 'untitled'));
    CREATE INDEX searchable_body ON fidelity.searchable USING gin (to_tsvector('fidelity.english_stems', body));
    INSERT INTO fidelity.searchable (id, body)
      SELECT g, 'The ' || g || ' quick brown foxes jumped over lazy dogs' FROM generate_series(1, 300) g;
    ANALYZE fidelity.searchable;
  `)

  // Views and materialized views: on a join, on a view, with options, a column default and comments;
  // one populated with a unique index and storage settings, one left unpopulated; an odd name.
  scripts.push(`
    CREATE VIEW fidelity.emp_with_dept WITH (security_barrier = true) AS
      SELECT e.id, e.name, d.name AS dept, fidelity.double_it(e.id) AS doubled
        FROM fidelity.emp e JOIN fidelity.dept d ON d.id = e.dept_id;
    COMMENT ON VIEW fidelity.emp_with_dept IS 'a view over a join';
    COMMENT ON COLUMN fidelity.emp_with_dept.dept IS 'the department''s name';
    CREATE VIEW fidelity.ops_emp AS SELECT id, dept_id, name FROM fidelity.emp WHERE dept_id = 2 WITH LOCAL CHECK OPTION;
    ALTER VIEW fidelity.ops_emp ALTER COLUMN dept_id SET DEFAULT 2;
    CREATE VIEW fidelity.ops_names AS SELECT name FROM fidelity.ops_emp WHERE name <> 'nobody';
    ${v15 ? `CREATE VIEW fidelity.invoker_depts WITH (security_invoker = true) AS SELECT id, name FROM fidelity.dept;` : ''}
    CREATE MATERIALIZED VIEW fidelity.dept_sizes WITH (fillfactor = 70) AS
      SELECT d.id, d.name, count(e.id) AS people FROM fidelity.dept d LEFT JOIN fidelity.emp e ON e.dept_id = d.id
       GROUP BY d.id, d.name;
    CREATE UNIQUE INDEX dept_sizes_id ON fidelity.dept_sizes (id);
    COMMENT ON MATERIALIZED VIEW fidelity.dept_sizes IS 'people per department';
    COMMENT ON INDEX fidelity.dept_sizes_id IS 'one row per department';
    CREATE MATERIALIZED VIEW fidelity.emp_names_later AS SELECT id, name, dept FROM fidelity.emp_with_dept WITH NO DATA;
    CREATE VIEW "Odd ""Schema""; DROP TABLE x;"."View ""odd""; DROP VIEW y;" AS SELECT 1 AS "Col ""x""", 'ñ'::text AS "Ünï";
  `)
  return scripts
}
