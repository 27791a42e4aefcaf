/**
 * Cheap script and language detection: the dominant Unicode script of the letters,
 * then, for a few scripts, a guess at the language from stop-word hits (Latin,
 * Cyrillic) or from which scripts are mixed (Japanese kana, Korean Hangul). A hint,
 * not a language identifier: short or mixed texts get `und` (undetermined).
 */
const SCRIPTS = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Arabic', /\p{Script=Arabic}/u],
  ['Hebrew', /\p{Script=Hebrew}/u],
  ['Devanagari', /\p{Script=Devanagari}/u],
  ['Thai', /\p{Script=Thai}/u],
  ['Hangul', /\p{Script=Hangul}/u],
  ['Han', /\p{Script=Han}/u],
  ['Kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
] as const;

const STOP_WORDS: Record<string, readonly string[]> = {
  en: ['the', 'and', 'of', 'to', 'is', 'in', 'that', 'it', 'with', 'for', 'was', 'on', 'are', 'this', 'be'],
  de: ['der', 'die', 'und', 'das', 'ist', 'nicht', 'mit', 'sich', 'auf', 'ein', 'eine', 'den', 'zu', 'von', 'ich'],
  fr: ['le', 'la', 'les', 'et', 'des', 'est', 'une', 'dans', 'que', 'pour', 'pas', 'qui', 'sur', 'du', 'au'],
  es: ['el', 'la', 'los', 'y', 'que', 'del', 'las', 'una', 'por', 'con', 'para', 'es', 'se', 'lo', 'como'],
  it: ['il', 'di', 'che', 'e', 'la', 'della', 'per', 'una', 'sono', 'non', 'gli', 'del', 'con', 'nel', 'anche'],
  pt: ['o', 'de', 'que', 'e', 'do', 'da', 'em', 'um', 'para', 'com', 'não', 'uma', 'os', 'no', 'se'],
  nl: ['de', 'het', 'een', 'en', 'van', 'ik', 'te', 'dat', 'die', 'in', 'is', 'niet', 'op', 'zijn', 'met'],
  ru: ['и', 'в', 'не', 'на', 'что', 'он', 'с', 'как', 'это', 'по', 'но', 'из', 'его', 'то', 'все'],
  uk: ['і', 'в', 'не', 'на', 'що', 'з', 'як', 'це', 'та', 'до', 'але', 'й', 'його', 'від', 'ти'],
};
const STOP_SETS = Object.fromEntries(Object.entries(STOP_WORDS).map(([lang, words]) => [lang, new Set(words)]));
const LANGS_BY_SCRIPT: Record<string, readonly string[]> = {
  Latin: ['en', 'de', 'fr', 'es', 'it', 'pt', 'nl'],
  Cyrillic: ['ru', 'uk'],
};
const FIXED_LANG: Record<string, string> = { Greek: 'el', Hebrew: 'he', Thai: 'th', Hangul: 'ko', Kana: 'ja' };

/** How many letters to sample: enough for a verdict, cheap on a 1 MB text. */
const SAMPLE_LETTERS = 20_000;
const SAMPLE_TOKENS = 5_000;

export interface ScriptGuess {
  script: string;
  /** Share of the sampled letters in that script, 0..1. */
  scriptShare: number;
  /** BCP 47 primary tag, or `und`. */
  language: string;
  method: 'stop-words' | 'script' | 'none';
}

export function detectScript(text: string, tokens: readonly string[]): ScriptGuess {
  const counts = new Map<string, number>();
  let letters = 0;
  for (const ch of text) {
    if (letters >= SAMPLE_LETTERS) break;
    if (!/\p{L}/u.test(ch)) continue;
    letters++;
    const s = SCRIPTS.find(([, re]) => re.test(ch))?.[0] ?? 'Other';
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  if (letters === 0) return { script: 'none', scriptShare: 0, language: 'und', method: 'none' };
  const [script, n] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  const scriptShare = Math.round((n / letters) * 1000) / 1000;
  // Japanese mixes Han with kana; kana at all means Japanese, Han alone most likely Chinese.
  if ((script === 'Han' || script === 'Kana') && counts.has('Kana')) return { script, scriptShare, language: 'ja', method: 'script' };
  if (script === 'Han') return { script, scriptShare, language: 'zh', method: 'script' };
  const fixed = FIXED_LANG[script];
  if (fixed) return { script, scriptShare, language: fixed, method: 'script' };
  const candidates = LANGS_BY_SCRIPT[script];
  if (!candidates) return { script, scriptShare, language: 'und', method: 'none' };
  const hits = candidates.map((lang) => {
    const set = STOP_SETS[lang]!;
    let h = 0;
    for (let i = 0; i < tokens.length && i < SAMPLE_TOKENS; i++) if (set.has(tokens[i]!)) h++;
    return [lang, h] as const;
  });
  hits.sort((a, b) => b[1] - a[1]);
  const [best, second] = hits;
  // Too few hits, or a tie, says nothing.
  if (!best || best[1] < 2 || (second && second[1] === best[1])) return { script, scriptShare, language: 'und', method: 'stop-words' };
  return { script, scriptShare, language: best[0], method: 'stop-words' };
}
