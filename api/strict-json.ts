/**
 * What JSON.parse lets through and we refuse: duplicate keys (JSON.parse silently keeps
 * the last, so two parsers could read one body two ways), `__proto__` and
 * `constructor.prototype` keys (prototype pollution in any consumer that merges the
 * value into an object), and nesting deep enough to overflow a recursive consumer.
 * Runs over text that JSON.parse has accepted, so it only tracks structure and keys.
 */
export const MAX_JSON_DEPTH = 64;

export interface UnsafeJson {
  path: string;
  message: string;
}

interface Frame {
  /** Keys seen so far in an object; null for an array. */
  keys: Set<string> | null;
  /** Where this container sits in its parent: a key or an array index. */
  at: string;
  expectKey: boolean;
  index: number;
}

function stringEnd(text: string, start: number): number {
  let j = start + 1;
  for (;;) {
    const k = text.indexOf('"', j);
    let backslashes = 0;
    for (let b = k - 1; text.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return k;
    j = k + 1;
  }
}

export function findUnsafeJson(text: string): UnsafeJson | undefined {
  const stack: Frame[] = [];
  let pendingKey: string | undefined;
  const pathOf = (last?: string) => [...stack.slice(1).map((f) => f.at), ...(last === undefined ? [] : [last])].join('.');
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 123 /* { */ || ch === 91 /* [ */) {
      const parent = stack.at(-1);
      const at = parent ? (parent.keys ? (pendingKey ?? '') : String(parent.index)) : '';
      stack.push({ keys: ch === 123 ? new Set() : null, at, expectKey: ch === 123, index: 0 });
      if (stack.length > MAX_JSON_DEPTH) return { path: pathOf(), message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
    } else if (ch === 125 /* } */ || ch === 93 /* ] */) {
      stack.pop();
    } else if (ch === 44 /* , */) {
      const top = stack.at(-1);
      if (top?.keys) top.expectKey = true;
      else if (top) top.index++;
    } else if (ch === 34 /* " */) {
      const end = stringEnd(text, i);
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (key === '__proto__') return { path: pathOf(key), message: 'the key "__proto__" is not allowed' };
        if (key === 'prototype' && top.at === 'constructor') return { path: pathOf(key), message: 'the key "constructor.prototype" is not allowed' };
        if (top.keys.has(key)) return { path: pathOf(key), message: `the key "${key}" appears twice in one object` };
        top.keys.add(key);
        top.expectKey = false;
        pendingKey = key;
      }
      i = end;
    }
  }
  return undefined;
}
