import { randomUUID } from "node:crypto";

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A new random (v4) GUID, lower-case, as Entra and Dataverse emit them. */
export function newGuid(): string {
  return randomUUID();
}

/** True when `value` is a GUID in the 8-4-4-4-12 form (any case). */
export function isGuid(value: string): boolean {
  return GUID_RE.test(value);
}
