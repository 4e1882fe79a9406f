/**
 * The one rule for text PostgreSQL cannot hold (U+0000, a lone surrogate): what a sidecar
 * reports is stored with U+FFFD (storableText), a request holding it is refused (unstorablePath);
 * a task's result (storableFrame), like its input, is any JSON and kept exactly.
 * Both stores, end to end: test/behaviour/unstorable-text.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { storableFrame, storableText, unstorablePath } from '../../hub/tasks/outcome-text.ts'

describe('storableText', () => {
  it('replaces U+0000 in strings and keys, deep, and returns a value without one as it is', () => {
    const clean = { a: ['x', 1, null, { b: true }] }
    expect(storableText(clean)).toBe(clean)
    expect(storableText('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD')
    expect(storableText({ 'k\u0000': [{ v: '\u0000' }, 2] })).toEqual({ 'k\uFFFD': [{ v: '\uFFFD' }, 2] })
    expect(storableText(7)).toBe(7)
    // Too deep to walk (the result limit fails it): given back as it is, never a throw.
    let deep: unknown = 'x\u0000'
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    expect(storableText(deep)).toBe(deep)
    // Lone surrogates too (PostgreSQL refuses them as well); a well-formed pair stays.
    expect(storableText(['\ud800x', 'y\udc00', '\ud83d\ude00'])).toEqual(['\uFFFDx', 'y\uFFFD', '\ud83d\ude00'])
  })
})

describe('storableFrame', () => {
  it("keeps a task_complete's result exactly and replaces the rest; any other frame as storableText", () => {
    const result = { 'k\u0000': ['\ud800', 'a\u0000b'] }
    expect(storableFrame({ type: 'task_complete', task_id: 't\u0000', result })).toEqual({ type: 'task_complete', task_id: 't\uFFFD', result })
    expect(storableFrame({ type: 'task_failed', task_id: 't', error: 'e\u0000' })).toEqual({ type: 'task_failed', task_id: 't', error: 'e\uFFFD' })
    const clean = { type: 'task_complete', task_id: 't', result: 1 }
    expect(storableFrame(clean)).toEqual(clean)
  })
})

describe('unstorablePath', () => {
  it('names where a request holds U+0000 or a lone surrogate, in a value or a key; null when nowhere', () => {
    expect(unstorablePath({ a: ['x', 1, null, { b: '\ud83d\ude00 \ufffd \u0001' }] })).toBeNull()
    expect(unstorablePath('\u0000')).toEqual([])
    expect(unstorablePath({ a: ['x', { b: 'y\u0000' }] })).toEqual(['a', '1', 'b'])
    expect(unstorablePath({ a: { 'k\ud800': 1 } })).toEqual(['a', 'k\uFFFD'])
    expect(unstorablePath(['\udc00'])).toEqual(['0'])
    // Too deep to walk (the size checks refuse it): null, never a throw.
    let deep: unknown = 'x\u0000'
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    expect(unstorablePath(deep)).toBeNull()
  })
})
