import type { KeyObject } from "node:crypto";
import { generateSigningKey, loadSigningKey, type PublicJwk, type SigningKey } from "../../common/keys.ts";
import type { Clock } from "../../common/clock.ts";
import type { SigningKeyStore } from "../store.ts";

/**
 * The token-signing keys, parsed once at start into `KeyObject`s.
 *
 * Published keys (JWKS) are all keys not yet retired, including one that is
 * published before it starts signing (rollover, per `signing-key-rollover.md`).
 * The signing key is the newest active one.
 */
export class KeyRing {
  private keys: SigningKey[] = [];
  private byKid = new Map<string, SigningKey>();
  private rotations: Promise<unknown> = Promise.resolve();

  private readonly store: SigningKeyStore;
  private readonly clock: Clock;

  constructor(store: SigningKeyStore, clock: Clock) {
    this.store = store;
    this.clock = clock;
}

  /** Loads keys from the store, creating the first one if there is none. */
  async load(): Promise<void> {
    let stored = await this.store.listSigningKeys();
    if (stored.length === 0) {
      const first = await generateSigningKey(this.clock.now());
      await this.store.addSigningKey(first);
      stored = [first];
    }
    this.keys = stored.map(loadSigningKey);
    this.byKid = new Map(this.keys.map((k) => [k.kid, k]));
  }

  /**
   * Reads the keys again, after another process on the store rotated them (or an offline
   * `orgbox keys rotate`): keys already parsed are kept, new ones parsed, removed ones dropped.
   * Waits for a rotation of this process in progress. Keeps the current set when the store has none.
   */
  async refresh(): Promise<void> {
    const run = this.rotations.then(async () => {
      const stored = await this.store.listSigningKeys();
      if (stored.length === 0) return;
      const next = stored.map((s) => {
        const known = this.byKid.get(s.kid);
        return known && known.activatesAt === s.activatesAt ? (known.retiresAt === s.retiresAt ? known : { ...known, retiresAt: s.retiresAt }) : loadSigningKey(s);
      });
      this.keys = next;
      this.byKid = new Map(next.map((k) => [k.kid, k]));
    });
    this.rotations = run.catch(() => undefined);
    return run;
  }

  /** When the newest key was created (ms since the epoch, UTC). */
  newestCreatedAt(): number {
    return Math.max(...this.keys.map((k) => k.createdAt));
  }

  /**
   * Starts a signing-key rollover (learn.microsoft.com/entra/identity-platform/signing-key-rollover):
   * a new key is published now and signs from `now + activateAfterSeconds`. Keys
   * published before it keep verifying until tokens they signed have expired:
   * they retire at activation + `tokenLifetimeSeconds` + 60 s (the verifier's skew);
   * a key already set to retire earlier keeps its date.
   * In-flight requests are unaffected: the key set is swapped in one assignment.
   * @returns the new key's `kid` and its activation and the old keys' retirement times (ms).
   */
  async rotate(options: { activateAfterSeconds: number; tokenLifetimeSeconds: number }): Promise<{ kid: string; activatesAt: number; previousRetireAt: number }> {
    if (!Number.isFinite(options.activateAfterSeconds) || options.activateAfterSeconds < 0) throw new RangeError("activateAfterSeconds must be a number of seconds ≥ 0");
    // One rotation at a time: each builds on the key set the previous one left.
    const run = this.rotations.then(() => this.rotateNow(options));
    this.rotations = run.catch(() => undefined);
    return run;
  }

  private async rotateNow(options: { activateAfterSeconds: number; tokenLifetimeSeconds: number }): Promise<{ kid: string; activatesAt: number; previousRetireAt: number }> {
    const now = this.clock.now();
    const activatesAt = now + Math.round(options.activateAfterSeconds * 1000);
    const retireAt = activatesAt + (options.tokenLifetimeSeconds + 60) * 1000;
    const fresh = await generateSigningKey(now, activatesAt);
    await this.store.addSigningKey(fresh);
    const next: SigningKey[] = [];
    for (const key of this.keys) {
      if (key.retiresAt === null || key.retiresAt > retireAt) {
        await this.store.retireSigningKey(key.kid, retireAt);
        next.push({ ...key, retiresAt: retireAt });
      } else {
        next.push(key);
      }
    }
    next.push(loadSigningKey(fresh));
    this.keys = next;
    this.byKid = new Map(next.map((k) => [k.kid, k]));
    return { kid: fresh.kid, activatesAt, previousRetireAt: retireAt };
  }

  /** The key that signs now. @throws when no key is active (cannot happen after {@link load}). */
  signingKey(): SigningKey {
    const now = this.clock.now();
    let best: SigningKey | undefined;
    for (const key of this.keys) {
      if (key.activatesAt <= now && (key.retiresAt === null || key.retiresAt > now) && (!best || key.activatesAt > best.activatesAt)) best = key;
    }
    if (!best) throw new Error("no active signing key");
    return best;
  }

  /** Public key for `kid` while it is published, else undefined. */
  publicKey(kid: string): KeyObject | undefined {
    const key = this.byKid.get(kid);
    if (!key) return undefined;
    if (key.retiresAt !== null && key.retiresAt <= this.clock.now()) return undefined;
    return key.publicKey;
  }

  /** The JWKS `keys` array. */
  jwks(issuer?: string): PublicJwk[] {
    const now = this.clock.now();
    return this.keys.filter((k) => k.retiresAt === null || k.retiresAt > now).map((k) => (issuer ? { ...k.jwk, issuer } : k.jwk));
  }
}
