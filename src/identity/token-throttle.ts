import type { Clock } from "../common/clock.ts";
import { aad } from "./errors.ts";

/**
 * Entra's throttling of token requests, as far as it is documented
 * (learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling, "Server throttling"):
 * an app calling the token endpoint too often is answered, for `client_credentials`, 429 with
 * `Retry-After: 60`, and for user-facing grants `invalid_grant` AADSTS50196 ("The server terminated an
 * operation because it encountered a loop while processing a request"). Entra publishes no threshold:
 * orgbox counts token requests per tenant and client in fixed one-minute windows and refuses those above
 * `requestsPerMinute` (config `tokenRequestsPerMinute`; off by default).
 */
export class TokenThrottle {
  private readonly limit: number;
  private readonly clock: Clock;
  private minute = -1;
  private readonly counts = new Map<string, number>();

  /** @param requestsPerMinute token requests per tenant and client in one minute (a positive integer). */
  constructor(requestsPerMinute: number, clock: Clock) {
    this.limit = requestsPerMinute;
    this.clock = clock;
  }

  /**
   * Counts one token request of `clientId` in `tenantId` (O(1); the counts reset each minute).
   * @throws AadError AADSTS50196: 429 with `Retry-After: 60` for `client_credentials`, 400 `invalid_grant` for other grants.
   */
  check(tenantId: string, clientId: string, grantType: string): void {
    const minute = Math.floor(this.clock.now() / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.counts.clear();
    }
    const key = `${tenantId}:${clientId.toLowerCase()}`;
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count <= this.limit) return;
    throw grantType === "client_credentials" ? aad.loopDetected({ status: 429, headers: { "retry-after": "60" } }) : aad.loopDetected();
  }
}
