import { dirname, join } from "node:path";
import { Option, type Command } from "commander";
import { ConfigError } from "../common/errors.ts";
import { ensureCaBundle, ensureLocalTls } from "../common/tls.ts";
import { resolveConfig, type OrgboxConfig, type OrgboxConfigInput } from "../config/config.ts";

/**
 * `orgbox env`: the shell lines that send an unmodified app's traffic for the Microsoft host names through
 * orgbox's proxy and make its runtime trust orgbox's local CA, per runtime.
 */

/** One variable to set, with the runtimes that read it. */
export interface EnvLine {
  name: string;
  value: string;
  /** Who reads it (printed as a comment). */
  readBy: string;
}

/**
 * The variables for a proxy at `proxyUrl` and the local CA at `caCertPath` (`bundlePath`: Mozilla's roots plus that
 * CA, for the variables that replace a trust store rather than add to it). Sources: Node.js 24 `NODE_USE_ENV_PROXY`
 * (nodejs.org/api/cli.html#node_use_env_proxy1), `NODE_EXTRA_CA_CERTS`; requests' `REQUESTS_CA_BUNDLE` (used by Python
 * msal and az); OpenSSL's `SSL_CERT_FILE` (Python's ssl, .NET on Linux, Go); curl's `CURL_CA_BUNDLE`; Java's `JAVA_TOOL_OPTIONS`
 * (`https.proxyHost`/`https.proxyPort`, `javax.net.ssl.trustStore` of a PKCS#12 store made with keytool).
 */
export function proxyEnvironment(proxyUrl: string, caCertPath: string, bundlePath: string, javaTrustStore: string): EnvLine[] {
  const proxy = new URL(proxyUrl);
  return [
    { name: "HTTPS_PROXY", value: proxyUrl, readBy: "curl, Python requests/msal/az, .NET HttpClient, Go, Node.js 24 with NODE_USE_ENV_PROXY" },
    { name: "https_proxy", value: proxyUrl, readBy: "the lower-case spelling some tools read first (curl, wget)" },
    { name: "NO_PROXY", value: "localhost,127.0.0.1,::1", readBy: "orgbox's own URL stays direct" },
    { name: "NODE_USE_ENV_PROXY", value: "1", readBy: "Node.js 24+: fetch and https honour HTTPS_PROXY" },
    { name: "NODE_EXTRA_CA_CERTS", value: caCertPath, readBy: "Node.js: adds orgbox's CA" },
    { name: "REQUESTS_CA_BUNDLE", value: bundlePath, readBy: "Python requests, msal and az (replaces certifi's roots: this bundle has Mozilla's roots plus orgbox's CA)" },
    { name: "SSL_CERT_FILE", value: bundlePath, readBy: "OpenSSL's default trust store: Python ssl/httpx, Ruby, Go, .NET on Linux (replaces the system roots: same bundle)" },
    { name: "CURL_CA_BUNDLE", value: bundlePath, readBy: "curl (it does not read SSL_CERT_FILE): same bundle" },
    {
      name: "JAVA_TOOL_OPTIONS",
      value: `-Dhttps.proxyHost=${proxy.hostname} -Dhttps.proxyPort=${proxy.port} -Dhttp.nonProxyHosts=localhost|127.0.0.1 -Djavax.net.ssl.trustStore=${javaTrustStore} -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12`,
      readBy: `Java (JVM): first run keytool -importcert -noprompt -alias orgbox -file ${caCertPath} -keystore ${javaTrustStore} -storetype PKCS12 -storepass changeit (add the JDK's cacerts too for other hosts)`,
    },
  ];
}

/** Quotes `value` for a POSIX shell. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export NAME=value` lines (POSIX shells), each after a comment naming who reads it. */
export function formatPosix(lines: EnvLine[]): string {
  return lines.map((l) => `# ${l.readBy}\nexport ${l.name}=${shellQuote(l.value)}`).join("\n") + "\n";
}

