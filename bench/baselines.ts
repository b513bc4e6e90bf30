import type { AddressInfo } from "node:net";
import { DatabaseSync } from "node:sqlite";
import formbody from "@fastify/formbody";
import Fastify, { type FastifyInstance } from "fastify";

/** A baseline server: its URL and how to stop it. */
export interface Baseline {
  url: string;
  close(): Promise<void>;
}

/** TLS material shared with orgbox, so both pay for the same certificate chain. */
export interface BaselineTls {
  key: string;
  cert: string;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: "127.0.0.1" });
  return `https://localhost:${(app.server.address() as AddressInfo).port}`;
}

/**
 * The HTTP-overhead baseline of the token endpoint: bare Fastify over HTTPS
 * that parses the same form body and answers a constant JSON body (a real
 * token response captured from orgbox, so the bytes on the wire match).
 * No lookups, no hashing, no signing.
 */
export async function startTokenBaseline(tls: BaselineTls, constantBody: string): Promise<Baseline> {
  const app = Fastify({ https: { key: tls.key, cert: tls.cert } });
  await app.register(formbody);
  app.post("/:tenant/oauth2/v2.0/token", async (request, reply) => {
    const form = request.body as Record<string, string> | undefined;
    if (form?.grant_type !== "client_credentials") return reply.status(400).send({ error: "unsupported_grant_type" });
    return reply.header("cache-control", "no-store, no-cache").type("application/json; charset=utf-8").send(constantBody);
  });
  const url = await listen(app);
  return { url, close: () => app.close() };
}

/** The columns the Web API benchmark selects, in `$select` order. */
export const PAGE_COLUMNS = ["name", "accountnumber", "telephone1", "emailaddress1", "address1_city", "revenue", "numberofemployees", "industrycode", "creditonhold", "websiteurl"] as const;

/**
 * The Web API baseline: bare Fastify over HTTPS running one hand-written,
 * prepared SQL statement against orgbox's own SQLite file (opened read-only;
 * WAL lets it read while orgbox holds its connection) and shaping the rows like
 * orgbox's response (`@odata.etag`, the selected columns, the primary key).
 * No bearer check, no metadata, no OData parsing.
 * @param options.filterParentId optional `parentaccountid = ?` value, mirroring the `$filter` orgbox gets.
 * @param options.withCurrency also return `_transactioncurrencyid_value`, as Dataverse (and orgbox) do when a money column is selected.
 */
export async function startSqlBaseline(tls: BaselineTls, options: { file: string; table: string; top: number; filterParentId: string | undefined; withCurrency: boolean; contextUrl: string }): Promise<Baseline> {
  const db = new DatabaseSync(options.file, { readOnly: true });
  const where = options.filterParentId !== undefined ? "WHERE parentaccountid = ? " : "";
  const stmt = db.prepare(`SELECT ${PAGE_COLUMNS.join(", ")}, accountid, transactioncurrencyid, versionnumber FROM "${options.table}" ${where}ORDER BY accountid LIMIT ${options.top}`);
  const params = options.filterParentId !== undefined ? [options.filterParentId] : [];
  const app = Fastify({ https: { key: tls.key, cert: tls.cert } });
  app.get("/org/:org/api/data/:version/accounts", async (_request, reply) => {
    const rows = stmt.all(...params);
    const value = rows.map((r) => {
      const row: Record<string, unknown> = {
        "@odata.etag": `W/"${String(r.versionnumber)}"`,
        name: r.name,
        accountnumber: r.accountnumber,
        telephone1: r.telephone1,
        emailaddress1: r.emailaddress1,
        address1_city: r.address1_city,
        revenue: r.revenue === null ? null : Number(r.revenue),
        numberofemployees: r.numberofemployees,
        industrycode: r.industrycode,
        creditonhold: r.creditonhold === 1,
        websiteurl: r.websiteurl,
        accountid: r.accountid,
      };
      if (options.withCurrency) row._transactioncurrencyid_value = r.transactioncurrencyid;
      return row;
    });
    reply.type("application/json; odata.metadata=minimal; charset=utf-8");
    return { "@odata.context": options.contextUrl, value };
  });
  const url = await listen(app);
  return {
    url,
    close: async () => {
      await app.close();
      db.close();
    },
  };
}
