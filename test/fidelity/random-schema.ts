/**
 * A seeded random schema: per seed, tables that combine at random the clauses PostgreSQL's CREATE TABLE,
 * CREATE INDEX, ALTER TABLE, CREATE TYPE / DOMAIN, CREATE SEQUENCE, CREATE VIEW / MATERIALIZED VIEW,
 * CREATE POLICY, CREATE TRIGGER and CREATE STATISTICS allow, with a few rows each that respect their
 * constraints. The hand-written fidelity schema (schema.ts) holds the shapes its authors thought of; this
 * one combines clauses nobody chose together, so a run's catalog code meets shapes it was not written for.
 *
 * The same seed and server version give the same statements (mulberry32, no Math.random). `onlyWithAll`
 * names (as the checker names them) the objects no copied table uses, which only `objects: all` carries.
 */
export interface RandomSchema {
  readonly seed: number
  readonly scripts: string[]
  readonly onlyWithAll: string[]
  /** What this seed holds, one word a feature, for a run's log. */
  readonly features: Set<string>
}

/** mulberry32: a small, well-mixed 32-bit generator. */
function rng(seed: number) {
  // Mixed first: mulberry32's first outputs for small neighbouring seeds are alike.
  let a = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    /** true with probability p */
    chance: (p: number) => next() < p,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  }
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`
const lit = (text: string) => `'${text.replace(/'/g, "''")}'`

/** A column type: its SQL and a literal of row i (distinct for distinct i where `distinct`). */
interface ColumnType {
  readonly sql: string
  readonly kind: 'int' | 'text' | 'date' | 'range' | 'json' | 'other'
  readonly distinct: boolean
  readonly varlena: boolean
  value(i: number): string
}

/** A column as the generator knows it. */
interface Column {
  readonly name: string
  readonly type: ColumnType
  /** Filled by the server (identity, generated): left out of INSERT. */
  readonly computed: boolean
  readonly notNull: boolean
  /** Values may be NULL in some rows. */
  readonly nullable: boolean
  readonly identity?: boolean
  readonly collation?: string
}

interface Table {
  readonly name: string // qualified, quoted
  readonly bare: string // unquoted relation name
  readonly columns: Column[]
  readonly kind: 'plain' | 'partitioned' | 'child' | 'typed'
  readonly unlogged: boolean
  /** Columns of the primary key, when it has one (values distinct per row). */
  key?: Column[]
  rows: number
}

