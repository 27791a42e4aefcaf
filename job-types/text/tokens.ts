/**
 * Word tokens: runs of letters, marks and digits, lowercased; each Han, Hiragana or
 * Katakana character is a token of its own (those scripts do not separate words by
 * spaces, and a character is the cheapest honest unit).
 */
const TOKEN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*/gu;

export function tokenize(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

/** Code points, not UTF-16 units. */
export function countCharacters(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate starts a pair: count the pair once.
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/** Overlapping word n-grams (`a b c` → `a b`, `b c` for n = 2), joined by a space. */
export function ngrams(tokens: readonly string[], n: number): string[] {
  if (n <= 1) return [...tokens];
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  return out;
}
