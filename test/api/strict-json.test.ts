import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findUnsafeJson, MAX_JSON_DEPTH } from '../../api/strict-json.js';

function unsafeByHand(v: unknown, parentKey: string | undefined, depth: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (depth > MAX_JSON_DEPTH) return true;
  if (Array.isArray(v)) return v.some((x) => unsafeByHand(x, undefined, depth + 1));
  return Object.keys(v).some(
    (k) => k === '__proto__' || (k === 'prototype' && parentKey === 'constructor') || unsafeByHand((v as Record<string, unknown>)[k], k, depth + 1),
  );
}

describe('findUnsafeJson', () => {
  it('agrees with a by-hand walk on any JSON value, however it is spaced', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype', 'a"b', 'x\\', '\u00e9'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.constantFrom(undefined, 1, '\t'), (v, space) => {
        const text = JSON.stringify(v, null, space);
        // JSON.parse makes "__proto__" an own key, so the by-hand walk sees what the scanner must.
        expect(findUnsafeJson(text) !== undefined).toBe(unsafeByHand(JSON.parse(text), undefined, 1));
      }),
      { numRuns: 2_000 },
    );
  });

  it('finds duplicate keys, escaped forbidden keys and deep nesting, with a path', () => {
    expect(findUnsafeJson('{"a":1,"b":{"c":[1,{"d":1,"d":2}]}}')).toEqual({ path: 'b.c.1.d', message: expect.stringContaining('twice') });
    expect(findUnsafeJson('{"\\u005f_proto__":{}}')?.path).toBe('__proto__');
    expect(findUnsafeJson('{"x":{"constructor":{"prototype":{}}}}')?.path).toBe('x.constructor.prototype');
    expect(findUnsafeJson('{"constructor":1,"prototype":2}')).toBeUndefined();
    expect(findUnsafeJson('{"a":"}\\"{","b":"\\\\"}')).toBeUndefined();
    expect(findUnsafeJson(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).toBeUndefined();
    expect(findUnsafeJson(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`)?.message).toMatch(/deeper/);
  });
});
