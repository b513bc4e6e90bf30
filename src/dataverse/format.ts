/** Formats a time as Dataverse does on the wire: UTC, second precision, `Z` (`2024-05-01T09:30:00Z`). */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
