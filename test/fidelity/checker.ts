import pg from 'pg'

/**
 * Compares two databases the way a DBA would check a copy: every table's rows (count and an
 * order-independent hash of every row's text form, then the differing rows themselves), and the schema
 * object by object (tables, views and materialized views with their definitions, options and populated
 * state, columns, constraints, indexes with their operator classes, triggers, rules, policies, sequences
 * with their state, types (a base type with every CREATE TYPE option), functions, operators, operator
 * classes with their members, collations, text search
 * configurations (with their mappings), dictionaries, templates and parsers, extensions, access methods,
 * statistics objects, comments), and a populated materialized view's
 * rows like a table's. Written independently of
 * tablehaul's own catalog code, so a mistake there cannot hide itself here.
 *
 * What legitimately differs between PostgreSQL versions is left out when the two servers' versions differ
 * (named NOT NULL constraints, which only 18 has; the text of a function's or a view's definition, which
 * each version prints its own way; whether a partition shares its partitioned table's identity, which
 * only 17 and later do).
 */
export interface Comparison {
  /** One precise sentence per difference; empty when the databases are identical. */
  readonly differences: string[]
  /** How many objects and tables were compared. */
  readonly objects: number
  readonly tables: number
  readonly rows: number
}

/** Session settings that fix every value's text form, the same on both sides. */
const SETTINGS = [
  `SET DateStyle = 'ISO, YMD'`,
  `SET IntervalStyle = 'postgres'`,
  `SET TimeZone = 'UTC'`,
  `SET extra_float_digits = 3`,
  `SET bytea_output = 'hex'`,
  `SET lc_monetary = 'C'`,
  `SET xmloption = content`,
  `SET search_path = ''`,
  `SET row_security = off`,
]

const USER_SCHEMA = `nspname NOT IN ('pg_catalog', 'information_schema', 'tablehaul') AND nspname !~ '^pg_(toast|temp_|toast_temp_)'`
/** A collation's name (regcollation only exists from PostgreSQL 13). */
const COLLATION = (oid: string) =>
  `(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
      JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oid})`
/** `schema.name` of an object of `namespace` alias, quoted as needed. */
const TS_NAME = (namespace: string, name: string) =>
  `pg_catalog.quote_ident(${namespace}.nspname) || '.' || pg_catalog.quote_ident(${name})`
