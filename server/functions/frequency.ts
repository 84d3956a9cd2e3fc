// A sync's `frequency` phrase → milliseconds, as Nango reads it: "every " dropped,
// then `ms`'s grammar ("5 minutes", "1h", "2 days"); "hour", "day" alone mean one, "half hour"
// is 30 minutes. Bounds as Nango's: at least 30 seconds, at most 31 days.
import ms from 'ms';

export const MIN_FREQUENCY_MS = 30_000;
export const MAX_FREQUENCY_MS = 31 * 86_400_000;

/** The interval in ms, or a one-line reason the phrase is not a frequency. */
export function parseFrequency(phrase: string): { ok: true; ms: number } | { ok: false; reason: string } {
  let text = phrase.trim().toLowerCase().replace(/^every\s+/, '');
  text = text.replace(/^half (an )?hour$/, '30 minutes').replace(/^(a |an )/, '1 ');
  if (/^[a-z]+$/.test(text)) text = `1 ${text}`;
  let value: number | undefined;
  try {
    value = ms(text);
  } catch {
    // ms throws on an empty string.
    value = undefined;
  }
  if (value === undefined || !Number.isFinite(value) || value <= 0) return { ok: false, reason: `"${phrase}" is not a frequency (try "every 5 minutes", "every hour", "every day")` };
  if (value < MIN_FREQUENCY_MS) return { ok: false, reason: `"${phrase}" is more often than every 30 seconds` };
  if (value > MAX_FREQUENCY_MS) return { ok: false, reason: `"${phrase}" is less often than every 31 days` };
  return { ok: true, ms: value };
}
