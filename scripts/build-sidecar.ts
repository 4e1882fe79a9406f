/**
 * Builds what pm2 runs: sidecar/main.ts and the files it imports, bundled into one plain
 * JavaScript file, dist/sidecar.js (not committed). `npm install` runs it (the `prepare`
 * script), `npm run build` runs it again. `node --import tsx` costs every sidecar start and
 * restart about 26 MB and 260 ms; the built file costs neither. Packages stay imports of
 * node_modules, so the build holds only this repository's code.
 *
 * Beside the bundle, dist/sidecar.inputs.json records the sha256 of each source it was built
 * from, so sidecar/pm2-app.cjs can refuse to start a build older than its sources.
 */
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

export const ROOT = join(import.meta.dirname, '..')
export const SIDECAR_ENTRY = 'sidecar/main.ts'

/** The sha256 of each source file, by its path relative to the repository root. */
export type BuildInputs = Record<string, string>

const sha256 = (path: string) => createHash('sha256').update(readFileSync(join(ROOT, path))).digest('hex')

/** Writes `<outDir>/sidecar.js` and `<outDir>/sidecar.inputs.json`. */
export async function buildSidecar(outDir: string): Promise<BuildInputs> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [SIDECAR_ENTRY],
    outfile: join(outDir, 'sidecar.js'),
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
    banner: { js: '// Built from sidecar/main.ts by scripts/build-sidecar.ts (npm install, npm run build). Do not edit.' },
  })
  const inputs: BuildInputs = {}
  for (const path of Object.keys(result.metafile.inputs).sort()) inputs[path] = sha256(path)
  await mkdir(dirname(join(outDir, 'sidecar.inputs.json')), { recursive: true })
  await writeFile(join(outDir, 'sidecar.inputs.json'), `${JSON.stringify(inputs, null, 2)}\n`)
  return inputs
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = performance.now()
  const inputs = await buildSidecar(join(ROOT, 'dist'))
  process.stderr.write(`agentcom: built dist/sidecar.js from ${Object.keys(inputs).length} files in ${(performance.now() - started).toFixed(0)} ms\n`)
}
