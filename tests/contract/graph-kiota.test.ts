/**
 * Issue 14: orgbox's Graph surface with the Kiota-based Microsoft Graph SDK (`@microsoft/msgraph-sdk`
 * 1.0.0-preview, its `GraphRequestAdapter`, `@microsoft/kiota-authentication-azure` with
 * @azure/identity's ClientSecretCredential). No request-builder package (`@microsoft/msgraph-sdk-users`,
 * `@microsoft/msgraph-sdk-organization`, …) is installed here, so the tests drive Kiota's own
 * `RequestInformation` + `adapter.send` path, as those builders do, with the SDK's model parsers and
 * serializers (`@microsoft/msgraph-sdk/models`) and its ODataError mapping: this proves Kiota's
 * authentication (allowed hosts, HTTPS, the `.default` scope), JSON (de)serialization of Graph models,
 * `@odata.nextLink` paging with msgraph-sdk-core's PageIterator, and error mapping against orgbox.
 */
import { ClientSecretCredential } from "@azure/identity";
import { Headers, HttpMethod, RequestInformation, type ErrorMappings, type Parsable, type ParsableFactory, type SerializationWriter } from "@microsoft/kiota-abstractions";
import { AzureIdentityAuthenticationProvider } from "@microsoft/kiota-authentication-azure";
import { GraphRequestAdapter, createGraphServiceClient } from "@microsoft/msgraph-sdk";
import { PageIterator, type PageCollection } from "@microsoft/msgraph-sdk-core";
import {
  createApplicationCollectionResponseFromDiscriminatorValue,
  createApplicationFromDiscriminatorValue,
  createOrganizationCollectionResponseFromDiscriminatorValue,
  createPasswordCredentialFromDiscriminatorValue,
  createServicePrincipalFromDiscriminatorValue,
  createUserCollectionResponseFromDiscriminatorValue,
  serializeApplication,
  serializePasswordCredential,
  serializeServicePrincipal,
  type Application,
  type ApplicationCollectionResponse,
  type OrganizationCollectionResponse,
  type UserCollectionResponse,
  type PasswordCredential,
  type ServicePrincipal,
} from "@microsoft/msgraph-sdk/models/index.js";
import { createODataErrorFromDiscriminatorValue, type ODataError } from "@microsoft/msgraph-sdk/models/oDataErrors/index.js";
import { describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const GRAPH_DEFAULT = "https://graph.microsoft.com/.default";
/** Graph's error answers become the SDK's ODataError, as the generated request builders map them. */
const ERRORS: ErrorMappings = { XXX: createODataErrorFromDiscriminatorValue };

/** The Kiota Graph adapter as the README configures it: `baseUrl` on orgbox, orgbox's host name allowed for the token. */
function kiotaAdapter(o: OrgboxInstance, clientId: string = DEMO.graphAdmin.clientId, secret: string = DEMO.graphAdmin.clientSecret, allowedHosts: Set<string> = new Set([new URL(o.url).hostname])): GraphRequestAdapter {
  const credential = new ClientSecretCredential(o.tenantId, clientId, secret, { authorityHost: o.url, disableInstanceDiscovery: true });
  const adapter = new GraphRequestAdapter(new AzureIdentityAuthenticationProvider(credential, [GRAPH_DEFAULT], undefined, allowedHosts));
  adapter.baseUrl = `${o.url}/graph/v1.0`;
  return adapter;
}

/** A request as Kiota's generated builders build one: a URI template over `{+baseurl}`, query parameters by their encoded names. */
function request(adapter: GraphRequestAdapter, method: HttpMethod, template: string, pathParameters: Record<string, string> = {}, query: Record<string, string | number | string[]> = {}): RequestInformation {
  const info = new RequestInformation(method, `{+baseurl}${template}`, { baseurl: adapter.baseUrl, ...pathParameters });
  Object.assign(info.queryParameters, query);
  info.headers.tryAdd("Accept", "application/json");
  return info;
}

/** `adapter.send` with the SDK's error mapping, typed as the generated builders type it (the model factories are not generic). */
function send<T extends Parsable>(adapter: GraphRequestAdapter, info: RequestInformation, factory: ParsableFactory<Parsable>): Promise<T | undefined> {
  return adapter.send<T>(info, factory as ParsableFactory<T>, ERRORS);
}

/** The ODataError a rejected Kiota call throws (fails the test if it resolves). */
async function odataError(call: Promise<unknown>): Promise<ODataError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  return error as ODataError;
}

/** The body of `POST applications/{id}/addPassword` (the SDK's request-body model for it lives in a request-builder package, not installed here). */
interface AddPasswordBody extends Parsable {
  passwordCredential: PasswordCredential;
}
function serializeAddPassword(writer: SerializationWriter, body?: Partial<AddPasswordBody> | null): void {
  writer.writeObjectValue<PasswordCredential>("passwordCredential", body?.passwordCredential, serializePasswordCredential);
}

