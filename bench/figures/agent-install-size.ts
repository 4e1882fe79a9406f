/**
 * agent_install_size: what an agent machine installs, on disk: `npm install --omit=dev` of the
 * packed tarball into an empty folder, against `pm2` and `ws` alone (the least a pm2-supervised
 * WebSocket agent needs), installed the same way in the same run. `du -sk` of node_modules.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { cleanEnv, installPackage, packProject, ROOT } from '../../support/package.ts'
import { makeResult, type Result } from '../support/report.ts'

const run = promisify(execFile)

async function diskKiB(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sk', dir])
  return Number(stdout.split('\t')[0])
}

export async function agentInstallSize(_sizes: unknown, log: (line: string) => void): Promise<Result[]> {
  const work = await mkdtemp(join(tmpdir(), 'agentcom-bench-install-'))
  try {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    const pkgDir = join(work, 'package')
    await installPackage(pkgDir, await packProject(work))
    const bareDir = join(work, 'bare')
    await installPackage(bareDir, `pm2@${manifest.dependencies.pm2}`)
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', `ws@${manifest.devDependencies.ws}`], { cwd: bareDir, env: cleanEnv(), timeout: 180_000 })
    const [pkg, bare] = [await diskKiB(join(pkgDir, 'node_modules')), await diskKiB(join(bareDir, 'node_modules'))]
    log(`agent_install_size: package ${(pkg / 1024).toFixed(1)} MiB; pm2 + ws ${(bare / 1024).toFixed(1)} MiB`)
    return [makeResult({
      name: 'agent_install_size', unit: 'MiB', runtime: 'node',
      value: pkg / 1024,
      baseline: '`npm install --omit=dev pm2 ws` into an empty folder, same run', baseline_value: bare / 1024,
      detail: '`du -sk` of node_modules after `npm install --omit=dev <tarball>` into an empty folder',
    }, { kind: 'max', ratio: 1.3 })]
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
