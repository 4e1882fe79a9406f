/**
 * The package version this code runs as: baked into the built JavaScript by
 * scripts/build-package.ts (AGENTCOM_BUILD_VERSION), read from the repository's package.json when
 * run from the sources (tsx). A sidecar reports it at identify, so an upgrade can be checked.
 */
import { readFileSync } from 'node:fs'

declare const AGENTCOM_BUILD_VERSION: string | undefined

function sourceVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
}

export const AGENTCOM_VERSION: string = typeof AGENTCOM_BUILD_VERSION === 'string' ? AGENTCOM_BUILD_VERSION : sourceVersion()
