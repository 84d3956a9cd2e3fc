// Redaction of everything a log stores: secret values (and their URL-encoded forms) become
// REDACTED wherever they appear; credential-bearing headers are always redacted.

export const REDACTED = 'REDACTED';

/** Headers whose values are credentials whatever they contain. */
const ALWAYS_REDACTED = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key']);

export interface Redactor {
  text(value: string): string;
  headers(headers: Record<string, string | string[] | undefined>): Record<string, string>;
}

export function createRedactor(secrets: readonly string[]): Redactor {
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (secret === '') continue;
    variants.add(secret);
    variants.add(encodeURIComponent(secret));
    variants.add(new URLSearchParams({ s: secret }).toString().slice(2)); // form encoding: spaces as '+'
  }
  // Longest first, so a secret containing another is replaced whole.
  const ordered = [...variants].sort((a, b) => b.length - a.length);
  const text = (value: string) => {
    let result = value;
    for (const secret of ordered) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    return result;
  };
  return {
    text,
    headers(headers) {
      const clean: Record<string, string> = {};
      for (const [rawName, value] of Object.entries(headers)) {
        if (value === undefined) continue;
        const name = rawName.toLowerCase();
        const joined = Array.isArray(value) ? value.join(', ') : value;
        clean[name] = ALWAYS_REDACTED.has(name) ? REDACTED : text(joined);
        if (clean[name] !== joined && !ALWAYS_REDACTED.has(name)) clean[name] = REDACTED;
      }
      return clean;
    },
  };
}