const NOT_EXTENSION = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend xd WHERE xd.classid = '${classid}'::pg_catalog.regclass AND xd.objid = ${oid} AND xd.deptype = 'e')`

/**
 * Object descriptions: `object` names it, `props` are the properties compared. `server` is the version of
 * the server asked, `version` the older of the two compared: what that one cannot have is left out.
 */
function describeQueries(server: number, version: number, sameVersion: boolean): string[] {
  const v13 = version >= 130000
  const v14 = version >= 140000
  const tableName = `pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)`
  return [
    // tables
    `SELECT 'table ' || ${tableName} AS object,
            jsonb_build_object(
              'kind', c.relkind, 'persistence', c.relpersistence,
              'columns', (SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
              'partition key', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
              'partition bound', pg_catalog.pg_get_expr(c.relpartbound, c.oid),
              'parents', (SELECT string_agg(i.inhparent::pg_catalog.regclass::text, ', ' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid),
              'row security', c.relrowsecurity, 'force row security', c.relforcerowsecurity,
              'options', c.reloptions, 'toast options', nullif(tc.reloptions, '{}'), 'replica identity', c.relreplident,
              'access method', am.amname, 'of type', nullif(c.reloftype, 0)::pg_catalog.regtype::text,
              'comment', pg_catalog.obj_description(c.oid, 'pg_class')) AS props
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid
       LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
      WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_class', 'c.oid')}`,
    // views and materialized views (their columns, indexes and rows are compared with the tables')
    `SELECT CASE c.relkind WHEN 'v' THEN 'view ' ELSE 'materialized view ' END || ${tableName} AS object,
            jsonb_build_object(
              'definition', ${sameVersion ? `pg_catalog.pg_get_viewdef(c.oid, true)` : `NULL`},
              'options', (SELECT jsonb_agg(o ORDER BY o) FROM unnest(c.reloptions) o),
              'populated', c.relispopulated,
              'reads', (SELECT string_agg(DISTINCT d.refobjid::pg_catalog.regclass::text, ', ')
                          FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_depend d
                            ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = r.oid
                           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> c.oid
                         WHERE r.ev_class = c.oid AND r.rulename = '_RETURN'),
              'comment', pg_catalog.obj_description(c.oid, 'pg_class')) AS props
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_class', 'c.oid')}`,
    // columns
    `SELECT 'column ' || ${tableName} || '.' || pg_catalog.quote_ident(a.attname) AS object,
            jsonb_build_object(
              'type', pg_catalog.format_type(a.atttypid, a.atttypmod), 'not null', a.attnotnull,
              'default', CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
              'generated', nullif(a.attgenerated, '')::text || ' ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid),
              -- a partition shares its partitioned table's identity from 17 on, not before
              'identity', CASE WHEN ${version < 170000 && server >= 170000} AND c.relispartition THEN NULL ELSE nullif(a.attidentity, '') END,
              'collation', CASE WHEN a.attcollation <> t.typcollation THEN ${COLLATION('a.attcollation')} END,
              'storage', a.attstorage, 'statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
              'options', a.attoptions, 'local', a.attislocal, 'inherited', a.attinhcount,
              ${v14 ? `'compression', nullif(a.attcompression, ''),` : ''}
              'comment', pg_catalog.col_description(c.oid, a.attnum)) AS props
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE c.relkind IN ('r', 'p', 'c', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND ${USER_SCHEMA}
        AND ${NOT_EXTENSION('pg_catalog.pg_class', 'c.oid')}`,
    // constraints of tables and domains (NOT NULL ones only between servers that both name them)
    `SELECT 'constraint ' || coalesce(${tableName}, con.contypid::pg_catalog.regtype::text) || '.' || pg_catalog.quote_ident(con.conname) AS object,
            jsonb_build_object('type', con.contype, 'definition', pg_catalog.pg_get_constraintdef(con.oid),
              'validated', con.convalidated, 'local', con.conislocal, 'inherited', con.coninhcount,
              'index', nullif(con.conindid, 0)::pg_catalog.regclass::text,
              'comment', pg_catalog.obj_description(con.oid, 'pg_constraint')) AS props
       FROM pg_catalog.pg_constraint con
       LEFT JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
       LEFT JOIN pg_catalog.pg_type ty ON ty.oid = con.contypid
       JOIN pg_catalog.pg_namespace n ON n.oid = coalesce(c.relnamespace, ty.typnamespace)
      WHERE ${USER_SCHEMA} AND (c.relkind IN ('r', 'p') OR con.contypid <> 0)
        AND (con.contype <> 'n' OR ${sameVersion && version >= 180000})
        -- the copies of a foreign key that references a partitioned table are named by the server
        AND (con.contype <> 'f' OR con.conparentid = 0 OR ${sameVersion})
        AND ${NOT_EXTENSION('pg_catalog.pg_type', 'con.contypid')}`,
    // indexes
    `SELECT 'index ' || ${tableName} AS object,
            jsonb_build_object('definition', pg_catalog.pg_get_indexdef(c.oid), 'valid', i.indisvalid,
              -- pg_get_indexdef leaves out a column's operator class when it is its type's default: which
              -- class that is depends on what the server holds
              'operator classes', (SELECT string_agg(pg_catalog.quote_ident(ocn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname), ',' ORDER BY k)
                                     FROM generate_subscripts(i.indclass, 1) k JOIN pg_catalog.pg_opclass oc ON oc.oid = i.indclass[k]
                                     JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace),
              'clustered', i.indisclustered, 'replica identity', i.indisreplident,
              'attached to', (SELECT inh.inhparent::pg_catalog.regclass::text FROM pg_catalog.pg_inherits inh WHERE inh.inhrelid = c.oid),
              'statistics', (SELECT string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                              WHERE a.attrelid = c.oid AND a.attstattarget > 0),
              'comment', pg_catalog.obj_description(c.oid, 'pg_class')) AS props
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_class', 'i.indrelid')}`,
    // triggers (not the internal ones of foreign keys)
    `SELECT 'trigger ' || ${tableName} || '.' || pg_catalog.quote_ident(tg.tgname) AS object,
            jsonb_build_object('definition', pg_catalog.pg_get_triggerdef(tg.oid), 'enabled', tg.tgenabled,
              ${v13 ? `'clone', tg.tgparentid <> 0,` : ''}
              'comment', pg_catalog.obj_description(tg.oid, 'pg_trigger')) AS props
       FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT tg.tgisinternal AND ${USER_SCHEMA}
        ${version < 150000 && server >= 150000 ? `AND tg.tgparentid = 0 -- before 15, a partition's copy of a trigger is internal` : ''}`,
    // rules
    `SELECT 'rule ' || ${tableName} || '.' || pg_catalog.quote_ident(r.rulename) AS object,
            jsonb_build_object('definition', pg_catalog.pg_get_ruledef(r.oid), 'enabled', r.ev_enabled,
              'comment', pg_catalog.obj_description(r.oid, 'pg_rewrite')) AS props
       FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE r.rulename <> '_RETURN' AND ${USER_SCHEMA}`,
    // policies
    `SELECT 'policy ' || ${tableName} || '.' || pg_catalog.quote_ident(p.polname) AS object,
            jsonb_build_object('permissive', p.polpermissive, 'command', p.polcmd,
              'roles', (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::pg_catalog.regrole::text END, ',' ORDER BY 1) FROM unnest(p.polroles) r),
              'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
              'comment', pg_catalog.obj_description(p.oid, 'pg_policy')) AS props
       FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA}`,
    // sequences, with their state
    `SELECT 'sequence ' || ${tableName} AS object,
            jsonb_build_object('type', s.seqtypid::pg_catalog.regtype::text, 'start', s.seqstart, 'increment', s.seqincrement,
              'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle, 'persistence', c.relpersistence,
              'owned by', (SELECT d.refobjid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(a.attname) || ' (' || d.deptype::text || ')'
                             FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                            WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')),
              'comment', pg_catalog.obj_description(c.oid, 'pg_class')) AS props
       FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA}`,
    // types
    `SELECT 'type ' || t.oid::pg_catalog.regtype::text AS object,
            jsonb_build_object('kind', t.typtype,
              'labels', (SELECT string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
              'base', CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
              'default', t.typdefault, 'not null', t.typnotnull,
              'collation', CASE WHEN t.typcollation <> 0 THEN ${COLLATION('t.typcollation')} END,
              'range', (SELECT jsonb_build_object('subtype', r.rngsubtype::pg_catalog.regtype::text, 'opclass', (SELECT opc.opcname FROM pg_catalog.pg_opclass opc WHERE opc.oid = r.rngsubopc),
                          'collation', ${COLLATION('r.rngcollation')}, 'subdiff', r.rngsubdiff::pg_catalog.regproc::text
                          ${v14 ? `, 'multirange', r.rngmultitypid::pg_catalog.regtype::text` : ''})
                          FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
              'base', CASE WHEN t.typtype = 'b' THEN jsonb_build_object(
                        'input', t.typinput::pg_catalog.regproc::text, 'output', t.typoutput::pg_catalog.regproc::text,
                        'receive', t.typreceive::pg_catalog.regproc::text, 'send', t.typsend::pg_catalog.regproc::text,
                        'typmod in', t.typmodin::pg_catalog.regproc::text, 'typmod out', t.typmodout::pg_catalog.regproc::text,
                        'analyze', t.typanalyze::pg_catalog.regproc::text,
                        ${v14 ? `'subscript', to_jsonb(t) ->> 'typsubscript',` : ''}
                        'length', t.typlen, 'by value', t.typbyval, 'alignment', t.typalign, 'storage', t.typstorage,
                        'category', t.typcategory, 'preferred', t.typispreferred, 'delimiter', t.typdelim,
                        'element', nullif(t.typelem, 0)::pg_catalog.regtype::text, 'collatable', t.typcollation <> 0) END,
              'comment', pg_catalog.obj_description(t.oid, 'pg_type')) AS props
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
      WHERE ${USER_SCHEMA} AND t.typtype IN ('e', 'd', 'r', 'c', 'b'${v14 ? `, 'm'` : ''}) AND (t.typtype <> 'c' OR c.relkind = 'c')
        AND t.typelem = 0 AND ${NOT_EXTENSION('pg_catalog.pg_type', 't.oid')}`,
    // functions
    `SELECT 'function ' || p.oid::pg_catalog.regprocedure::text AS object,
            jsonb_build_object('definition', ${sameVersion ? `CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END` : `p.prosrc`},
              'comment', pg_catalog.obj_description(p.oid, 'pg_proc')) AS props
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_proc', 'p.oid')}
        -- a range type's constructors come with it (and its multirange's, from 14)
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                         AND d.objid = p.oid AND d.deptype = 'i')`,
    // collations
    `SELECT 'collation ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(co.collname) AS object,
            jsonb_build_object('provider', co.collprovider, 'deterministic', co.collisdeterministic,
              'locale', coalesce(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale', CASE WHEN co.collprovider = 'i' THEN co.collcollate END),
              'lc_collate', CASE WHEN co.collprovider = 'c' THEN co.collcollate::text END,
              'lc_ctype', CASE WHEN co.collprovider = 'c' THEN co.collctype::text END,
              'rules', to_jsonb(co) ->> 'collicurules',
              'comment', pg_catalog.obj_description(co.oid, 'pg_collation')) AS props
       FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_collation', 'co.oid')}`,
    // text search configurations with their mappings (token type: dictionaries in order), dictionaries,
    // templates and parsers
    `SELECT 'text search configuration ' || ${TS_NAME('n', 'cfg.cfgname')} AS object,
            jsonb_build_object('parser', (SELECT ${TS_NAME('pn', 'p.prsname')} FROM pg_catalog.pg_ts_parser p
                                            JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace WHERE p.oid = cfg.cfgparser),
              'mappings', (SELECT jsonb_object_agg(tt.alias, m.dictionaries)
                             FROM (SELECT cm.maptokentype, jsonb_agg(${TS_NAME('dn', 'd.dictname')} ORDER BY cm.mapseqno) AS dictionaries
                                     FROM pg_catalog.pg_ts_config_map cm JOIN pg_catalog.pg_ts_dict d ON d.oid = cm.mapdict
                                     JOIN pg_catalog.pg_namespace dn ON dn.oid = d.dictnamespace
                                    WHERE cm.mapcfg = cfg.oid GROUP BY cm.maptokentype) m
                             JOIN pg_catalog.ts_token_type(cfg.cfgparser) tt ON tt.tokid = m.maptokentype),
              'comment', pg_catalog.obj_description(cfg.oid, 'pg_ts_config')) AS props
       FROM pg_catalog.pg_ts_config cfg JOIN pg_catalog.pg_namespace n ON n.oid = cfg.cfgnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_ts_config', 'cfg.oid')}`,
    `SELECT 'text search dictionary ' || ${TS_NAME('n', 'd.dictname')} AS object,
            jsonb_build_object('template', (SELECT ${TS_NAME('tn', 't.tmplname')} FROM pg_catalog.pg_ts_template t
                                              JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace WHERE t.oid = d.dicttemplate),
              'options', d.dictinitoption, 'comment', pg_catalog.obj_description(d.oid, 'pg_ts_dict')) AS props
       FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_ts_dict', 'd.oid')}`,
    `SELECT 'text search template ' || ${TS_NAME('n', 't.tmplname')} AS object,
            jsonb_build_object('init', nullif(t.tmplinit, 0)::pg_catalog.regprocedure::text,
              'lexize', t.tmpllexize::pg_catalog.regprocedure::text,
              'comment', pg_catalog.obj_description(t.oid, 'pg_ts_template')) AS props
       FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_ts_template', 't.oid')}`,
    `SELECT 'text search parser ' || ${TS_NAME('n', 'p.prsname')} AS object,
            jsonb_build_object('start', p.prsstart::pg_catalog.regprocedure::text, 'gettoken', p.prstoken::pg_catalog.regprocedure::text,
              'end', p.prsend::pg_catalog.regprocedure::text, 'headline', nullif(p.prsheadline, 0)::pg_catalog.regprocedure::text,
              'lextypes', p.prslextype::pg_catalog.regprocedure::text,
              'comment', pg_catalog.obj_description(p.oid, 'pg_ts_parser')) AS props
       FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_ts_parser', 'p.oid')}`,
    // schemas
    `SELECT 'schema ' || pg_catalog.quote_ident(n.nspname) AS object,
            jsonb_build_object('comment', pg_catalog.obj_description(n.oid, 'pg_namespace')) AS props
       FROM pg_catalog.pg_namespace n WHERE ${USER_SCHEMA}`,
    // extensions
    `SELECT 'extension ' || pg_catalog.quote_ident(x.extname) AS object,
            jsonb_build_object('schema', n.nspname) AS props
       FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'`,
    // operators, and operator classes with their members (an index on one sorts or matches by them)
    `SELECT 'operator ' || o.oid::pg_catalog.regoperator::text AS object,
            jsonb_build_object('function', o.oprcode::pg_catalog.regproc::text,
              'commutator', nullif(o.oprcom, 0)::pg_catalog.regoperator::text, 'negator', nullif(o.oprnegate, 0)::pg_catalog.regoperator::text,
              'restrict', o.oprrest::pg_catalog.regproc::text, 'join', o.oprjoin::pg_catalog.regproc::text,
              'hashes', o.oprcanhash, 'merges', o.oprcanmerge, 'comment', pg_catalog.obj_description(o.oid, 'pg_operator')) AS props
       FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_operator', 'o.oid')}`,
    `SELECT 'operator class ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(oc.opcname) || ' using ' || am.amname AS object,
            jsonb_build_object('type', oc.opcintype::pg_catalog.regtype::text, 'default', oc.opcdefault,
              'family', (SELECT pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.opfname) FROM pg_catalog.pg_opfamily f
                          JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace WHERE f.oid = oc.opcfamily),
              'operators', (SELECT string_agg(a.amopstrategy || ' ' || a.amopopr::pg_catalog.regoperator::text, ', ' ORDER BY a.amopstrategy, a.amopopr::pg_catalog.regoperator::text)
                              FROM pg_catalog.pg_amop a WHERE a.amopfamily = oc.opcfamily),
              'functions', (SELECT string_agg(p.amprocnum || ' ' || p.amproc::pg_catalog.regprocedure::text, ', ' ORDER BY p.amprocnum, p.amproc::pg_catalog.regprocedure::text)
                              FROM pg_catalog.pg_amproc p WHERE p.amprocfamily = oc.opcfamily),
              'comment', pg_catalog.obj_description(oc.oid, 'pg_opclass')) AS props
       FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_namespace n ON n.oid = oc.opcnamespace
       JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod
      WHERE ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_opclass', 'oc.oid')}`,
    // access methods made with CREATE ACCESS METHOD (they belong to the database, not to a schema)
    `SELECT 'access method ' || pg_catalog.quote_ident(am.amname) AS object,
            jsonb_build_object('type', am.amtype, 'handler', am.amhandler::pg_catalog.regproc::text,
              'comment', pg_catalog.obj_description(am.oid, 'pg_am')) AS props
       FROM pg_catalog.pg_am am WHERE am.oid >= 16384 AND ${NOT_EXTENSION('pg_catalog.pg_am', 'am.oid')}`,
    // extended statistics
    `SELECT 'statistics ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(s.stxname) AS object,
            jsonb_build_object('definition', pg_catalog.pg_get_statisticsobjdef(s.oid),
              -- ALTER STATISTICS … SET STATISTICS (from 13; -1 before 17 and NULL from 17 both mean the default)
              'statistics target', nullif(to_jsonb(s) ->> 'stxstattarget', '-1'),
              'comment', pg_catalog.obj_description(s.oid, 'pg_statistic_ext')) AS props
       FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace WHERE ${USER_SCHEMA}`,
  ]
}

