import { constants } from "node:fs";
import { link, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Moves a finished temporary file into place: its data is flushed first and
 * the rename is atomic, so `target` is either the old file (or nothing) or the
 * whole new one, never half of it. Without `overwrite`, an existing target is
 * left alone and the error is EEXIST (link() refuses atomically where rename() would replace).
 */
export async function installFile(tempPath: string, target: string, overwrite: boolean): Promise<void> {
  const handle = await open(tempPath, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (overwrite) {
    await rename(tempPath, target);
  } else {
    await link(tempPath, target);
    await unlink(tempPath);
  }
  await syncDirectory(dirname(target));
}

/** Makes the rename itself durable. Some filesystems refuse to fsync a directory; the rename already happened, so that is not an error. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (err) {
    if (!["EINVAL", "EISDIR", "EPERM", "EBADF"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    await handle?.close();
  }
}
