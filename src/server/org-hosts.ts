import { ORG_HOST_RE } from "../common/cloud-hosts.ts";

/**
 * The cloud host name of each org (`https://{host}` is the org URL an app written for the cloud uses):
 * `{name}.crm.dynamics.com` unless the environment file's org definition names another (`hostName`,
 * e.g. `contoso.crm4.dynamics.com` for an org in EMEA). Each org also answers at the `api` form of its
 * host (`contoso.api.crm4.dynamics.com`), as Dataverse does. Built once at start; lookups are map reads.
 */
export class OrgHosts {
  private readonly hostByOrg = new Map<string, string>();
  private readonly orgByHost = new Map<string, string>();

  /**
   * Gives org `name` the host `hostName` (lower-cased) instead of `{name}.crm.dynamics.com`.
   * @throws Error when `hostName` is not a Dataverse org host or another org has it already.
   */
  define(name: string, hostName: string): void {
    const host = hostName.toLowerCase();
    const match = ORG_HOST_RE.exec(host);
    if (!match || match[2]) throw new Error(`org '${name}': host name '${hostName}' is not a Dataverse org host ({org}.crm.dynamics.com, or crm2…crm21)`);
    const taken = this.orgByHost.get(host);
    if (taken !== undefined && taken !== name) throw new Error(`org '${name}': host name '${hostName}' is already the host of org '${taken}'`);
    this.hostByOrg.set(name, host);
    this.orgByHost.set(host, name);
  }

  /** The org's host name: `{name}.crm.dynamics.com` unless defined otherwise. */
  hostOf(name: string): string {
    return this.hostByOrg.get(name) ?? `${name}.crm.dynamics.com`;
  }

  /**
   * The name of the org whose host (or its `api` form) is `host` (lower-case, no port), or undefined.
   * Whether that org exists is for the caller to check.
   */
  orgFor(host: string): string | undefined {
    const match = ORG_HOST_RE.exec(host);
    if (!match) return undefined;
    const primary = match[2] ? `${match[1]}.${match[3]}.dynamics.com` : host;
    const defined = this.orgByHost.get(primary);
    if (defined !== undefined) return defined;
    // The default rule: `{name}.crm.dynamics.com`, for an org not given another host.
    const name = match[1] as string;
    return match[3] === "crm" && /^[a-z][a-z0-9]{0,31}$/.test(name) && !this.hostByOrg.has(name) ? name : undefined;
  }

  /** The org's cloud URLs (no trailing slash): `https://{host}` and `https://{org}.api.{region}.dynamics.com`. */
  urlsOf(name: string): string[] {
    const host = this.hostOf(name);
    const dot = host.indexOf(".");
    return [`https://${host}`, `https://${host.slice(0, dot)}.api${host.slice(dot)}`];
  }
}