/** The state of every sequence, read one by one (a sequence's state is not in the catalog). */
async function sequenceStates(client: pg.Client): Promise<Map<string, Record<string, unknown>>> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'S' AND ${USER_SCHEMA}`,
  )
  const states = new Map<string, Record<string, unknown>>()
  for (const { name } of rows) {
    const state = await client.query(`SELECT last_value::text AS last_value, is_called FROM ${name}`)
    states.set(`sequence state ${name}`, state.rows[0] as Record<string, unknown>)
  }
  return states
}

/**
 * A row's text form. `ROW(alias.*)`, not `alias::text`: a bare name means a column before it means a table,
 * so with a column of the alias' name that would be the column's text.
 */
const ROW_TEXT = `ROW(whole_row.*)::text`

interface TableData {
  readonly rows: number
  readonly hash: string
}

/**
 * Count and order-independent hash of each ordinary table's own rows (FROM ONLY: not its children's), and
 * of each populated materialized view's.
 */
async function tableData(client: pg.Client): Promise<Map<string, TableData>> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
        AND ${USER_SCHEMA} AND ${NOT_EXTENSION('pg_catalog.pg_class', 'c.oid')}
      ORDER BY 1`,
  )
  const data = new Map<string, TableData>()
  for (const { name } of tables) {
    const { rows } = await client.query<{ rows: string; hash: string }>(
      `SELECT count(*)::text AS rows,
              coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint::numeric), 0)::text || ':' ||
              coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint::numeric), 0)::text AS hash
         FROM (SELECT md5(${ROW_TEXT}) AS h FROM ONLY ${name} AS whole_row) AS hashed`,
    )
    data.set(name, { rows: Number(rows[0]!.rows), hash: rows[0]!.hash })
  }
  return data
}

