import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, type Stats } from "node:fs";

/**
 * Owner-only folders and files for what orgbox keeps on disk: the SQLite store (it holds the
 * token-signing private keys), its `-wal`/`-shm` companions, and the local CA's private keys.
 * Folders are `0700`, files `0600`. A folder or file from an older build (created `0755`/`0644`)
 * is tightened on start when the current user owns it, and reported; one owned by someone else
 * is reported and left alone (only its owner or root can change it).
 *
 * POSIX only: on Windows (no `process.getuid`) modes are not meaningful and nothing is checked.
 */

/** Folder mode: owner read/write/search only. */
export const PRIVATE_DIR_MODE = 0o700;
/** File mode: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/** Receives one sentence per permission that was tightened or could not be. */
export type PermissionReport = (message: string) => void;

const posix = (): boolean => typeof process.getuid === "function";

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Tightens `path` to `mode` when group/others have any access and we own it; else reports. */
function tighten(path: string, stats: Stats, mode: number, report: PermissionReport): void {
  if (!posix() || (stats.mode & 0o077) === 0) return;
  const shown = (stats.mode & 0o777).toString(8).padStart(4, "0");
  if (stats.uid === process.getuid?.()) {
    chmodSync(path, mode);
    report(`tightened ${path} from ${shown} to ${mode.toString(8).padStart(4, "0")} (it holds secrets; created by an older orgbox)`);
  } else {
    report(`${path} is ${shown} and owned by uid ${stats.uid}, not by this user: other local users may read the secrets in it; run chmod ${mode.toString(8)} on it as its owner`);
  }
}

/**
 * Creates `dir` (and missing parents) as `0700`, or tightens an existing one (see the module comment).
 * @throws when the folder cannot be created.
 */
export function ensurePrivateDir(dir: string, report: PermissionReport): void {
  const stats = statOrUndefined(dir);
  if (!stats) {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return;
  }
  if (stats.isDirectory()) tighten(dir, stats, PRIVATE_DIR_MODE, report);
}

/**
 * Creates `file` empty as `0600` when missing (so that a program that then opens it, such as
 * SQLite, keeps that mode), or tightens an existing one. A symbolic link is left alone.
 * @throws when the file cannot be created.
 */
export function ensurePrivateFile(file: string, report: PermissionReport): void {
  const stats = statOrUndefined(file);
  if (!stats) {
    closeSync(openSync(file, "a", PRIVATE_FILE_MODE));
    return;
  }
  if (stats.isFile()) tighten(file, stats, PRIVATE_FILE_MODE, report);
}

/** Tightens `file` when it exists (never creates it). */
export function tightenIfPresent(file: string, report: PermissionReport): void {
  const stats = statOrUndefined(file);
  if (stats?.isFile()) tighten(file, stats, PRIVATE_FILE_MODE, report);
}
