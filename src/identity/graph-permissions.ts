import type { AppRole, PermissionScope } from "./model.ts";

/**
 * The Microsoft Graph permissions orgbox's Graph surface knows, with their real identifiers:
 * `roleId` is the application permission (an `appRoles` entry of Microsoft Graph, granted by admin
 * consent as an app role assignment to Graph's service principal), `scopeId` the delegated permission
 * (an `api.oauth2PermissionScopes` entry). null where Graph has none of that kind.
 * Source: learn.microsoft.com/graph/permissions-reference (the "Identifier" rows, Application and Delegated).
 */
export interface GraphPermission {
  value: string;
  roleId: string | null;
  scopeId: string | null;
  /** The application permission's display text. */
  roleDisplayName: string;
  /** The delegated permission's display text. */
  scopeDisplayName: string;
}

/** Directory-management permissions of Microsoft Graph (learn.microsoft.com/graph/permissions-reference). */
export const GRAPH_PERMISSIONS: readonly GraphPermission[] = [
  { value: "Application.Read.All", roleId: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", scopeId: "c79f8feb-a9db-4090-85f9-90d820caa0eb", roleDisplayName: "Read all applications", scopeDisplayName: "Read applications" },
  { value: "Application.ReadWrite.All", roleId: "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", scopeId: "bdfbf15f-ee85-4955-8675-146e8e5296b5", roleDisplayName: "Read and write all applications", scopeDisplayName: "Read and write all applications" },
  { value: "Application.ReadWrite.OwnedBy", roleId: "18a4783c-866b-4cc7-a460-3d5e5662c884", scopeId: null, roleDisplayName: "Manage apps that this app creates or owns", scopeDisplayName: "" },
  { value: "AppRoleAssignment.ReadWrite.All", roleId: "06b708a9-e830-4db3-a914-8e69da51d44f", scopeId: "84bccea3-f856-4a8a-967b-dbe0a3d53a64", roleDisplayName: "Manage app permission grants and app role assignments", scopeDisplayName: "Manage app permission grants and app role assignments" },
  { value: "DelegatedPermissionGrant.ReadWrite.All", roleId: "8e8e4742-1d95-4f68-9d56-6ee75648c72a", scopeId: "41ce6ca6-6826-4807-84f1-1c82854f7ee5", roleDisplayName: "Manage all delegated permission grants", scopeDisplayName: "Manage all delegated permission grants" },
  { value: "Directory.Read.All", roleId: "7ab1d382-f21e-4acd-a863-ba3e13f7da61", scopeId: "06da0dbc-49e2-44d2-8312-53f166ab848a", roleDisplayName: "Read directory data", scopeDisplayName: "Read directory data" },
  { value: "Directory.ReadWrite.All", roleId: "19dbc75e-c2e2-444c-a770-ec69d8559fc7", scopeId: "c5366453-9fb0-48a5-a156-24f0c49a4b84", roleDisplayName: "Read and write directory data", scopeDisplayName: "Read and write directory data" },
  { value: "Directory.AccessAsUser.All", roleId: null, scopeId: "0e263e50-5827-48a4-b97c-d940288653c7", roleDisplayName: "", scopeDisplayName: "Access directory as the signed in user" },
  { value: "Domain.Read.All", roleId: "dbb9058a-0e50-45d7-ae91-66909b5d4664", scopeId: "2f9ee017-59c1-4f1d-9472-bd5529a7b311", roleDisplayName: "Read domains", scopeDisplayName: "Read domains" },
  { value: "Group.Read.All", roleId: "5b567255-7703-4780-807c-7be8301ae99b", scopeId: "5f8c59db-677d-491f-a6b8-5f174b11ec1d", roleDisplayName: "Read all groups", scopeDisplayName: "Read all groups" },
  { value: "Group.ReadWrite.All", roleId: "62a82d76-70ea-41e2-9197-370581804d09", scopeId: "4e46008b-f24c-477d-8fff-7bb4ec7aafe0", roleDisplayName: "Read and write all groups", scopeDisplayName: "Read and write all groups" },
  { value: "GroupMember.Read.All", roleId: "98830695-27a2-44f7-8c18-0c3ebc9698f6", scopeId: "bc024368-1153-4739-b217-4326f2e966d0", roleDisplayName: "Read all group memberships", scopeDisplayName: "Read group memberships" },
  { value: "GroupMember.ReadWrite.All", roleId: "dbaae8cf-10b5-4b86-a4a1-f871c94c6695", scopeId: "f81125ac-d3b7-4573-a3b2-7099cc39df9e", roleDisplayName: "Read and write all group memberships", scopeDisplayName: "Read and write group memberships" },
  { value: "Organization.Read.All", roleId: "498476ce-e0fe-48b0-b801-37ba7e2685c6", scopeId: "4908d5b9-3fb2-4b1e-9336-1888b7937185", roleDisplayName: "Read organization information", scopeDisplayName: "Read organization information" },
  { value: "RoleManagement.ReadWrite.Directory", roleId: "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", scopeId: "d01b97e9-cbc0-49fe-810a-750afd5527a3", roleDisplayName: "Read and write all directory RBAC settings", scopeDisplayName: "Read and write directory RBAC settings" },
  { value: "RoleManagement.Read.Directory", roleId: "483bed4a-2ad3-4361-a73b-c83ccdbdc53c", scopeId: "741c54c3-0c1e-44a1-818b-3f97ab4e8c83", roleDisplayName: "Read all directory RBAC settings", scopeDisplayName: "Read directory RBAC settings" },
  { value: "User.Read.All", roleId: "df021288-bdef-4463-88db-98f22de89214", scopeId: "a154be20-db9c-4678-8ab7-66f6cc099a59", roleDisplayName: "Read all users' full profiles", scopeDisplayName: "Read all users' full profiles" },
  { value: "User.ReadWrite.All", roleId: "741f803b-c850-494e-b5df-cde7c675a1ca", scopeId: "204e0828-b5ca-4ad8-b9f3-f32a958e7cc4", roleDisplayName: "Read and write all users' full profiles", scopeDisplayName: "Read and write all users' full profiles" },
];

/** Microsoft Graph's `appRoles` (application permissions) built from {@link GRAPH_PERMISSIONS}. */
export const GRAPH_APP_ROLES: AppRole[] = GRAPH_PERMISSIONS.filter((p) => p.roleId !== null).map((p) => ({
  id: p.roleId as string,
  value: p.value,
  displayName: p.roleDisplayName,
  description: `${p.roleDisplayName} without a signed-in user.`,
  allowedMemberTypes: ["Application"],
}));

/** Microsoft Graph's delegated directory permissions (`oauth2PermissionScopes`), all admin-consent ones. */
export const GRAPH_DIRECTORY_SCOPES: PermissionScope[] = GRAPH_PERMISSIONS.filter((p) => p.scopeId !== null).map((p) => ({
  id: p.scopeId as string,
  value: p.value,
  adminConsentDisplayName: p.scopeDisplayName,
  adminConsentDescription: `Allows the app to ${p.scopeDisplayName.toLowerCase()} on behalf of the signed-in user.`,
  type: "Admin",
}));

/**
 * Built-in directory role template ids (the `wids` claim, `roleTemplateId`).
 * Source: learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference.
 */
export const DIRECTORY_ROLE_TEMPLATES = {
  globalAdministrator: "62e90394-69f5-4237-9190-012177145e10",
  applicationAdministrator: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
  cloudApplicationAdministrator: "158c047a-c907-4556-b7ef-446551a6b5f7",
  privilegedRoleAdministrator: "e8611ab8-c189-46e8-94e1-60213ab1f814",
  userAdministrator: "fe930be7-5e62-47db-91af-98c3a49a38b1",
  groupsAdministrator: "fdd7a751-b60b-444a-984c-02652fe8fa1c",
  globalReader: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
  directoryReaders: "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
} as const;
