/**
 * Where a received file lives: first a temporary file beside its destination (created
 * exclusively, mode 0600), renamed to its final name only once size and digest are
 * verified — so a partial or unverified file never appears under the final name. The
 * final name never replaces an existing file: `name (1).ext`, `name (2).ext`, … are
 * tried instead (unless the caller asked to overwrite a path it chose itself).
 */
import { constants, type FileHandle, link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { systemError } from "./errors.js";
import { entryOf, numberedName, partialName, safeFileName } from "./safe-name.js";

/** How many numbered alternatives are tried before giving up. */
const MAX_ALTERNATIVES = 1000;

export interface Destination {
  readonly dir: string;
  /** A safe name (see safeFileName), or the basename of a path the caller chose. */
  readonly name: string;
  /** Replace an existing file of that name (only for a path the caller named). */
  readonly overwrite: boolean;
}

export class PartialFile {
  readonly path: string;
  readonly destination: Destination;
  #handle: FileHandle | undefined;
  #removed = false;

  private constructor(path: string, destination: Destination, handle: FileHandle) {
    this.path = path;
    this.destination = destination;
    this.#handle = handle;
  }

  /** Creates the temporary file; a storage error says why it cannot be. */
  static async create(destination: Destination): Promise<PartialFile> {
    const dir = resolve(destination.dir);
    const path = entryOf(dir, partialName(destination.name));
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
      const handle = await open(path, flags, 0o600);
      return new PartialFile(path, { ...destination, dir }, handle);
    } catch (error) {
      throw systemError("storage", `cannot create a file in ${dir}`, error);
    }
  }

  /** Appends all of `chunk`. */
  async write(chunk: Buffer): Promise<void> {
    const handle = this.#handle;
    if (!handle) throw new Error("the partial file is closed");
    try {
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
    } catch (error) {
      throw systemError("storage", `cannot write to ${this.path}`, error);
    }
  }

  /**
   * Flushes to the disk, closes, and gives the file its final name; returns that path.
   * A hard link claims the name atomically without replacing anything (EEXIST → next
   * alternative); where links are not possible, a rename after checking the name.
   */
  async store(): Promise<string> {
    const handle = this.#handle;
    if (!handle) throw new Error("the partial file is closed");
    try {
      await handle.sync();
      await handle.close();
      this.#handle = undefined;
    } catch (error) {
      throw systemError("storage", `cannot write to ${this.path}`, error);
    }
    const { dir, name, overwrite } = this.destination;
    if (overwrite) {
      const target = entryOf(dir, name);
      try {
        await rename(this.path, target);
      } catch (error) {
        throw systemError("storage", `cannot store ${target}`, error);
      }
      this.#removed = true;
      return target;
    }
    for (let n = 0; n < MAX_ALTERNATIVES; n++) {
      const target = entryOf(dir, numberedName(name, n));
      try {
        await link(this.path, target);
        this.#removed = true;
        await unlink(this.path).catch(() => {});
        return target;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") continue;
        if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EMLINK") {
          if (await exists(target)) continue;
          try {
            await rename(this.path, target);
          } catch (renameError) {
            throw systemError("storage", `cannot store ${target}`, renameError);
          }
          this.#removed = true;
          return target;
        }
        throw systemError("storage", `cannot store ${target}`, error);
      }
    }
    throw systemError(
      "storage",
      `no free name for ${name} in ${dir}`,
      Object.assign(new Error(), { code: "EEXIST" }),
    );
  }

  /** Closes and deletes the temporary file (idempotent; never throws). */
  async discard(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => {});
    if (this.#removed) return;
    this.#removed = true;
    await unlink(this.path).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    const handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    await handle.close();
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/** The destination for `{ dir }` or `{ path }` (see IncomingFileOffer.accept). */
export function destinationOf(
  target:
    | { readonly dir: string; readonly name?: string }
    | { readonly path: string; readonly overwrite?: boolean },
  safeName: string,
): Destination {
  if ("path" in target) {
    const path = resolve(target.path);
    return { dir: dirname(path), name: basename(path), overwrite: target.overwrite === true };
  }
  const name = target.name === undefined ? safeName : safeFileName(target.name);
  return { dir: resolve(target.dir), name, overwrite: false };
}