/** Every row's hash and the start of its text form, to name the rows that differ. */
async function rowSamples(
  client: pg.Client,
  table: string,
): Promise<Map<string, { text: string; count: number }>> {
  const { rows } = await client.query<{ h: string; text: string; n: string }>(
    `SELECT md5(${ROW_TEXT}) AS h, left(${ROW_TEXT}, 160) AS text, count(*)::text AS n FROM ONLY ${table} AS whole_row GROUP BY 1, 2`,
  )
  return new Map(rows.map((r) => [r.h, { text: r.text, count: Number(r.n) }]))
}

/** The full text form of the one row of `mine` that `theirs` lacks. */
async function rowText(
  client: pg.Client,
  table: string,
  mine: Map<string, unknown>,
  theirs: Map<string, unknown>,
): Promise<string> {
  const hash = [...mine.keys()].find((h) => !theirs.has(h))
  const { rows } = await client.query<{ text: string }>(
    `SELECT ${ROW_TEXT} AS text FROM ONLY ${table} AS whole_row WHERE md5(${ROW_TEXT}) = $1 LIMIT 1`,
    [hash],
  )
  return rows[0]?.text ?? ''
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  for (const setting of SETTINGS) await client.query(setting)
  return client
}

async function describe(client: pg.Client, queries: string[]): Promise<Map<string, Record<string, unknown>>> {
  const objects = new Map<string, Record<string, unknown>>()
  for (const query of queries) {
    const { rows } = await client.query<{ object: string; props: Record<string, unknown> }>(query)
    for (const row of rows) objects.set(row.object, row.props)
  }
  for (const [key, state] of await sequenceStates(client)) objects.set(key, state)
  return objects
}

