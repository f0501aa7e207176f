// The architecture as a lint rule (npm run lint): no import cycles, and data flows down the folders of a
// run — a folder imports only the folders below it in LAYERS, never one above (docs/architecture.md).
const LAYERS = ['cli', 'demo', 'csv', 'run', 'steps', 'catalog', 'local', 'notify', 'report', 'config', 'db']

const upward = LAYERS.slice(1).map((layer, index) => ({
  name: `no-upward-import-from-${layer}`,
  comment: `src/${layer}/ may not import ${LAYERS.slice(0, index + 1).join(', ')}: they stand above it in a run`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(0, index + 1).join('|')})/` },
}))

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle: one of the two modules belongs in another place',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-upward-import-from-base',
      comment: 'src/*.ts (errors, files, format…) are the ground floor: they import no folder of src/',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/index\\.ts$' },
      to: { path: `^src/(${LAYERS.join('|')})/` },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
