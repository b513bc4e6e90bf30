import type { Clock } from "../common/clock.ts";
import { verifyPassword } from "../common/secrets.ts";
import { AadError, aad, aadTimestamp } from "./errors.ts";
import type { SignInLockoutStore } from "./store.ts";

/**
 * Smart lockout (learn.microsoft.com/entra/identity/authentication/howto-password-smart-lockout):
 * after `threshold` wrong passwords in a row a user is locked for `durationSeconds`; while locked,
 * every password sign-in fails with AADSTS50053, the right password included. When the lock has
 * passed, the right password signs in and clears the count; another wrong one locks again at once
 * (Entra: "the account locks again after each subsequent failed sign-in attempt").
 */
export interface LockoutPolicy {
  /** Wrong passwords in a row that lock the user; 0 turns lockout off. Entra's default: 10. */
  threshold: number;
  /** How long a lock lasts, seconds. Entra's default: 60. */
  durationSeconds: number;
}

/** Entra's defaults: 10 failures, 60 seconds. */
export const DEFAULT_LOCKOUT: LockoutPolicy = { threshold: 10, durationSeconds: 60 };

/** The outcome of {@link checkPassword}. */
export type PasswordCheck = { ok: true } | { ok: false; error: AadError };

/**
 * AADSTS50053 (`IdsLocked`, reference-error-codes) with Entra's wording, plus how long the lock
 * lasts and the settings that change it, so a test suite that trips it knows what to do.
 * @param lockedUntil ms since the epoch (UTC).
 */
function accountLocked(policy: LockoutPolicy, lockedUntil: number): AadError {
  return new AadError(
    50053,
    "invalid_grant",
    `The account is locked, you've tried to sign in too many times with an incorrect user ID or password. ` +
      `orgbox locks a user for ${policy.durationSeconds} seconds after ${policy.threshold} wrong passwords in a row (until ${aadTimestamp(lockedUntil)}); ` +
      `change it with lockoutThreshold (ORGBOX_LOCKOUT_THRESHOLD, --lockout-threshold; 0 turns lockout off) and lockoutDurationSeconds (ORGBOX_LOCKOUT_DURATION, --lockout-duration).`,
  );
}

/**
 * Verifies a user's password under the lockout policy: a locked user fails with 50053 before the
 * password is looked at; a wrong password counts (and may lock: the failure that locks answers
 * 50126, as Entra, and the next attempt 50053); the right one clears the count.
 * Lockout state lives in the store (`users.failed_sign_ins`, `locked_until`), never in a cache.
 */
export async function checkPassword(deps: { store: SignInLockoutStore; clock: Clock; lockout: LockoutPolicy }, user: { id: string; passwordHash: string }, password: string): Promise<PasswordCheck> {
  const { store, clock, lockout } = deps;
  const enabled = lockout.threshold > 0;
  const state = enabled ? await store.findSignInLockout(user.id) : { failedSignIns: 0, lockedUntil: null };
  if (state.lockedUntil !== null && state.lockedUntil > clock.now()) return { ok: false, error: accountLocked(lockout, state.lockedUntil) };
  if (!(await verifyPassword(password, user.passwordHash))) {
    if (enabled) await store.recordFailedSignIn(user.id, lockout.threshold, clock.now() + lockout.durationSeconds * 1000);
    return { ok: false, error: aad.invalidCredentials() };
  }
  if (state.failedSignIns > 0 || state.lockedUntil !== null) await store.clearFailedSignIns(user.id);
  return { ok: true };
}

/** What the sign-in page shows a locked user: Entra's page text, then the AADSTS50053 details. */
export function lockedPageMessage(error: AadError): string {
  return `Your account is temporarily locked to prevent unauthorized use. Try again later, and if you still have trouble, contact your admin. (${error.message})`;
}
