import { CLOUD_GRAPH_URL, CLOUD_LOGIN_URL, CLOUD_STS_URL, currentCloudRequest } from "../common/cloud-hosts.ts";

/**
 * The URLs identity emits. `base` is `https://localhost:PORT` and is known only
 * once the listener is bound (port 0), hence a getter.
 *
 * While a request addressed to a Microsoft cloud host is served (through orgbox's proxy, see
 * `common/cloud-hosts.ts`), every URL carries the public cloud's values instead: the sign-in host the
 * client used (else `https://login.microsoftonline.com`), the v1 issuer `https://sts.windows.net/{tid}/`,
 * the v2 issuer `https://login.microsoftonline.com/{tid}/v2.0`, and Graph at `https://graph.microsoft.com`.
 */
export class IdentityUrls {
  private readonly baseUrl: () => string;

  constructor(baseUrl: () => string) {
    this.baseUrl = baseUrl;
  }

  /** `https://localhost:PORT`, or the cloud sign-in host serving the current request. */
  get base(): string {
    const cloud = currentCloudRequest();
    if (!cloud) return this.baseUrl();
    return cloud.kind === "login" ? `https://${cloud.host}` : CLOUD_LOGIN_URL;
  }
  /** orgbox's own base URL (`https://localhost:PORT`), whatever host the current request addressed. */
  get localBase(): string {
    return this.baseUrl();
  }
  /** True while a request addressed to a Microsoft cloud host name is served. */
  get cloud(): boolean {
    return currentCloudRequest() !== undefined;
  }
  /** v1 issuer, shaped like `https://sts.windows.net/{tid}/`. `{tenantid}` is allowed as a placeholder. */
  issuerV1(tid: string): string {
    return this.cloud ? `${CLOUD_STS_URL}/${tid}/` : `${this.baseUrl()}/sts/${tid}/`;
  }
  /** v2 issuer, shaped like `https://login.microsoftonline.com/{tid}/v2.0` (no trailing slash: openid-client compares exactly). */
  issuerV2(tid: string): string {
    return this.cloud ? `${CLOUD_LOGIN_URL}/${tid}/v2.0` : `${this.baseUrl()}/${tid}/v2.0`;
  }
  /**
   * Every issuer a token of tenant `tid` signed by this orgbox may carry: the v1 and v2 forms on
   * orgbox's own URL and on the cloud's (a token asked for through the proxy). What a resource
   * server verifying orgbox's tokens accepts; the signature is still checked with orgbox's keys.
   */
  acceptedIssuers(tid: string): string[] {
    return [`${this.baseUrl()}/sts/${tid}/`, `${this.baseUrl()}/${tid}/v2.0`, `${CLOUD_STS_URL}/${tid}/`, `${CLOUD_LOGIN_URL}/${tid}/v2.0`];
  }
  /** Authority for MSAL: `{base}/{tenant}`. */
  authority(tenant: string): string {
    return `${this.base}/${tenant}`;
  }
  /** Root of the Graph API, before the version: `{base}/graph`, or `https://graph.microsoft.com` for a cloud-host request. */
  get graphRoot(): string {
    return this.cloud ? CLOUD_GRAPH_URL : `${this.baseUrl()}/graph`;
  }
}
