import { envLinesFor } from "../../src/cli/env.ts";
import type { OrgboxInstance } from "../../src/index.ts";

/**
 * The environment of a child process that reaches orgbox only through its proxy: this process's environment without
 * any proxy or CA setting of the machine, plus the lines `orgbox env` prints (except Java's), plus the app's settings
 * (`TENANT_ID`, `CLIENT_ID`, `CLIENT_SECRET`, `ORG_URL` = the demo org's cloud URL) and `extra`.
 */
export async function proxiedEnv(o: OrgboxInstance, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  if (!o.proxyUrl || !o.caCertPath || !o.caCert) throw new Error("start orgbox with { proxy: true, proxyPort: 0 }");
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(https?_proxy|no_proxy|all_proxy|node_use_env_proxy|node_extra_ca_certs|requests_ca_bundle|ssl_cert_file|node_options)$/i.test(key)) env[key] = value;
  }
  for (const line of await envLinesFor(o.proxyUrl, o.caCertPath, o.caCert)) if (line.name !== "JAVA_TOOL_OPTIONS") env[line.name] = line.value;
  return { ...env, TENANT_ID: o.tenantId, CLIENT_ID: o.demo.clientId, CLIENT_SECRET: o.demo.clientSecret, ORG_URL: o.cloudOrgUrl, ...extra };
}
