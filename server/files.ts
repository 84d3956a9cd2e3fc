// Files written whole: the content goes to a staging file beside the target, which is then renamed
// over it. A process that dies halfway leaves no half file that would parse, and a reader sees the
// old content or the new, never a mix.
import { randomUUID } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

export async function writeFileWhole(file: string, content: string | Uint8Array): Promise<void> {
  // Unique per write: two writes of one file at once (two functions sharing a bundle) each rename
  // their own staging file instead of one truncating what the other is about to rename.
  const staging = `${file}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(staging, content);
    await rename(staging, file);
  } catch (error) {
    await rm(staging, { force: true }).catch(() => undefined);
    throw error;
  }
}
