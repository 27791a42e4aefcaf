import { describe, expect, it } from 'vitest';
import { groupNearDuplicates } from '../../lib/signature-groups.js';

describe('groupNearDuplicates', () => {
  it('groups by MinHash agreement and by embedding cosine, transitively, leaving singletons out', () => {
    const base = Array.from({ length: 10 }, (_, i) => i);
    const groups = groupNearDuplicates([
      { id: 'a', minhash: base, embedding: null },
      { id: 'b', minhash: [...base.slice(0, 9), 99], embedding: null }, // 9/10 equal
      { id: 'c', minhash: [...base.slice(0, 8), 98, 99], embedding: null }, // 8/10 with a and b
      { id: 'd', minhash: base.map((x) => x + 50), embedding: null },
      { id: 'e', minhash: null, embedding: [1, 0, 0] },
      { id: 'f', minhash: null, embedding: [0.99, 0.05, 0] },
      { id: 'g', minhash: null, embedding: [0, 1, 0] },
    ]);
    expect(groups).toEqual([
      ['a', 'b', 'c'],
      ['e', 'f'],
    ]);
  });

  it('returns nothing for no documents', () => {
    expect(groupNearDuplicates([])).toEqual([]);
  });
});
