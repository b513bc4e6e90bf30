/**
 * The URLs identity emits. `base` is `https://localhost:PORT` and is known only
 * once the listener is bound (port 0), hence a getter.
 */
export class IdentityUrls {
  private readonly baseUrl: () => string;

  constructor(baseUrl: () => string) {
    this.baseUrl = baseUrl;
}

  get base(): string {
    return this.baseUrl();
  }
  /** v1 issuer, shaped like `https://sts.windows.net/{tid}/`. `{tenantid}` is allowed as a placeholder. */
  issuerV1(tid: string): string {
    return `${this.base}/sts/${tid}/`;
  }
  /** v2 issuer, shaped like `https://login.microsoftonline.com/{tid}/v2.0` (no trailing slash: openid-client compares exactly). */
  issuerV2(tid: string): string {
    return `${this.base}/${tid}/v2.0`;
  }
  /** Authority for MSAL: `{base}/{tenant}`. */
  authority(tenant: string): string {
    return `${this.base}/${tenant}`;
  }
}