const show = (value: unknown): string => (value === undefined ? 'absent' : JSON.stringify(value))

export async function compareDatabases(sourceUrl: string, targetUrl: string): Promise<Comparison> {
  const source = await connect(sourceUrl)
  const target = await connect(targetUrl)
  try {
    const version = async (client: pg.Client) =>
      Number(
        (await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v,
      )
    const [sourceVersion, targetVersion] = [await version(source), await version(target)]
    const older = Math.min(sourceVersion, targetVersion)
    const same = Math.floor(sourceVersion / 10000) === Math.floor(targetVersion / 10000)
    const [sourceObjects, targetObjects] = [
      await describe(source, describeQueries(sourceVersion, older, same)),
      await describe(target, describeQueries(targetVersion, older, same)),
    ]
    const differences: string[] = []
    for (const [object, props] of sourceObjects) {
      const other = targetObjects.get(object)
      if (!other) {
        differences.push(`${object}: missing on the target`)
        continue
      }
      for (const field of new Set([...Object.keys(props), ...Object.keys(other)])) {
        if (JSON.stringify(props[field]) !== JSON.stringify(other[field]))
          differences.push(
            `${object}: ${field} is ${show(props[field])} on the source but ${show(other[field])} on the target`,
          )
      }
    }
    for (const object of targetObjects.keys()) {
      if (!sourceObjects.has(object)) differences.push(`${object}: on the target only`)
    }

    const [sourceData, targetData] = [await tableData(source), await tableData(target)]
    let rows = 0
    for (const [table, data] of sourceData) {
      rows += data.rows
      const other = targetData.get(table)
      if (!other) continue // reported as a missing table above
      if (other.rows === data.rows && other.hash === data.hash) continue
      const [a, b] = [await rowSamples(source, table), await rowSamples(target, table)]
      const only = (x: typeof a, y: typeof a) =>
        [...x].flatMap(([h, r]) => {
          const missing = r.count - (y.get(h)?.count ?? 0)
          return missing > 0 ? [`${missing > 1 ? `${missing} × ` : ''}${r.text}`] : []
        })
      const [onlySource, onlyTarget] = [only(a, b), only(b, a)]
      let where = ''
      if (onlySource.length === 1 && onlyTarget.length === 1) {
        // One row changed: show where its text forms part.
        const [x, y] = [await rowText(source, table, a, b), await rowText(target, table, b, a)]
        let at = 0
        while (at < x.length && x[at] === y[at]) at++
        const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 30), at + 30))
        where = `; they part at character ${at}: ${around(x)} on the source, ${around(y)} on the target`
      }
      differences.push(
        `rows of ${table} differ (${data.rows} on the source, ${other.rows} on the target): ` +
          `only on the source: ${onlySource.slice(0, 3).join(' | ') || 'none'}; ` +
          `only on the target: ${onlyTarget.slice(0, 3).join(' | ') || 'none'}${where}`,
      )
    }
    return { differences, objects: sourceObjects.size, tables: sourceData.size, rows }
  } finally {
    await Promise.all([source.end(), target.end()])
  }
}
