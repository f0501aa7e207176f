import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import type { RunReport } from '../../src/report/run-report.js'
import { Verifier } from '../../src/steps/verify/verifier.js'
import { testConfig } from '../helpers/config.js'
import { type DatabasePair, databasePair } from '../helpers/database-pair.js'
import { assertSameRows } from '../helpers/fingerprint.js'
import { type TestDatabase, type TestServer, testServers, withClient } from '../helpers/servers.js'
import { copied, runBetween } from '../helpers/sync-report.js'

// A role that may create objects in public (every role before PostgreSQL 15, here granted CREATE) defines
// functions and operators there that match better than pg_catalog's for what tablehaul's SQL applies them
// to: operands of a domain, an enum, or of two built-in types pg_catalog has no operator for as they are
// (int8 & int4, oid = regclass), and untyped literals. PostgreSQL searches pg_catalog first only among
// equally good matches, so such an object would run as tablehaul's role (a superuser here) in every sync and
// verify. Each one raises, naming the role it ran as: the runs must succeed, and leave the target exact.

let servers: Awaited<ReturnType<typeof testServers>>
const role = `tablehaul_hostile_${Math.random().toString(36).slice(2, 8)}`

before(async () => {
  servers = await testServers()
})

after(async () => {
  for (const server of new Set([servers?.source, servers?.target]))
    if (server)
      await withClient(server.url, (c) => c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`))
  await servers?.stop()
})

const TABLES = `
  CREATE DOMAIN public.code AS int4;
  CREATE DOMAIN public.stamp AS timestamptz;
  CREATE TYPE public.color AS ENUM ('red', 'green', 'blue');
  CREATE TABLE public.by_code (k public.code PRIMARY KEY, v text, at public.stamp NOT NULL);
  INSERT INTO public.by_code SELECT g, 'v' || g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 minute'
    FROM generate_series(1, 2000) g;
  CREATE TABLE public.by_color (k public.color, n int, v text, PRIMARY KEY (k, n));
  INSERT INTO public.by_color SELECT (ARRAY['red', 'green', 'blue']::public.color[])[1 + g % 3], g, 'v' || g
    FROM generate_series(1, 2000) g;
  ANALYZE;`

/** Operators on built-in types, and on the tables' types (once they exist): each raises when called. */
const OPERATORS = {
  builtin: [
    ['&', 'int8', 'int4'],
    ['%', 'int8', 'int4'],
    ['=', 'oid', 'regclass'],
    ['=', 'oid', 'int4'],
    ['<>', 'oid', 'int4'],
    ['->>', 'jsonb', 'jsonb'],
    ['#>>', 'jsonb', 'jsonb'],
  ],
  typed: [
    ['=', 'public.code', 'public.code'],
    ['=', 'public.color', 'public.color'],
    ['>', 'public.stamp', 'public.stamp'],
  ],
}

/** What the hostile role creates in public: the operators of `kind`, and for typed an aggregate max(stamp). */
function hostile(kind: keyof typeof OPERATORS): string {
  const operators = OPERATORS[kind].map(
    ([op = '', left, right], n) => `
  CREATE FUNCTION public.hostile_${kind}_${n}(a ${left}, b ${right}) RETURNS bool LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hostile ${left} ${op.replace('%', '%%')} ${right} ran as %', current_user; END $$;
  CREATE OPERATOR public.${op} (LEFTARG = ${left}, RIGHTARG = ${right}, FUNCTION = public.hostile_${kind}_${n});`,
  )
  if (kind === 'typed')
    operators.push(`
  CREATE FUNCTION public.hostile_max(s public.stamp, v public.stamp) RETURNS public.stamp LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'hostile max(stamp) ran as %', current_user; END $$;
  CREATE AGGREGATE public.max(public.stamp) (SFUNC = public.hostile_max, STYPE = public.stamp);`)
  return operators.join('')
}

async function asHostile(server: TestServer, db: TestDatabase, kind: keyof typeof OPERATORS): Promise<void> {
  await withClient(server.url, (c) =>
    c.query(
      `DO $$ BEGIN CREATE ROLE ${pg.escapeIdentifier(role)}; EXCEPTION WHEN duplicate_object THEN END $$`,
    ),
  )
  await db.sql(`GRANT CREATE ON SCHEMA public TO ${pg.escapeIdentifier(role)};
    SET ROLE ${pg.escapeIdentifier(role)}; ${hostile(kind)}; RESET ROLE`)
}

function succeeded(report: RunReport): void {
  assert.equal(report.status, 'succeeded', JSON.stringify([report.error, report.tables], null, 2))
}

async function verify(db: DatabasePair): Promise<Record<string, string>> {
  const report = await new Verifier(testConfig({ source: db.source.url, target: db.target.url })).verify({
    checksum: true,
  })
  return Object.fromEntries(
    report.tables.map((t) => [t.table, t.error ? `${t.status}: ${t.error.message}` : t.status]),
  )
}

const CHANGES = `
  UPDATE public.by_code SET v = 'changed', at = at + interval '1 year' WHERE k::int4 % 500 = 0;
  DELETE FROM public.by_code WHERE k::int4 = (SELECT min(k::int4) FROM public.by_code);
  INSERT INTO public.by_code SELECT max(k::int4) + 1, 'new', '2030-01-01 00:00+00' FROM public.by_code;
  UPDATE public.by_color SET v = 'changed' WHERE n % 500 = 0;
  DELETE FROM public.by_color WHERE n = (SELECT min(n) FROM public.by_color);
  INSERT INTO public.by_color SELECT 'blue', max(n) + 1, 'new' FROM public.by_color;`

describe('a sync and verify --checksum with functions and operators of another role in public', () => {
  test('never call them, and leave the target exact', async () => {
    const db = await databasePair(servers, 'hostile_operators')
    const yaml = { tables: [{ name: 'public.by_code', changed: 'at' }, 'public.by_color'] }
    try {
      await db.source.sql(TABLES)
      await asHostile(servers.source, db.source, 'builtin')
      await asHostile(servers.source, db.source, 'typed')
      await asHostile(servers.target, db.target, 'builtin')
      // The first copy, into a database without the tables and their types.
      succeeded(await runBetween(db, 'sync', yaml))
      await asHostile(servers.target, db.target, 'typed')

      // Only the rows written since the last copy (its mark), then every row compared (no mark) after the
      // `changed:` hint: the sync's key matching, fingerprints, hint and marks.
      for (const compared of ['written', 'all']) {
        if (compared === 'all') await db.target.sql(`DELETE FROM tablehaul.sync_marks`)
        await db.source.sql(CHANGES)
        const report = await runBetween(db, 'sync', yaml)
        succeeded(report)
        for (const table of ['public.by_code', 'public.by_color']) {
          const synced = copied(report, table)
          assert.equal(synced.syncCompared, compared, JSON.stringify(synced))
          assert.deepEqual(synced.sync && [synced.sync.inserted, synced.sync.deleted], [1, 1], table)
          await assertSameRows(db, table)
        }
      }
      assert.deepEqual(await verify(db), { 'public.by_code': 'same', 'public.by_color': 'same' })

      await db.target.sql(`UPDATE public.by_color SET v = 'edited on the target' WHERE n = 1000`)
      assert.deepEqual(await verify(db), { 'public.by_code': 'same', 'public.by_color': 'different' })
    } finally {
      await db.drop()
    }
  })
})
