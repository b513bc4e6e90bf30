/**
 * Base error for every typed error orgbox throws. Each surface (identity,
 * Dataverse) has one error hook that renders subclasses in its own wire format.
 *
 * Modelled on hono's `HTTPException`: the error carries its HTTP status, and the
 * surface decides the body.
 */
export class OrgboxError extends Error {
  /** HTTP status code to answer with. */
  readonly status: number;
  /** Extra response headers the surface should send with the error. */
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

/** Thrown at start-up when the configuration is invalid or inconsistent. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
