/**
 * The suite's temporary files go into one directory per run (support/temp-global.ts), which the
 * run removes at its end: the tests, and the processes they start, see it as their TMPDIR.
 */
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { RUN_DIR } from '../../support/temp-global.ts'

describe('a test run', () => {
  it('keeps its temporary files in its own directory, the same for the processes it starts', () => {
    const runDir = process.env[RUN_DIR]
    expect(runDir).toMatch(/agentcom-run-/)
    expect(tmpdir()).toBe(runDir)
    // One directory for the whole run, not one inside another per project.
    expect(dirname(runDir!)).not.toMatch(/agentcom-run-/)
    const childTmp = execFileSync(process.execPath, ['-p', 'require("node:os").tmpdir()'], { encoding: 'utf8' }).trim()
    expect(childTmp).toBe(runDir)
  })
})
