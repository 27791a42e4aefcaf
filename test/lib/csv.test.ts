import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../cli/input-file.js';
import { csvField, csvRow } from '../../lib/csv.js';

describe('csv', () => {
  it('quotes only fields that need it and doubles their quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField(null)).toBe('');
    expect(csvField(3)).toBe('3');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('cr\r')).toBe('"cr\r"');
  });

  it('round-trips through an RFC 4180 parser', () => {
    const rows = [
      ['index', 'input', 'error'],
      ['0', '{"a":"x,y","q":"\\"z\\""}', 'multi\r\nline'],
      ['1', '', 'plain'],
    ];
    expect(parseCsv(rows.map((r) => csvRow(r)).join(''))).toEqual(rows);
  });
});
