/**
 * Builds the `agentcom` command of the npm package: cli/agentcom.ts and everything it imports,
 * packages included, bundled into plain JavaScript under dist/package/ (not committed; `npm run
 * build`, and so `npm pack`, runs it). Only pm2 stays a package: its own binary is what the
 * sidecar and `agentcom join` run. Each verb is its own chunk, loaded when that verb runs, so
 * `agentcom sidecar` never loads the hub, nor a single hub the PostgreSQL client.
 */
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const ROOT = join(import.meta.dirname, '..')
export const PACKAGE_OUT = 'dist/package'

/**
 * Writes `<outDir>/agentcom.js` (the bin) and its chunks, reporting `version` (default
 * package.json's; the upgrade test builds a second version).
 */
export async function buildPackage(outDir: string, version = packageVersion()): Promise<void> {
  await rm(outDir, { recursive: true, force: true })
  await build({
    absWorkingDir: ROOT,
    entryPoints: { agentcom: 'cli/agentcom.ts' },
    outdir: outDir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    external: ['pm2', 'pm2/*', 'bufferutil', 'utf-8-validate'],
    platform: 'node',
    format: 'esm',
    target: 'node20.11',
    logLevel: 'warning',
    define: { AGENTCOM_BUILD_VERSION: JSON.stringify(version) },
    // ws and other CommonJS packages call require() for Node's own modules; an ES module has none.
    banner: {
      js: [
        '// Built by scripts/build-package.ts (npm run build, npm pack). Do not edit.',
        "import { createRequire as __agentcomCreateRequire } from 'node:module'",
        'const require = __agentcomCreateRequire(import.meta.url)',
      ].join('\n'),
    },
  })
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = performance.now()
  await buildPackage(join(ROOT, PACKAGE_OUT))
  process.stderr.write(`agentcom: built ${PACKAGE_OUT}/agentcom.js in ${(performance.now() - started).toFixed(0)} ms\n`)
}
