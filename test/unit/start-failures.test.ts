/** hub/config/start-failures.ts: one line for what stops a hub's start, from Node's and Deno's errors alike. */
import { describe, expect, it } from 'vitest'
import { dataDirFailure, listenFailure } from '../../hub/config/start-failures.ts'

const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code })
const denoError = (name: string, message: string) => Object.assign(new Error(message), { name })

describe('start failures', () => {
  it('names the address a hub cannot listen on, and why', () => {
    const inUse = 'agentcom hub: cannot listen on 0.0.0.0:8787: the address is in use (another hub or process holds it; set PORT or HOST)'
    expect(listenFailure(nodeError('EADDRINUSE', 'listen EADDRINUSE'), '0.0.0.0', 8787)).toBe(inUse)
    expect(listenFailure(denoError('AddrInUse', 'Address already in use (os error 98)'), '0.0.0.0', 8787)).toBe(inUse)
    expect(listenFailure(nodeError('EACCES', 'listen EACCES'), '0.0.0.0', 80)).toMatch(/:80: permission denied/)
    expect(listenFailure(denoError('AddrNotAvailable', 'x'), '10.9.9.9', 1)).toMatch(/no such address \(set HOST\)$/)
  })

  it('leaves any other error alone', () => {
    expect(listenFailure(new Error('boom'), 'h', 1)).toBeNull()
    expect(listenFailure('EADDRINUSE', 'h', 1)).toBeNull()
    expect(dataDirFailure(nodeError('ENOSPC', 'no space left on device'), '/d')).toBeNull()
    expect(dataDirFailure(new TypeError('x'), '/d')).toBeNull()
  })

  it('names the data dir a hub cannot use, with the system\'s words', () => {
    expect(dataDirFailure(nodeError('EACCES', "EACCES: permission denied, mkdir '/d'"), '/d'))
      .toBe("AGENTCOM_DATA_DIR /d cannot be used: EACCES: permission denied, mkdir '/d'")
    expect(dataDirFailure(denoError('NotADirectory', 'Not a directory (os error 20)'), '/f/d'))
      .toBe('AGENTCOM_DATA_DIR /f/d cannot be used: Not a directory (os error 20)')
  })
})
