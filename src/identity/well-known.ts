import type { Application } from "./model.ts";
import { GRAPH_APP_ROLES, GRAPH_DIRECTORY_SCOPES } from "./graph-permissions.ts";

/**
 * The tenant that owns Microsoft's first-party apps ("Microsoft Services").
 * First-party apps are registered there and get a service principal in each tenant.
 */
export const FIRST_PARTY_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/** App id of "Dynamics CRM" (Common Data Service); each org URL is one of its identifiers. */
export const DYNAMICS_CRM_APP_ID = "00000007-0000-0000-c000-000000000000";
/** App id of "Windows Azure Service Management API" (Azure Resource Manager): what `az login` asks a token for. */
export const AZURE_SERVICE_MANAGEMENT_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013";
/** App id of Microsoft Graph. */
export const MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
/** Directory role template id of Global Administrator (the `wids` value). */
export const GLOBAL_ADMINISTRATOR_ROLE = "62e90394-69f5-4237-9190-012177145e10";

const empty = { web: { redirectUris: [] }, spa: { redirectUris: [] }, publicClient: { redirectUris: [] }, isFallbackPublicClient: false, requiredResourceAccess: [], appRoles: [] };

/** The first-party resource apps every tenant can grant access to. */
export const FIRST_PARTY_APPS: Application[] = [
  {
    ...empty,
    id: "a3f5b0a6-6d1c-4d0c-9d0e-000000000007",
    appId: DYNAMICS_CRM_APP_ID,
    tenantId: FIRST_PARTY_TENANT_ID,
    displayName: "Dynamics CRM",
    signInAudience: "AzureADMultipleOrgs",
    identifierUris: [],
    publisherDomain: "microsoft.com",
    api: {
      oauth2PermissionScopes: [
        {
          id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4",
          value: "user_impersonation",
          adminConsentDisplayName: "Access Common Data Service as organization users",
          adminConsentDescription: "Allows the application to access Common Data Service acting as users in the organization.",
          type: "User",
        },
      ],
    },
  },
  {
    ...empty,
    id: "a3f5b0a6-6d1c-4d0c-9d0e-00000000a5a4",
    appId: AZURE_SERVICE_MANAGEMENT_APP_ID,
    tenantId: FIRST_PARTY_TENANT_ID,
    displayName: "Windows Azure Service Management API",
    signInAudience: "AzureADMultipleOrgs",
    identifierUris: ["https://management.core.windows.net/", "https://management.azure.com/"],
    publisherDomain: "microsoft.com",
    api: {
      oauth2PermissionScopes: [
        {
          id: "41094075-9dad-400e-a0bd-54e686782033",
          value: "user_impersonation",
          adminConsentDisplayName: "Access Azure Service Management as organization users (preview)",
          adminConsentDescription: "Allows the application to access the Azure Management Service API acting as users in the organization.",
          type: "User",
        },
      ],
    },
  },
  {
    ...empty,
    id: "a3f5b0a6-6d1c-4d0c-9d0e-000000000003",
    appId: MICROSOFT_GRAPH_APP_ID,
    tenantId: FIRST_PARTY_TENANT_ID,
    displayName: "Microsoft Graph",
    signInAudience: "AzureADMultipleOrgs",
    identifierUris: ["https://graph.microsoft.com"],
    publisherDomain: "microsoft.com",
    appRoles: GRAPH_APP_ROLES,
    api: {
      oauth2PermissionScopes: [
        { id: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", value: "User.Read", adminConsentDisplayName: "Sign in and read user profile", adminConsentDescription: "Allows users to sign-in to the app, and allows the app to read the profile of signed-in users.", type: "User" },
        { id: "37f7f235-527c-4136-accd-4a02d197296e", value: "openid", adminConsentDisplayName: "Sign users in", adminConsentDescription: "Allows users to sign in to the app with their work or school accounts.", type: "User" },
        { id: "14dad69e-099b-42c9-810b-d002981feec1", value: "profile", adminConsentDisplayName: "View users' basic profile", adminConsentDescription: "Allows the app to see your users' basic profile.", type: "User" },
        { id: "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", value: "email", adminConsentDisplayName: "View users' email address", adminConsentDescription: "Allows the app to read your users' primary email address.", type: "User" },
        { id: "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", value: "offline_access", adminConsentDisplayName: "Maintain access to data you have given it access to", adminConsentDescription: "Allows the app to see and update the data you gave it access to, even when users are not currently using the app.", type: "User" },
        ...GRAPH_DIRECTORY_SCOPES,
      ],
    },
  },
];