describe("Graph with the Kiota-based SDK (@microsoft/msgraph-sdk)", () => {
  const orgbox = useOrgbox();

  it("createGraphServiceClient keeps an adapter baseUrl set to orgbox", () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o);
    createGraphServiceClient(adapter);
    expect(adapter.baseUrl).toBe(`${o.url}/graph/v1.0`);
    expect(new URL(o.url).protocol).toBe("https:");
  });

  it("the Graph admin app: list applications, create one, PATCH it, addPassword; the new secret gets tokens at once", async () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o);

    const list = await send<ApplicationCollectionResponse>(adapter, request(adapter, HttpMethod.GET, "/applications{?%24select,%24filter}", {}, { "%24select": ["id", "appId", "displayName"], "%24filter": `appId eq '${DEMO.app.clientId}'` }), createApplicationCollectionResponseFromDiscriminatorValue);
    expect(list?.value?.map((a) => ({ appId: a.appId, displayName: a.displayName }))).toEqual([{ appId: DEMO.app.clientId, displayName: "orgbox demo integration" }]);
    expect(list?.additionalData?.["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#applications(id,appId,displayName)`);

    const create = request(adapter, HttpMethod.POST, "/applications");
    create.setContentFromParsable<Application>(adapter, "application/json", { displayName: "Kiota Sync", signInAudience: "AzureADMyOrg", web: { redirectUris: ["https://kiota.contoso.example/signin-oidc"] } }, serializeApplication);
    const app = await send<Application>(adapter, create, createApplicationFromDiscriminatorValue);
    expect(app).toMatchObject({ displayName: "Kiota Sync", signInAudience: "AzureADMyOrg", publisherDomain: DEMO.tenantDomain, isFallbackPublicClient: false, web: { redirectUris: ["https://kiota.contoso.example/signin-oidc"] } });
    expect(app?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(app?.appId).toMatch(/^[0-9a-f-]{36}$/);
    expect(app?.createdDateTime).toBeInstanceOf(Date);

    const patch = request(adapter, HttpMethod.PATCH, "/applications/{application%2Did}", { "application%2Did": app?.id as string });
    patch.setContentFromParsable<Application>(adapter, "application/json", { isFallbackPublicClient: true }, serializeApplication);
    await adapter.sendNoResponseContent(patch, ERRORS);

    const addPassword = request(adapter, HttpMethod.POST, "/applications/{application%2Did}/addPassword", { "application%2Did": app?.id as string });
    addPassword.setContentFromParsable<AddPasswordBody>(adapter, "application/json", { passwordCredential: { displayName: "kiota", endDateTime: new Date("2030-01-01T00:00:00Z") } }, serializeAddPassword);
    const secret = await send<PasswordCredential>(adapter, addPassword, createPasswordCredentialFromDiscriminatorValue);
    expect(secret).toMatchObject({ displayName: "kiota", endDateTime: new Date("2030-01-01T00:00:00Z") });
    expect(secret?.secretText).toMatch(/.{30,}/);
    expect(secret?.hint).toBe(secret?.secretText?.slice(0, 3));
    expect(secret?.keyId).toMatch(/^[0-9a-f-]{36}$/);

    const read = await send<Application>(adapter, request(adapter, HttpMethod.GET, "/applications/{application%2Did}", { "application%2Did": app?.id as string }), createApplicationFromDiscriminatorValue);
    expect(read?.isFallbackPublicClient).toBe(true);
    // A stored secret reads back without its text (Kiota reads Graph's `"secretText": null` as undefined).
    expect(read?.passwordCredentials?.map((p) => ({ keyId: p.keyId, hint: p.hint, secretText: p.secretText ?? null }))).toEqual([{ keyId: secret?.keyId, hint: secret?.hint, secretText: null }]);

    // Graph's POST /applications creates no service principal; POST /servicePrincipals (through Kiota too) does.
    const createSp = request(adapter, HttpMethod.POST, "/servicePrincipals");
    createSp.setContentFromParsable<ServicePrincipal>(adapter, "application/json", { appId: app?.appId as string }, serializeServicePrincipal);
    const sp = await send<ServicePrincipal>(adapter, createSp, createServicePrincipalFromDiscriminatorValue);
    expect(sp?.appId).toBe(app?.appId);

    const credential = new ClientSecretCredential(o.tenantId, app?.appId as string, secret?.secretText as string, { authorityHost: o.url, disableInstanceDiscovery: true });
    const { token } = await credential.getToken(`${o.orgUrl}/.default`);
    expect(JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()).appid).toBe(app?.appId);
  });

  it("reads the organization and lists users with $select", async () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o);
    const orgs = await send<OrganizationCollectionResponse>(adapter, request(adapter, HttpMethod.GET, "/organization"), createOrganizationCollectionResponseFromDiscriminatorValue);
    expect(orgs?.value).toHaveLength(1);
    expect(orgs?.value?.[0]?.id).toBe(o.tenantId);
    expect(orgs?.value?.[0]?.verifiedDomains?.map((d) => d.name)).toContain(DEMO.tenantDomain);

    const users = await send<UserCollectionResponse>(adapter, request(adapter, HttpMethod.GET, "/users{?%24select}", {}, { "%24select": ["id", "userPrincipalName", "displayName"] }), createUserCollectionResponseFromDiscriminatorValue);
    expect(users?.value?.length).toBeGreaterThan(0);
    for (const user of users?.value ?? []) {
      expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(user.userPrincipalName).toMatch(/@/);
      expect(user.mail).toBeUndefined();
    }
  });

  it("pages applications through @odata.nextLink with msgraph-sdk-core's PageIterator", async () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o);
    for (let i = 0; i < 5; i++) {
      const create = request(adapter, HttpMethod.POST, "/applications");
      create.setContentFromParsable<Application>(adapter, "application/json", { displayName: `Kiota Pager ${i}` }, serializeApplication);
      await send<Application>(adapter, create, createApplicationFromDiscriminatorValue);
    }
    // $filter with $orderby is an advanced query: ConsistencyLevel on every page, $count on the first.
    const headers = new Headers();
    headers.add("ConsistencyLevel", "eventual");
    const firstRequest = request(adapter, HttpMethod.GET, "/applications{?%24count,%24filter,%24top,%24orderby}", {}, { "%24count": "true", "%24filter": "startswith(displayName,'Kiota Pager')", "%24top": 2, "%24orderby": ["displayName"] });
    firstRequest.headers.add("ConsistencyLevel", "eventual");
    const first = await send<ApplicationCollectionResponse>(adapter, firstRequest, createApplicationCollectionResponseFromDiscriminatorValue);
    expect(first?.odataCount).toBe(5);
    expect(first?.odataNextLink).toMatch(new RegExp(`^${o.url}/graph/v1\\.0/applications\\?`));
    const names: string[] = [];
    const iterator = new PageIterator<Application>(
      adapter,
      first as PageCollection<Application>,
      (a) => {
        names.push(a.displayName ?? "");
        return true;
      },
      createApplicationCollectionResponseFromDiscriminatorValue as ParsableFactory<PageCollection<Application>>,
      ERRORS,
      { headers },
    );
    await iterator.iterate();
    expect(names).toEqual(["Kiota Pager 0", "Kiota Pager 1", "Kiota Pager 2", "Kiota Pager 3", "Kiota Pager 4"]);
    expect(iterator.getPagingState()).toBe("Complete");
  });

  it("errors map to the SDK's ODataError: 404 for an unknown application, 403 for an app without Graph permissions", async () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o);
    const missing = await odataError(send<Application>(adapter, request(adapter, HttpMethod.GET, "/applications/{application%2Did}", { "application%2Did": "00000000-0000-4000-8000-00000000dead" }), createApplicationFromDiscriminatorValue));
    expect(missing.responseStatusCode).toBe(404);
    expect(missing.errorEscaped?.code).toBe("Request_ResourceNotFound");
    expect(missing.errorEscaped?.innerError?.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const demo = kiotaAdapter(o, DEMO.app.clientId, DEMO.app.clientSecret);
    const denied = await odataError(send<ApplicationCollectionResponse>(demo, request(demo, HttpMethod.GET, "/applications"), createApplicationCollectionResponseFromDiscriminatorValue));
    expect(denied.responseStatusCode).toBe(403);
    expect(denied.errorEscaped?.code).toBe("Authorization_RequestDenied");
    expect(denied.errorEscaped?.message).toContain("Application.Read.All");
  });

  it("without orgbox's host in allowed hosts Kiota sends no token, and orgbox answers 401 InvalidAuthenticationToken", async () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o, DEMO.graphAdmin.clientId, DEMO.graphAdmin.clientSecret, new Set(["graph.microsoft.com"]));
    const error = await odataError(send<ApplicationCollectionResponse>(adapter, request(adapter, HttpMethod.GET, "/applications"), createApplicationCollectionResponseFromDiscriminatorValue));
    expect(error.responseStatusCode).toBe(401);
    expect(error.errorEscaped?.code).toBe("InvalidAuthenticationToken");
  });

  it("a wrong client secret fails in @azure/identity with orgbox's AADSTS7000215 before any Graph call", async () => {
    const o = orgbox();
    const adapter = kiotaAdapter(o, DEMO.graphAdmin.clientId, "not-the-secret");
    const error = await odataError(send<ApplicationCollectionResponse>(adapter, request(adapter, HttpMethod.GET, "/applications"), createApplicationCollectionResponseFromDiscriminatorValue));
    expect(String((error as unknown as Error).message)).toContain("AADSTS7000215");
  });
});
