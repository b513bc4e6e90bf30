import type { KeyObject } from "node:crypto";
import { generateSigningKey, loadSigningKey, type PublicJwk, type SigningKey } from "../../common/keys.ts";
import type { Clock } from "../../common/clock.ts";
import type { IdentityStore } from "../store.ts";

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

  private readonly store: IdentityStore;
  private readonly clock: Clock;

  constructor(store: IdentityStore, clock: Clock) {
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