export function randomSchema(seed: number, version: number): RandomSchema {
  const r = rng(seed)
  const v13 = version >= 130000
  const v14 = version >= 140000
  const v15 = version >= 150000
  const features = new Set<string>()
  const use = (feature: string) => features.add(feature)
  let counter = 0
  /** A fresh name spelled one of the ways PostgreSQL allows in quotes. */
  const name = (base: string) => {
    counter++
    const spelling = r.pick([
      `${base}_${counter}`,
      `${base}_${counter}`,
      `${base[0]!.toUpperCase()}${base.slice(1)}${counter}`,
      `${base} ${counter}`,
      `${base}"${counter}`,
      `${base}.ñ${counter}`,
      `${base}-${counter}`,
      `select_${base}${counter}`,
    ])
    if (spelling !== `${base}_${counter}`) use('odd identifiers')
    return spelling
  }
  const comment = () =>
    r.pick([
      `plain comment ${counter}`,
      `it's "quoted" ${counter}`,
      `multi\nline ${counter}`,
      `ünï 🚀 ${counter}`,
    ])

  const schemaName = name('rs')
  const schema = q(schemaName)
  const qn = (bare: string) => `${schema}.${q(bare)}`
  const ddl: string[] = []
  const after: string[] = [] // after the rows
  const onlyWithAll: string[] = []
  const checkerName = (bare: string) => `${quoteIdent(schemaName)}.${quoteIdent(bare)}`

  ddl.push(`CREATE SCHEMA ${schema}`, `COMMENT ON SCHEMA ${schema} IS ${lit(comment())}`)

  // Types of the schema: an enum, a domain with checks, a composite, a range.
  const enumName = name('mood')
  const labels = ['a', "it's", 'ünï', 'with space', 'Z']
  ddl.push(`CREATE TYPE ${qn(enumName)} AS ENUM (${labels.map(lit).join(', ')})`)
  if (r.chance(0.5)) ddl.push(`COMMENT ON TYPE ${qn(enumName)} IS ${lit(comment())}`)
  const domainName = name('posint')
  ddl.push(
    `CREATE DOMAIN ${qn(domainName)} AS integer ${r.chance(0.5) ? 'DEFAULT 1' : ''} CONSTRAINT ${q(name('positive'))} CHECK (VALUE > 0)`,
  )
  if (r.chance(0.5)) {
    use('domain check not valid')
    ddl.push(
      `ALTER DOMAIN ${qn(domainName)} ADD CONSTRAINT ${q(name('small'))} CHECK (VALUE < 1000000) NOT VALID`,
    )
  }
  const compositeName = name('pair')
  ddl.push(`CREATE TYPE ${qn(compositeName)} AS (n integer, t text COLLATE "C")`)
  const rangeName = name('f8range')
  ddl.push(`CREATE TYPE ${qn(rangeName)} AS RANGE (subtype = float8, subtype_diff = float8mi)`)
  const collationName = name('ci')
  ddl.push(
    `CREATE COLLATION ${qn(collationName)} (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
  )
  // Objects no table uses: only objects: all carries them.
  const unusedType = name('unused')
  ddl.push(`CREATE TYPE ${qn(unusedType)} AS ENUM ('x', 'y')`)
  onlyWithAll.push(`type ${checkerName(unusedType)}`)
  const unusedFunction = name('unused_fn')
  ddl.push(
    `CREATE FUNCTION ${qn(unusedFunction)}(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + 1 $$`,
  )
  onlyWithAll.push(`function ${checkerName(unusedFunction)}(integer)`)

  // Functions the tables use.
  const twice = name('twice')
  ddl.push(
    `CREATE FUNCTION ${qn(twice)}(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 2 $$`,
    `COMMENT ON FUNCTION ${qn(twice)}(integer) IS ${lit(comment())}`,
  )
  const keep = name('keep')
  ddl.push(
    `CREATE FUNCTION ${qn(keep)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_LEVEL = 'ROW' AND TG_OP <> 'DELETE' THEN RETURN NEW; END IF; RETURN NULL; END $$`,
  )

  // A free sequence with odd options that a default names.
  const freeSeq = name('seq')
  {
    const increment = r.pick([7, -3, 1000, 1])
    const cycle = r.chance(0.5)
    ddl.push(
      `CREATE ${v15 && r.chance(0.2) ? 'UNLOGGED ' : ''}SEQUENCE ${qn(freeSeq)} AS ${r.pick(['bigint', 'integer'])} INCREMENT BY ${increment}` +
        ` MINVALUE -100000 MAXVALUE 100000 START ${increment > 0 ? -50 : 50} CACHE ${r.pick([1, 3, 20])} ${cycle ? 'CYCLE' : 'NO CYCLE'}`,
    )
    after.push(`SELECT setval(${lit(`${schema}.${q(freeSeq)}`)}, ${r.int(-40, 40)}, ${r.chance(0.5)})`)
    if (r.chance(0.5)) ddl.push(`COMMENT ON SEQUENCE ${qn(freeSeq)} IS ${lit(comment())}`)
  }

  const types: ColumnType[] = [
    { sql: 'integer', kind: 'int', distinct: true, varlena: false, value: (i) => `${i * 3 + 1}` },
    { sql: 'bigint', kind: 'int', distinct: true, varlena: false, value: (i) => `${i * 1000000007 + 5}` },
    { sql: 'smallint', kind: 'int', distinct: true, varlena: false, value: (i) => `${i + 2}` },
    { sql: 'numeric(12,3)', kind: 'other', distinct: true, varlena: true, value: (i) => `${i}.125` },
    { sql: 'text', kind: 'text', distinct: true, varlena: true, value: (i) => lit(`t${i} it's ü`) },
    { sql: 'character varying(30)', kind: 'text', distinct: true, varlena: true, value: (i) => lit(`v${i}`) },
    {
      sql: 'boolean',
      kind: 'other',
      distinct: false,
      varlena: false,
      value: (i) => (i % 2 ? 'true' : 'false'),
    },
    {
      sql: 'date',
      kind: 'date',
      distinct: true,
      varlena: false,
      value: (i) => `'2020-02-2${i % 10}'::date + ${i * 10}`,
    },
    {
      sql: 'timestamp with time zone',
      kind: 'other',
      distinct: true,
      varlena: false,
      value: (i) => `'2021-03-04 05:06:07.123456+02'::timestamptz + ${i} * interval '1 day 1 second'`,
    },
    {
      sql: 'jsonb',
      kind: 'json',
      distinct: true,
      varlena: true,
      value: (i) => lit(`{"k": ${i}, "a": [1, "x"]}`),
    },
    { sql: 'uuid', kind: 'other', distinct: true, varlena: false, value: (i) => `md5('u${i}')::uuid` },
    {
      sql: 'bytea',
      kind: 'other',
      distinct: true,
      varlena: true,
      value: (i) => `decode(md5('b${i}'), 'hex')`,
    },
    {
      sql: 'int4range',
      kind: 'range',
      distinct: true,
      varlena: true,
      value: (i) => `int4range(${i * 10}, ${i * 10 + 5})`,
    },
    { sql: 'double precision', kind: 'other', distinct: true, varlena: false, value: (i) => `${i}.25e-3` },
    {
      sql: 'text[]',
      kind: 'other',
      distinct: true,
      varlena: true,
      value: (i) => `ARRAY['a${i}', NULL, 'c']`,
    },
    {
      sql: qn(enumName),
      kind: 'other',
      distinct: false,
      varlena: false,
      value: (i) => `${lit(labels[i % labels.length]!)}::${qn(enumName)}`,
    },
    { sql: qn(domainName), kind: 'other', distinct: true, varlena: false, value: (i) => `${i + 1}` },
    {
      sql: qn(compositeName),
      kind: 'other',
      distinct: true,
      varlena: true,
      value: (i) => `ROW(${i}, 'p${i}')::${qn(compositeName)}`,
    },
    {
      sql: qn(rangeName),
      kind: 'other',
      distinct: true,
      varlena: true,
      value: (i) => `${qn(rangeName)}(${i}.5, ${i + 1}.5, '(]')`,
    },
  ]
  const typeOf = (sql: string) => types.find((t) => t.sql === sql)!

  /** A plain column (not identity or generated) with random options; its DDL. */
  const plainColumn = (type: ColumnType, opts: { notNull?: boolean; inPartitioned?: boolean } = {}) => {
    const colName = name(r.pick(['c', 'val', 'Col', 'x']))
    const notNull = opts.notNull ?? r.chance(0.3)
    let sql = `${q(colName)} ${type.sql}`
    let collated: string | undefined
    if (type.kind === 'text' && !opts.inPartitioned && r.chance(0.4)) {
      const collation = r.pick(['"C"', '"POSIX"', '"und-x-icu"', qn(collationName)])
      use('column collation')
      sql += ` COLLATE ${collation}`
      collated = collation
    }
    if (r.chance(0.35)) {
      use('column default')
      const def =
        type.kind === 'int' && type.sql !== 'smallint'
          ? r.pick([`nextval(${lit(`${schema}.${q(freeSeq)}`)}::regclass)`, `(40 + 2)`, `${qn(twice)}(21)`])
          : type.kind === 'text'
            ? r.pick([`'dflt'`, `(current_user)::text`, `('a' || 'b')`])
            : type.sql.startsWith('timestamp')
              ? r.pick(['now()', 'clock_timestamp()', `'2000-01-01 00:00:00+00'`])
              : null
      if (def) sql += ` DEFAULT ${def}`
    }
    if (notNull) sql += ' NOT NULL'
    const column: Column = {
      name: colName,
      type,
      computed: false,
      notNull,
      nullable: !notNull && r.chance(0.3),
      collation: collated,
    }
    return { column, sql }
  }

  const tables: Table[] = []
  const tableCount = r.int(3, 6)

  /** Columns of a new table: 2–5 plain ones, maybe an identity and a generated one. */
  const newColumns = (inPartitioned: boolean, typed: boolean, keyTypeWanted?: ColumnType) => {
    const cols: { column: Column; sql: string }[] = []
    const keyType =
      keyTypeWanted ?? r.pick(types.filter((t) => t.distinct && t.kind !== 'range' && t.kind !== 'json'))
    cols.push(plainColumn(keyType, { notNull: true, inPartitioned }))
    for (let k = r.int(1, 4); k > 0; k--) cols.push(plainColumn(r.pick(types), { inPartitioned }))
    if (!typed && r.chance(0.4)) {
      use('identity')
      const always = r.chance(0.5)
      const increment = r.pick([1, 5, -2])
      const options = r.chance(0.6)
        ? ` (START WITH ${increment > 0 ? 100 : -100} INCREMENT BY ${increment} MINVALUE -1000 MAXVALUE 30000 CACHE ${r.pick([1, 4])}${r.chance(0.3) ? ' CYCLE' : ''})`
        : ''
      const colName = name('id')
      const identityType = r.pick(['integer', 'bigint', 'smallint'])
      cols.push({
        column: {
          name: colName,
          type: typeOf(identityType),
          computed: true,
          identity: true,
          notNull: true,
          nullable: false,
        },
        sql: `${q(colName)} ${identityType} GENERATED ${always ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${options}`,
      })
    }
    const intSource = cols.find((c) => c.column.type.kind === 'int' && !c.column.computed)
    if (!typed && intSource && r.chance(0.5)) {
      use('generated column')
      const colName = name('gen')
      cols.push({
        column: { name: colName, type: typeOf('integer'), computed: true, notNull: false, nullable: true },
        sql: `${q(colName)} integer GENERATED ALWAYS AS (${qn(twice)}((${q(intSource.column.name)} % 100000)::integer)) STORED`,
      })
    }
    const textSource = cols.find((c) => c.column.type.kind === 'text' && !c.column.computed)
    if (!typed && textSource && r.chance(0.4)) {
      use('generated column')
      const colName = name('gen')
      cols.push({
        column: { name: colName, type: typeOf('text'), computed: true, notNull: false, nullable: true },
        sql: `${q(colName)} text GENERATED ALWAYS AS (lower(${q(textSource.column.name)}) || '!') STORED`,
      })
    }
    return cols
  }

  /** The INSERT of `rows` rows into `table` (its columns as given), row numbers from `from`. */
  const insert = (table: Table, columns: Column[], from: number, rows: number, overriding = false) => {
    const cols = columns.filter((c) => !c.computed)
    if (!cols.length) return `INSERT INTO ${table.name} DEFAULT VALUES`
    const values: string[] = []
    for (let i = from; i < from + rows; i++)
      values.push(`(${cols.map((c) => (c.nullable && i % 3 === 1 ? 'NULL' : c.type.value(i))).join(', ')})`)
    return `INSERT INTO ${table.name} (${cols.map((c) => q(c.name)).join(', ')})${overriding ? ' OVERRIDING SYSTEM VALUE' : ''} VALUES ${values.join(', ')}`
  }

  const inserts: string[] = []

  for (let n = 0; n < tableCount; n++) {
    const kind = r.pick(['plain', 'plain', 'partitioned', 'child', 'typed'] as const)
    const parents = tables.filter((t) => t.kind === 'plain' && !t.unlogged)
    const bare = name(r.pick(['orders', 'T', 'items', 'log']))
    const tableName = qn(bare)
    const rows = r.int(2, 6)

    if (kind === 'typed') {
      use('typed table')
      const table: Table = {
        name: tableName,
        bare,
        kind,
        unlogged: false,
        rows,
        columns: [
          { name: 'n', type: typeOf('integer'), computed: false, notNull: true, nullable: false },
          { name: 't', type: typeOf('text'), computed: false, notNull: false, nullable: true },
        ],
      }
      table.key = [table.columns[0]!]
      ddl.push(
        `CREATE TABLE ${tableName} OF ${qn(compositeName)} (n WITH OPTIONS NOT NULL, t WITH OPTIONS DEFAULT 'typed', PRIMARY KEY (n))`,
      )
      inserts.push(insert(table, table.columns, 0, rows))
      tables.push(table)
      continue
    }

    if (kind === 'child' && parents.length) {
      use('inheritance')
      const chosen = [r.pick(parents)]
      const second = r.pick(parents)
      if (second !== chosen[0] && r.chance(0.5)) {
        use('multiple inheritance')
        chosen.push(second)
      }
      const own = newColumns(false, false).filter((c) => !c.column.computed)
      // A column the child declares again (merged with its parent's: attislocal stays true).
      const merged = chosen[0]!.columns.find((c) => !c.computed && c.type.kind !== 'text')
      const redeclare = merged && r.chance(0.4)
      if (redeclare) use('merged inherited column')
      // An identity column is not inherited as such (the child's is a plain NOT NULL column, or shares the
      // sequence on newer servers): give every row a value, OVERRIDING SYSTEM VALUE for the latter.
      const columns = [
        ...chosen
          .flatMap((p) => p.columns)
          .map((c) =>
            c.identity
              ? { ...c, computed: false }
              : c === merged && redeclare
                ? { ...c, nullable: false }
                : c,
          ),
        ...own.map((c) => c.column),
      ]
      const table: Table = { name: tableName, bare, kind, unlogged: false, rows, columns }
      ddl.push(
        `CREATE TABLE ${tableName} (${[...(redeclare ? [`${q(merged.name)} ${merged.type.sql} NOT NULL`] : []), ...own.map((c) => c.sql)].join(', ')}) INHERITS (${chosen.map((p) => p.name).join(', ')})`,
      )
      // Rows of the parents' own and the child's columns (a value for every column not computed).
      inserts.push(insert(table, columns, 100, rows, true))
      table.key = undefined
      tables.push(table)
      continue
    }

    if (kind === 'partitioned') {
      use('partitioned')
      // a key of a type ranges suit, or any
      const cols = newColumns(
        true,
        false,
        r.chance(0.4) ? typeOf(r.pick(['integer', 'bigint', 'date'])) : undefined,
      )
      const key = cols[0]!.column
      const strategy =
        key.type.kind === 'int' || key.type.kind === 'date'
          ? r.pick(['range', 'list', 'hash'] as const)
          : r.pick(['list', 'hash'] as const)
      use(`partition by ${strategy}`)
      const table: Table = {
        name: tableName,
        bare,
        kind,
        unlogged: false,
        rows,
        columns: cols.map((c) => c.column),
      }
      const pk = r.chance(0.7)
      if (pk) table.key = [key]
      ddl.push(
        `CREATE TABLE ${tableName} (${[...cols.map((c) => c.sql), ...(pk ? [`CONSTRAINT ${q(name('pk'))} PRIMARY KEY (${q(key.name)})`] : [])].join(', ')}) PARTITION BY ${strategy.toUpperCase()} (${q(key.name)})`,
      )
      // Partitions: every row must land in one.
      const partitions: string[] = []
      const value = (i: number) => key.type.value(i)
      if (strategy === 'hash') {
        const modulus = r.int(1, 3)
        for (let k = 0; k < modulus; k++)
          partitions.push(`FOR VALUES WITH (MODULUS ${modulus}, REMAINDER ${k})`)
      } else if (strategy === 'list') {
        for (let i = 0; i < rows; i += 2)
          partitions.push(`FOR VALUES IN (${[value(i), ...(i + 1 < rows ? [value(i + 1)] : [])].join(', ')})`)
        if (r.chance(0.5)) {
          partitions.pop()
          partitions.push('DEFAULT')
          use('default partition')
        }
      } else {
        partitions.push(`FOR VALUES FROM (MINVALUE) TO (${value(2)})`)
        partitions.push(`FOR VALUES FROM (${value(2)}) TO (${value(4)})`)
        if (r.chance(0.5)) {
          partitions.push('DEFAULT')
          use('default partition')
        } else partitions.push(`FOR VALUES FROM (${value(4)}) TO (MAXVALUE)`)
      }
      for (const bound of partitions) {
        const part = name(`${bare.slice(0, 8)}_p`)
        const partName = qn(part)
        let subPartitioned = false
        const sub = cols.find(
          (c) => c !== cols[0] && !c.column.computed && c.column.type.distinct && !c.column.nullable,
        )
        if (sub && !pk && r.chance(0.3)) {
          // A second level, hashed on another column.
          use('multi-level partitions')
          subPartitioned = true
          ddl.push(
            `CREATE TABLE ${partName} PARTITION OF ${tableName} ${bound} PARTITION BY HASH (${q(sub.column.name)})`,
          )
          for (let k = 0; k < 2; k++)
            ddl.push(
              `CREATE TABLE ${qn(name(`${part.slice(0, 8)}_s`))} PARTITION OF ${partName} FOR VALUES WITH (MODULUS 2, REMAINDER ${k})`,
            )
        } else if (r.chance(0.3) && !cols.some((c) => c.column.computed)) {
          // A table made on its own, its columns in another order, attached.
          use('attached partition')
          const reversed = [...cols].reverse()
          ddl.push(
            `CREATE TABLE ${partName} (${reversed.map((c) => c.sql.replace(/ DEFAULT .*?( NOT NULL)?$/, '$1')).join(', ')}, ${q('doomed')} integer)`,
            `ALTER TABLE ${partName} DROP COLUMN ${q('doomed')}`,
            `ALTER TABLE ${tableName} ATTACH PARTITION ${partName} ${bound}`,
          )
        } else {
          ddl.push(`CREATE TABLE ${partName} PARTITION OF ${tableName} ${bound}`)
        }
        if (r.chance(0.3)) {
          use('partition with extra check')
          ddl.push(
            `ALTER TABLE ${partName} ADD CONSTRAINT ${q(name('pck'))} CHECK (${q(key.name)} IS NOT NULL)`,
          )
        }
        if (r.chance(0.3)) ddl.push(`COMMENT ON TABLE ${partName} IS ${lit(comment())}`)
        if (!subPartitioned && r.chance(0.2)) {
          use('partition reloptions')
          ddl.push(`ALTER TABLE ${partName} SET (fillfactor = 80, autovacuum_enabled = false)`)
        }
      }
      inserts.push(insert(table, table.columns, 0, rows))
      tables.push(table)
      continue
    }

    // A plain table.
    use('plain table')
    const cols = newColumns(false, false)
    const unlogged = r.chance(0.15)
    if (unlogged) use('unlogged')
    const table: Table = {
      name: tableName,
      bare,
      kind: 'plain',
      unlogged,
      rows,
      columns: cols.map((c) => c.column),
    }
    const constraints: string[] = []
    const key = cols[0]!.column
    if (r.chance(0.8)) {
      table.key = [key]
      const include = cols.find((c) => c !== cols[0] && c.column.type.kind !== 'json' && !c.column.computed)
      constraints.push(
        `CONSTRAINT ${q(name('pk'))} PRIMARY KEY (${q(key.name)})${include && r.chance(0.3) ? ` INCLUDE (${q(include.column.name)})` : ''}`,
      )
      if (include && r.chance(0.3)) use('primary key include')
    }
    const distinct = cols.filter(
      (c) =>
        c !== cols[0] &&
        c.column.type.distinct &&
        !c.column.computed &&
        c.column.type.kind !== 'json' &&
        c.column.type.sql !== 'text[]',
    )
    if (distinct.length && r.chance(0.5)) {
      const c = r.pick(distinct)
      const deferrable = r.chance(0.4)
      const nnd = v15 && r.chance(0.4)
      if (deferrable) use('deferrable unique')
      if (nnd) use('unique nulls not distinct')
      // NULLS NOT DISTINCT: at most one NULL, so no NULL at all in these rows
      if (nnd) (c.column as { nullable: boolean }).nullable = false
      constraints.push(
        `CONSTRAINT ${q(name('uq'))} UNIQUE ${nnd ? 'NULLS NOT DISTINCT ' : ''}(${q(c.column.name)})${deferrable ? ' DEFERRABLE INITIALLY DEFERRED' : ''}`,
      )
    }
    const range = cols.find((c) => c.column.type.kind === 'range' && !c.column.computed)
    if (range && r.chance(0.6)) {
      use('exclusion constraint')
      constraints.push(
        `CONSTRAINT ${q(name('ex'))} EXCLUDE USING gist (${q(range.column.name)} WITH &&)${r.chance(0.3) ? ` WHERE (${q(range.column.name)} IS NOT NULL)` : ''}${r.chance(0.3) ? ' DEFERRABLE' : ''}`,
      )
    }
    const intCol = cols.find((c) => c.column.type.kind === 'int' && !c.column.computed)
    if (intCol && r.chance(0.5)) {
      use('check')
      const noInherit = r.chance(0.4)
      if (noInherit) use('check no inherit')
      constraints.push(
        `CONSTRAINT ${q(name('ck'))} CHECK (${q(intCol.column.name)} > -1)${noInherit ? ' NO INHERIT' : ''}`,
      )
    }
    const options: string[] = []
    if (r.chance(0.3)) options.push(`fillfactor = ${r.int(50, 100)}`)
    if (r.chance(0.3)) options.push(`autovacuum_vacuum_scale_factor = 0.0${r.int(1, 9)}`)
    if (r.chance(0.2)) options.push('autovacuum_enabled = false')
    if (r.chance(0.2)) options.push('toast.autovacuum_enabled = false')
    if (r.chance(0.2)) options.push(`toast_tuple_target = ${r.pick([128, 2048, 8160])}`)
    if (r.chance(0.2)) options.push(`parallel_workers = ${r.int(0, 8)}`)
    if (options.length) use('reloptions')
    // A column dropped in the middle, and the table's rows.
    const dropped = r.chance(0.4)
    const parts = [...cols.map((c) => c.sql), ...constraints]
    if (dropped) {
      use('dropped column')
      parts.splice(1, 0, `${q('gone')} text DEFAULT 'x'`)
    }
    ddl.push(
      `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE ${tableName} (${parts.join(', ')})${options.length ? ` WITH (${options.join(', ')})` : ''}`,
    )
    if (dropped) ddl.push(`ALTER TABLE ${tableName} DROP COLUMN ${q('gone')}`)
    inserts.push(insert(table, table.columns, 0, rows))
    tables.push(table)
  }

  // Foreign keys: a table with a key referenced by a later one (or itself).
  for (const table of tables) {
    if (table.kind === 'typed' || !r.chance(0.6)) continue
    const targets = tables.filter(
      (t) => t.key?.length === 1 && (table.unlogged || !t.unlogged) && t.rows > 0 && t !== table,
    )
    if (!targets.length) continue
    const referenced = r.pick(targets)
    const refKey = referenced.key![0]!
    const fkColumn = name('ref')
    const onDelete = r.pick([
      '',
      ' ON DELETE CASCADE',
      ' ON DELETE SET NULL',
      ' ON DELETE SET DEFAULT',
      ' ON DELETE RESTRICT',
    ])
    const setNullColumns = v15 && onDelete === ' ON DELETE SET NULL' && r.chance(0.5)
    const matchFull = r.chance(0.3)
    const deferrable = r.chance(0.3)
    const notValid = table.kind !== 'partitioned' && r.chance(0.2)
    if (matchFull) use('fk match full')
    if (setNullColumns) use('fk set null column list')
    if (notValid) use('fk not valid')
    use('foreign key')
    const refType = refKey.type.sql === qn(domainName) ? 'integer' : refKey.type.sql
    // A nondeterministic key's referencing column needs the same collation (PostgreSQL 18 refuses others).
    ddl.push(
      `ALTER TABLE ${table.name} ADD COLUMN ${q(fkColumn)} ${refType}${refKey.collation ? ` COLLATE ${refKey.collation}` : ''}`,
    )
    const fkName = name('fk')
    after.push(
      `ALTER TABLE ${table.name} ADD CONSTRAINT ${q(fkName)} FOREIGN KEY (${q(fkColumn)}) REFERENCES ${referenced.name} (${q(refKey.name)})` +
        `${matchFull ? ' MATCH FULL' : ''} ON UPDATE ${r.pick(['CASCADE', 'NO ACTION', 'RESTRICT'])}${onDelete}${setNullColumns ? ` (${q(fkColumn)})` : ''}` +
        `${deferrable ? ' DEFERRABLE INITIALLY DEFERRED' : ''}${notValid ? ' NOT VALID' : ''}`,
    )
    // Rows already inserted get a referenced key (or NULL) through an UPDATE before the key exists.
    const keys = Array.from({ length: referenced.rows }, (_, i) => refKey.type.value(i))
    after.unshift(
      `UPDATE ${table.name} SET ${q(fkColumn)} = CASE (hashtext(ctid::text) & 1023) % ${keys.length + 1} ${keys.map((k, i) => `WHEN ${i + 1} THEN ${k}`).join(' ')} END`,
    )
    if (r.chance(0.3)) after.push(`COMMENT ON CONSTRAINT ${q(fkName)} ON ${table.name} IS ${lit(comment())}`)
  }

  // Per table: indexes, column settings, triggers, policies, statistics, comments, later columns.
  for (const table of tables) {
    const cols = table.columns.filter((c) => !c.computed)
    const partitioned = table.kind === 'partitioned'
    for (let k = r.int(0, 3); k > 0; k--) {
      const c = r.pick(cols)
      const indexName = name('ix')
      let method = ''
      let element = q(c.name)
      if (c.type.kind === 'range') method = ' USING gist'
      else if (c.type.kind === 'json') {
        method = ' USING gin'
        if (r.chance(0.5)) element += ' jsonb_path_ops'
      } else if (c.type.kind === 'text' && r.chance(0.3)) {
        use('expression index')
        element = `(lower(${q(c.name)}::text))`
      } else if (c.type.sql === 'text' && r.chance(0.3) && c.collation !== qn(collationName)) {
        use('index opclass')
        element += ' text_pattern_ops'
      } else if (c.type.kind === 'int' && r.chance(0.3)) {
        use('expression index')
        element = `(${qn(twice)}((${q(c.name)} % 100000)::integer))`
      } else if (r.chance(0.2) && c.type.kind !== 'other') {
        method = r.pick([' USING hash', ' USING brin'])
        use(`index${method}`)
      }
      if (!method || method === ' USING btree') {
        if (r.chance(0.4)) {
          use('index ordering')
          element += r.pick([' DESC NULLS FIRST', ' DESC', ' NULLS FIRST', ' ASC NULLS LAST'])
        }
      }
      const where = r.chance(0.3) ? ` WHERE (${q(c.name)} IS NOT NULL)` : ''
      if (where) use('partial index')
      const withOptions =
        !method && r.chance(0.3)
          ? ` WITH (fillfactor = ${r.int(40, 100)}${v13 && r.chance(0.5) ? ', deduplicate_items = off' : ''})`
          : method === ' USING gin' && r.chance(0.5)
            ? ' WITH (fastupdate = off)'
            : ''
      if (withOptions) use('index reloptions')
      const only = partitioned && r.chance(0.15)
      if (only) use('index on only partitioned table')
      ddl.push(
        `CREATE INDEX ${q(indexName)} ON ${only ? 'ONLY ' : ''}${table.name}${method} (${element})${withOptions}${where}`,
      )
      if (r.chance(0.3)) ddl.push(`COMMENT ON INDEX ${qn(indexName)} IS ${lit(comment())}`)
      if (element.startsWith('(') && r.chance(0.5)) {
        use('index column statistics')
        ddl.push(`ALTER INDEX ${qn(indexName)} ALTER COLUMN 1 SET STATISTICS ${r.int(1, 1000)}`)
      }
      if (table.kind === 'plain' && (!method || method === ' USING gist') && !where && r.chance(0.3)) {
        use('cluster on')
        ddl.push(`ALTER TABLE ${table.name} CLUSTER ON ${q(indexName)}`)
      }
    }
    // Column settings.
    for (const c of cols) {
      if (r.chance(0.15)) {
        use('column statistics')
        ddl.push(`ALTER TABLE ${table.name} ALTER COLUMN ${q(c.name)} SET STATISTICS ${r.int(0, 5000)}`)
      }
      if (r.chance(0.1)) {
        use('column n_distinct')
        ddl.push(`ALTER TABLE ${table.name} ALTER COLUMN ${q(c.name)} SET (n_distinct = -0.5)`)
      }
      if (c.type.varlena && c.type.kind !== 'range' && r.chance(0.2)) {
        use('column storage')
        ddl.push(
          `ALTER TABLE ${table.name} ALTER COLUMN ${q(c.name)} SET STORAGE ${r.pick(['PLAIN', 'MAIN', 'EXTERNAL', 'EXTENDED'])}`,
        )
      }
      if (v14 && c.type.varlena && r.chance(0.2)) {
        use('column compression')
        ddl.push(
          `ALTER TABLE ${table.name} ALTER COLUMN ${q(c.name)} SET COMPRESSION ${r.pick(['pglz', 'default'])}`,
        )
      }
      if (r.chance(0.2)) ddl.push(`COMMENT ON COLUMN ${table.name}.${q(c.name)} IS ${lit(comment())}`)
    }
    if (r.chance(0.6)) ddl.push(`COMMENT ON TABLE ${table.name} IS ${lit(comment())}`)
    // A check that the rows break, added NOT VALID once they are in.
    const intCol = cols.find((c) => c.type.kind === 'int' && !c.nullable)
    if (intCol && r.chance(0.3)) {
      use('check not valid')
      const checkName = name('late_ck')
      after.push(
        `ALTER TABLE ${table.name} ADD CONSTRAINT ${q(checkName)} CHECK (${q(intCol.name)} < ${intCol.type.value(1)}) NOT VALID`,
      )
    }
    // A constraint renamed.
    if (r.chance(0.3) && table.key && table.kind === 'plain') {
      use('renamed constraint')
      ddl.push(
        `DO $$ DECLARE n text; BEGIN SELECT conname INTO n FROM pg_constraint WHERE conrelid = ${lit(table.name)}::regclass AND contype = 'p'; EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', ${lit(table.name)}, n, ${lit(name('renamed'))}); END $$`,
      )
    }
    // Replica identity.
    if (r.chance(0.25)) {
      use('replica identity')
      const pkIndex = table.kind === 'plain' && table.key && r.chance(0.5)
      ddl.push(
        pkIndex
          ? `DO $$ DECLARE n text; BEGIN SELECT c.relname INTO n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ${lit(table.name)}::regclass AND i.indisprimary; EXECUTE format('ALTER TABLE %s REPLICA IDENTITY USING INDEX %I', ${lit(table.name)}, n); END $$`
          : `ALTER TABLE ${table.name} REPLICA IDENTITY ${r.pick(['FULL', 'NOTHING'])}`,
      )
    }
    // Row-level security.
    if (r.chance(0.3)) {
      use('row level security')
      ddl.push(`ALTER TABLE ${table.name} ENABLE ROW LEVEL SECURITY`)
      if (r.chance(0.5)) {
        use('force row level security')
        ddl.push(`ALTER TABLE ${table.name} FORCE ROW LEVEL SECURITY`)
      }
      const c = r.pick(cols)
      for (let k = r.int(0, 2); k > 0; k--) {
        const policy = name('pol')
        const command = r.pick(['ALL', 'SELECT', 'INSERT', 'UPDATE', 'DELETE'])
        const using = command === 'INSERT' ? '' : ` USING (${q(c.name)} IS NOT NULL)`
        const check =
          command === 'ALL' || command === 'INSERT' || command === 'UPDATE' ? ` WITH CHECK (true)` : ''
        ddl.push(
          `CREATE POLICY ${q(policy)} ON ${table.name} AS ${r.pick(['PERMISSIVE', 'RESTRICTIVE'])} FOR ${command} TO ${r.pick(['PUBLIC', 'CURRENT_USER', 'PUBLIC, CURRENT_USER'])}${using}${check}`,
        )
        if (r.chance(0.3)) ddl.push(`COMMENT ON POLICY ${q(policy)} ON ${table.name} IS ${lit(comment())}`)
      }
    }
    // Triggers, with their enabled state.
    for (let k = r.int(0, 2); k > 0; k--) {
      use('trigger')
      const trigger = name('tg')
      const c = r.pick(cols)
      const shape = r.pick(['before row', 'after row', 'after statement', 'constraint', 'transition'])
      if (shape === 'before row' && partitioned && !v13) continue
      if (shape === 'transition' && table.kind === 'child') continue
      const argument = r.chance(0.4) ? `${lit('arg')}, ${lit("it's")}` : ''
      const when = r.chance(0.3) ? ` WHEN (NEW.${q(c.name)} IS NOT NULL)` : ''
      ddl.push(
        shape === 'before row'
          ? `CREATE TRIGGER ${q(trigger)} BEFORE INSERT OR UPDATE ON ${table.name} FOR EACH ROW${when} EXECUTE FUNCTION ${qn(keep)}(${argument})`
          : shape === 'after row'
            ? `CREATE TRIGGER ${q(trigger)} AFTER UPDATE OF ${q(c.name)} ON ${table.name} FOR EACH ROW${when} EXECUTE FUNCTION ${qn(keep)}(${argument})`
            : shape === 'after statement'
              ? `CREATE TRIGGER ${q(trigger)} AFTER INSERT OR DELETE OR TRUNCATE ON ${table.name} FOR EACH STATEMENT EXECUTE FUNCTION ${qn(keep)}(${argument})`
              : shape === 'constraint'
                ? `CREATE CONSTRAINT TRIGGER ${q(trigger)} AFTER INSERT ON ${table.name} ${r.pick(['DEFERRABLE INITIALLY DEFERRED', 'NOT DEFERRABLE', 'DEFERRABLE INITIALLY IMMEDIATE'])} FOR EACH ROW${when} EXECUTE FUNCTION ${qn(keep)}(${argument})`
                : `CREATE TRIGGER ${q(trigger)} AFTER INSERT ON ${table.name} REFERENCING NEW TABLE AS ${q('new rows')} FOR EACH STATEMENT EXECUTE FUNCTION ${qn(keep)}()`,
      )
      use(`trigger ${shape}`)
      const state = r.pick(['', '', 'DISABLE', 'ENABLE REPLICA', 'ENABLE ALWAYS'])
      if (state) {
        use('trigger enabled state')
        after.push(`ALTER TABLE ${table.name} ${state} TRIGGER ${q(trigger)}`)
      }
      if (r.chance(0.3)) ddl.push(`COMMENT ON TRIGGER ${q(trigger)} ON ${table.name} IS ${lit(comment())}`)
    }
    // A rule.
    if (table.kind === 'plain' && r.chance(0.15)) {
      use('rule')
      const rule = name('rl')
      ddl.push(`CREATE RULE ${q(rule)} AS ON UPDATE TO ${table.name} DO ALSO NOTIFY ${q('haul channel')}`)
    }
    // Extended statistics.
    const statCols = cols.filter(
      (c) =>
        c.type.kind !== 'json' &&
        c.type.kind !== 'range' &&
        c.type.sql !== 'text[]' &&
        !c.type.sql.startsWith(schema),
    )
    if (statCols.length >= 2 && r.chance(0.35)) {
      use('extended statistics')
      const stat = name('st')
      const kinds = r.pick(['(ndistinct)', '(dependencies)', '(mcv)', '(ndistinct, dependencies, mcv)', ''])
      const [a, b] = [statCols[0]!, statCols[1]!]
      const expression = v14 && a.type.kind === 'int' && r.chance(0.4)
      if (expression) use('expression statistics')
      ddl.push(
        `CREATE STATISTICS ${qn(stat)} ${kinds} ON ${expression ? `(${q(a.name)} + 1)` : q(a.name)}, ${q(b.name)} FROM ${table.name}`,
      )
      if (v13 && r.chance(0.5)) {
        use('statistics target')
        ddl.push(`ALTER STATISTICS ${qn(stat)} SET STATISTICS ${r.int(0, 3000)}`)
      }
      if (r.chance(0.3)) ddl.push(`COMMENT ON STATISTICS ${qn(stat)} IS ${lit(comment())}`)
    }
    // Columns added once the rows are in: a fast default (attmissingval), a volatile one.
    if (table.kind !== 'typed' && r.chance(0.35)) {
      use('column added later')
      const late = name('late')
      after.push(
        `ALTER TABLE ${table.name} ADD COLUMN ${q(late)} ${r.pick([`integer DEFAULT 42 NOT NULL`, `text DEFAULT 'later'`, `timestamptz DEFAULT clock_timestamp()`, `${qn(enumName)} DEFAULT 'Z'`])}`,
      )
    }
  }

  // A sequence owned by a column of a table.
  const plain = tables.find((t) => t.kind === 'plain')
  if (plain && r.chance(0.5)) {
    use('sequence owned by')
    const owned = name('owned_seq')
    ddl.push(
      `CREATE SEQUENCE ${qn(owned)} AS smallint INCREMENT BY ${r.pick([-1, 3, 11])} MINVALUE -30000 MAXVALUE 30000 START 7 ${r.chance(0.5) ? 'CYCLE' : ''} OWNED BY ${plain.name}.${q(plain.columns[0]!.name)}`,
    )
    after.push(`SELECT nextval(${lit(`${schema}.${q(owned)}`)})`)
  }

  // Views and materialized views.
  for (const table of tables) {
    if (!r.chance(0.4)) continue
    const cols = table.columns.filter((c) => !c.computed).slice(0, 3)
    const view = name('v')
    const simple = r.chance(0.6) // automatically updatable: may carry a check option
    const options: string[] = []
    if (r.chance(0.3)) options.push('security_barrier = true')
    if (v15 && r.chance(0.2)) options.push('security_invoker = true')
    if (options.length) use('view options')
    const checkOption = simple && r.chance(0.4) ? ` WITH ${r.pick(['LOCAL', 'CASCADED'])} CHECK OPTION` : ''
    if (checkOption) use('view check option')
    ddl.push(
      `CREATE VIEW ${qn(view)}${options.length ? ` WITH (${options.join(', ')})` : ''} AS SELECT ${cols.map((c) => q(c.name)).join(', ')} FROM ${table.name}` +
        (simple
          ? ` WHERE ${q(cols[0]!.name)} IS NOT NULL`
          : ` GROUP BY ${cols.map((_, k) => k + 1).join(', ')}`) +
        checkOption,
    )
    use('view')
    if (r.chance(0.3)) {
      use('view column default')
      ddl.push(
        `ALTER VIEW ${qn(view)} ALTER COLUMN ${q(cols[0]!.name)} SET DEFAULT ${cols[0]!.type.value(99)}`,
      )
    }
    if (r.chance(0.4)) ddl.push(`COMMENT ON VIEW ${qn(view)} IS ${lit(comment())}`)
    if (r.chance(0.5)) {
      const mv = name('mv')
      const noData = r.chance(0.4)
      use(noData ? 'materialized view with no data' : 'materialized view')
      ddl.push(
        `CREATE MATERIALIZED VIEW ${qn(mv)}${r.chance(0.3) ? ' WITH (fillfactor = 70)' : ''} AS SELECT * FROM ${qn(view)} ${noData ? 'WITH NO DATA' : 'WITH DATA'}`,
      )
      if (r.chance(0.5)) {
        const mvIndex = name('mvix')
        ddl.push(`CREATE INDEX ${q(mvIndex)} ON ${qn(mv)} (${q(cols[0]!.name)})`)
        if (r.chance(0.5)) ddl.push(`ALTER MATERIALIZED VIEW ${qn(mv)} CLUSTER ON ${q(mvIndex)}`)
      }
      if (r.chance(0.3)) ddl.push(`COMMENT ON MATERIALIZED VIEW ${qn(mv)} IS ${lit(comment())}`)
    }
  }

  // The views are made before the rows: a materialized view WITH DATA then holds none, as a refresh
  // on the source would not: refresh them once the rows are in.
  after.push(
    `DO $$ DECLARE m regclass; BEGIN FOR m IN SELECT c.oid FROM pg_class c WHERE c.relkind = 'm' AND c.relispopulated AND c.relnamespace = ${lit(schema)}::regnamespace LOOP EXECUTE 'REFRESH MATERIALIZED VIEW ' || m; END LOOP; END $$`,
  )

  return {
    seed,
    scripts: [ddl.join(';\n'), inserts.join(';\n'), after.join(';\n')].filter((s) => s.length > 0),
    onlyWithAll,
    features,
  }
}

/** quote_ident: quoted only when PostgreSQL would quote it. */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : `"${name.replace(/"/g, '""')}"`
}
const RESERVED = new Set(['select', 'user', 'order', 'table', 'end'])
