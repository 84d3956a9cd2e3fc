// Opaque page cursors for lists read newest first: the base64url of `<position>|<uuid>`, where
// the position is the sort key of the last item sent. Only a cursor this API could have made is
// accepted (it must encode back to the same text), so nothing odd reaches PostgreSQL.
import { z } from 'zod';

const uuid = z.uuid();

export function toPositionCursor(position: string, id: string): string {
  return Buffer.from(`${position}|${id}`).toString('base64url');
}

/** A cursor schema; `isPosition` says whether a decoded position is one the list produces. */
export function positionCursorSchema(isPosition: (position: string) => boolean) {
  return z
    .string()
    .max(200)
    .transform((text, context) => {
      const [position = '', id = '', ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
      if (rest.length > 0 || !isPosition(position) || !uuid.safeParse(id).success || toPositionCursor(position, id) !== text) {
        context.addIssue({ code: 'custom', message: 'is not a cursor returned by this API' });
        return z.NEVER;
      }
      return { position, id };
    });
}

/** Opaque cursors for lists read in key order: the base64url of the JSON array of the last item's key. */
export function toKeyCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/**
 * A key cursor schema; `read` turns a decoded key into the position (undefined: not one this
 * list makes). As for position cursors, the text must be exactly what toKeyCursor wrote.
 */
export function keyCursorSchema<T>(read: (key: unknown[]) => T | undefined) {
  return z
    .string()
    .max(2000)
    .transform((text, context) => {
      let key: unknown;
      try {
        key = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
      } catch {
        key = undefined;
      }
      const position = Array.isArray(key) ? read(key) : undefined;
      if (position === undefined || toKeyCursor(key as (string | number)[]) !== text) {
        context.addIssue({ code: 'custom', message: 'is not a cursor returned by this API' });
        return z.NEVER;
      }
      return position;
    });
}
