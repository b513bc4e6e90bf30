/**
 * "Did you mean …?" for a misspelt key or name: the candidate that differs by a case slip, else the one at
 * the smallest optimal-string-alignment distance (Levenshtein plus the transposition of two adjacent
 * characters: `prot` → `port` is 1), when that distance is small for the word's length.
 */

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++) {
    const row = d[i] as number[];
    const above = d[i - 1] as number[];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[s.length] as number[])[t.length] as number;
}

/**
 * The candidate `word` most likely stands for, or undefined when none is close: a case-insensitive match
 * first, else the nearest within 1 edit (words up to 4 characters), 2 (up to 8) or 3 (longer).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const same = list.find((c) => c.toLowerCase() === word.toLowerCase());
  if (same !== undefined) return same;
  const limit = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of list) {
    const d = distance(word, candidate);
    if (d <= limit && (best === undefined || d < best.distance)) best = { candidate, distance: d };
  }
  return best?.candidate;
}

/** ` (did you mean 'port'?)`, or "" when no candidate is close (see {@link closest}). */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates);
  return match === undefined ? "" : ` (did you mean '${match}'?)`;
}

/** `unknown key 'prot' (did you mean 'port'?)`, `unknown keys 'a', 'b'`: each key with its own suggestion. */
export function unknownKeysMessage(keys: readonly string[], known: Iterable<string>): string {
  const list = [...known];
  return `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `'${k}'${didYouMean(k, list)}`).join(", ")}`;
}
