import { isGuid } from "../common/ids.ts";
import type { Application } from "./model.ts";
import type { ApplicationDirectory } from "./store.ts";

/**
 * Identifiers owned by resources that identity does not store itself, such as
 * Dataverse org URLs, which are identifiers of the first-party Dynamics CRM app
 * (`00000007-0000-0000-c000-000000000000`). The composition root implements it.
 */
export interface ResourceCatalog {
  /** The resource app id that owns `uri` (normalised: no trailing slash), if any. */
  appIdForIdentifier(uri: string): Promise<string | undefined>;
}

/** A resolved resource: the app, and the identifier exactly as the client sent it (becomes `aud`). */
export interface ResolvedResource {
  app: Application;
  identifier: string;
}

/**
 * Finds the resource app for `identifier`: an app id (GUID), an Application ID
 * URI (with or without a trailing slash), or a catalog identifier (org URL).
 */
export async function resolveResource(store: ApplicationDirectory, catalog: ResourceCatalog, identifier: string): Promise<ResolvedResource | undefined> {
  const trimmed = identifier.replace(/\/+$/, "");
  let app: Application | undefined;
  if (isGuid(trimmed)) app = await store.findApplicationByAppId(trimmed);
  app ??= (await store.findApplicationByIdentifierUri(trimmed)) ?? (await store.findApplicationByIdentifierUri(`${trimmed}/`));
  if (!app) {
    const appId = await catalog.appIdForIdentifier(trimmed);
    if (appId) app = await store.findApplicationByAppId(appId);
  }
  return app ? { app, identifier } : undefined;
}
