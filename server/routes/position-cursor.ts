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