/** `$env:NAME = 'value'` lines (PowerShell). */
export function formatPowerShell(lines: EnvLine[]): string {
  return lines.filter((l) => l.name !== "https_proxy").map((l) => `# ${l.readBy}\n$env:${l.name} = '${l.value.replace(/'/g, "''")}'`).join("\n") + "\n";
}

/** What `orgbox env` reads: where the proxy listens and where the CA is. */
export interface EnvCommandFlags {
  port?: string;
  proxyPort?: string;
  host?: string;
  data?: string;
  inMemory?: boolean;
  caDir?: string;
  config?: string;
  shell?: string;
  json?: boolean;
}

/** The proxy URL `orgbox start` with the same settings listens at. @throws ConfigError when the proxy is off, or HTTPS is. */
export function configuredProxyUrl(config: Pick<OrgboxConfig, "proxy" | "http" | "port" | "proxyPort" | "host">): string {
  if (!config.proxy) throw new ConfigError("the proxy is off (proxy: false / --no-proxy / ORGBOX_PROXY=false)");
  if (config.http) throw new ConfigError("the proxy needs HTTPS: it is off with --http");
  const port = config.proxyPort ?? (config.port === 0 || config.port === 65535 ? 0 : config.port + 1);
  if (port === 0) throw new ConfigError("the proxy port is chosen at start (port or proxyPort 0): read proxyUrl from `orgbox start --json`, or give --proxy-port");
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}

/** The variables for a running orgbox's proxy and CA (writes the CA bundle). */
export async function envLinesFor(proxyUrl: string, caCertPath: string, caCert: string): Promise<EnvLine[]> {
  const bundle = await ensureCaBundle({ caCertPath, caCert });
  return proxyEnvironment(proxyUrl, caCertPath, bundle, join(dirname(caCertPath), "truststore.p12"));
}

async function envCommand(flags: EnvCommandFlags): Promise<void> {
  const input: OrgboxConfigInput = {};
  if (flags.port !== undefined) input.port = flags.port;
  if (flags.proxyPort !== undefined) input.proxyPort = flags.proxyPort;
  if (flags.host !== undefined) input.host = flags.host;
  if (flags.data !== undefined) input.dataDir = flags.data;
  if (flags.inMemory) input.inMemory = true;
  if (flags.caDir !== undefined) input.caDir = flags.caDir;
  if (flags.config !== undefined) input.configFile = flags.config;
  const config = resolveConfig(input, process.env);
  const proxyUrl = configuredProxyUrl(config);
  const tls = await ensureLocalTls(config.caDir);
  const lines = await envLinesFor(proxyUrl, tls.caCertPath, tls.caCert);
  const json = flags.json === true || process.env.ORGBOX_JSON === "1" || process.env.ORGBOX_JSON === "true";
  if (json) process.stdout.write(`${JSON.stringify(Object.fromEntries(lines.map((l) => [l.name, l.value])))}\n`);
  else process.stdout.write(flags.shell === "powershell" ? formatPowerShell(lines) : formatPosix(lines));
}

/** Registers `orgbox env` on the program. */
export function registerEnvCommand(program: Command): void {
  program
    .command("env")
    .description("print the shell lines that send an app through orgbox's proxy (the real Microsoft host names) and trust its CA: eval \"$(orgbox env)\"")
    .option("--port <port>", "orgbox's port, as given to start (default 8443); env ORGBOX_PORT")
    .option("--proxy-port <port>", "the proxy's port, as given to start (default port + 1); env ORGBOX_PROXY_PORT")
    .option("--host <host>", "interface orgbox listens on (default 127.0.0.1); env ORGBOX_HOST")
    .option("--data <dir>", "data folder (its CA); env ORGBOX_DATA")
    .option("--in-memory", "the CA of an in-memory orgbox; env ORGBOX_IN_MEMORY")
    .option("--ca-dir <dir>", "folder of the local CA; env ORGBOX_CA_DIR")
    .option("--config <file>", "config or environment file; env ORGBOX_CONFIG")
    .addOption(new Option("--shell <shell>", "output syntax (default posix)").choices(["posix", "powershell"]))
    .option("--json", "one JSON object of the variables; env ORGBOX_JSON")
    .action(envCommand);
}
