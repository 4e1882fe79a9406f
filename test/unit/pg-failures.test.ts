/**
 * How the cluster tells database failures apart: postgres.js's unawaited array-types read
 * (ignored by the hub's entries and the test config, nothing else), a database down for every
 * hub (the lease rule keeps agents), and a connection that merely closed (says nothing).
 */
import { describe, expect, it } from 'vitest'
import { isArrayTypesFetchFailure } from '../../hub/pg/types-fetch.ts'
import { isConnectionClosed, isDatabaseDown } from '../../hub/pg/connect.ts'

/** The query string postgres.js 3.4.9 attaches (non-enumerable) to the error of its types read. */
const TYPES_QUERY = `
      select b.oid, b.typarray
      from pg_catalog.pg_type a
      left join pg_catalog.pg_type b on b.oid = a.typelem
      where a.typcategory = 'A'
      group by b.oid, b.typarray
      order by b.oid
    `
const withQuery = (err: Error, query: string) => Object.defineProperty(err, 'query', { value: query, enumerable: false })
const coded = (code: string) => Object.assign(new Error(code), { code })

describe('isArrayTypesFetchFailure', () => {
  it('is that rejection only', () => {
    expect(isArrayTypesFetchFailure(withQuery(coded('ECONNRESET'), TYPES_QUERY))).toBe(true)
    expect(isArrayTypesFetchFailure(withQuery(coded('ECONNRESET'), 'SELECT * FROM tasks'))).toBe(false)
    expect(isArrayTypesFetchFailure(coded('ECONNRESET'))).toBe(false)
    expect(isArrayTypesFetchFailure(new TypeError('x is undefined'))).toBe(false)
    expect(isArrayTypesFetchFailure(null)).toBe(false)
    expect(isArrayTypesFetchFailure('pg_catalog.pg_type typarray')).toBe(false)
  })
})

describe('isDatabaseDown and isConnectionClosed', () => {
  it('down: refused, shutting down, crashed, starting up', () => {
    for (const code of ['ECONNREFUSED', '57P01', '57P02', '57P03']) expect(isDatabaseDown(coded(code)), code).toBe(true)
    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'EHOSTUNREACH', 'CONNECTION_CLOSED', '23505']) expect(isDatabaseDown(coded(code)), code).toBe(false)
    expect(isDatabaseDown(null)).toBe(false)
  })

  it('closed: postgres.js closed, ended or destroyed the connection', () => {
    for (const code of ['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']) expect(isConnectionClosed(coded(code)), code).toBe(true)
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01']) expect(isConnectionClosed(coded(code)), code).toBe(false)
  })
})
