import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * Paths that must never reach a log line: credentials in headers and bodies.
 * Pino replaces them with "[redacted]".
 */
const REDACT = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "body.client_secret",
  "body.password",
  "body.client_assertion",
  "body.refresh_token",
  "body.code",
  "clientSecret",
  "password",
  "*.clientSecret",
  "*.password",
];

/**
 * Creates the process logger. Logs go to stderr so that `--json` keeps stdout
 * for the single ready line.
 */
export function createLogger(level: LevelWithSilent): Logger {
  return pino({ level, redact: { paths: REDACT, censor: "[redacted]" } }, pino.destination({ fd: 2, sync: false }));
}
