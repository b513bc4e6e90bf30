import type { Generated } from "kysely";

/**
 * Kysely table types for the fixed (non-Dataverse) tables. Times are integer
 * milliseconds since the Unix epoch (UTC); JSON columns are text.
 *
 * Dataverse record tables are created per org at run time from metadata and
 * are addressed through the dynamic query builder in `dataverse-store.ts`.
 */
export interface Schema {
  tenants: { id: string; display_name: string; default_domain: string; created_at: number };
  tenant_domains: { domain: string; tenant_id: string; is_default: number };
  users: {
    id: string;
    tenant_id: string;
    upn: string;
    display_name: string;
    given_name: string | null;
    surname: string | null;
    password_hash: string;
    enabled: number;
    directory_roles: string;
    password_changed_at: number;
    created_at: number;
    /** Smart lockout (migration 010): consecutive wrong passwords, and locked until (ms). */
    failed_sign_ins: Generated<number>;
    locked_until: number | null;
    /** `mailNickname` (migration 013); null when not set. */
    mail_nickname: Generated<string | null>;
  };
  applications: {
    id: string;
    app_id: string;
    tenant_id: string;
    display_name: string;
    sign_in_audience: string;
    identifier_uris: string;
    web_redirect_uris: string;
    spa_redirect_uris: string;
    public_client_redirect_uris: string;
    is_fallback_public_client: number;
    required_resource_access: string;
    app_roles: string;
    oauth2_permission_scopes: string;
    publisher_domain: string | null;
    /** Manifest `groupMembershipClaims` (migration 006). */
    group_membership_claims: string | null;
    /** `api.requestedAccessTokenVersion` (migration 006). */
    requested_access_token_version: number | null;
    /** `web.implicitGrantSettings` JSON (migration 011); null: both off. */
    web_implicit_grant_settings: Generated<string | null>;
    /** `web.logoutUrl` (migration 017); null: none. */
    web_logout_url: Generated<string | null>;
    created_at: number;
  };
  /** Index of `applications.identifier_uris`, lower-case, for resource lookup. */
  identifier_uris: { uri: string; application_id: string };
  password_credentials: {
    key_id: string;
    application_id: string;
    display_name: string | null;
    hint: string;
    secret_hash: string;
    start_at: number;
    end_at: number;
    created_at: number;
  };
  service_principals: {
    id: string;
    tenant_id: string;
    app_id: string;
    app_owner_tenant_id: string;
    display_name: string;
    app_role_assignment_required: number;
    /** `accountEnabled` 0/1 (migration 012). */
    account_enabled: Generated<number>;
    created_at: number;
  };
  signing_keys: {
    kid: string;
    private_key_pem: string;
    certificate_b64: string;
    created_at: number;
    activates_at: number;
    retires_at: number | null;
  };
  orgs: { id: string; name: string; tenant_id: string; display_name: string; table_prefix: string; created_at: number };
  entity_definitions: { org_id: string; logical_name: string; definition: string; created_at: number };
  /** Relationship definitions of `POST RelationshipDefinitions` (JSON), by schema name. */
  relationship_definitions: { org_id: string; schema_name: string; definition: string; created_at: number };
  option_set_definitions: { org_id: string; name: string; definition: string; created_at: number };
  record_deletions: { org_id: string; entity: string; record_id: string; version_number: number };
  /** Authorization codes (hash only), single use. Times in ms. */
  authorization_codes: {
    id: string;
    code_hash: string;
    tenant_id: string;
    client_id: string;
    user_id: string;
    redirect_uri: string;
    client_kind: string;
    version: number;
    scope: string | null;
    resource: string | null;
    nonce: string | null;
    code_challenge: string | null;
    code_challenge_method: string | null;
    auth_time: number;
    issued_at: number;
    expires_at: number;
    redeemed_at: number | null;
  };
  /** Refresh tokens (hash only), rotated on each use. Times in ms. */
  refresh_tokens: {
    id: string;
    token_hash: string;
    tenant_id: string;
    client_id: string;
    user_id: string;
    public_client: number;
    scope: string;
    resource: string;
    amr: string;
    auth_time: number;
    code_id: string | null;
    /** Migration 010; null only for rows written before it ran (then the token is its own family). */
    family_id: string | null;
    spa: number;
    issued_at: number;
    expires_at: number;
    revoked_at: number | null;
  };
  /** Browser sign-in sessions behind the `orgbox_session` cookie (hash only). */
  sign_in_sessions: { id: string; token_hash: string; tenant_id: string; user_id: string; auth_time: number; expires_at: number; revoked_at: number | null; /** Migration 015. */ mfa_at: Generated<number | null> };
  /** Delegated consent (`oauth2PermissionGrant`): client/resource are service principal object ids. */
  oauth2_permission_grants: { id: string; tenant_id: string; client_id: string; consent_type: string; principal_id: string | null; resource_id: string; scope: string; created_at: number };
  /** Application permissions (`appRoleAssignment`): principal/resource are service principal object ids. */
  app_role_assignments: { id: string; tenant_id: string; principal_id: string; resource_id: string; app_role_id: string; principal_type: string; created_at: number };
  /** Security groups (migration 006). */
  groups: { id: string; tenant_id: string; display_name: string; created_at: number; /** Migration 013. */ mail_nickname: Generated<string | null> };
  /** Group membership: users only (migration 006). */
  group_members: { group_id: string; user_id: string; created_at: number };
  /** Certificate credentials (`keyCredentials`): public X.509 certificates only. */
  key_credentials: {
    key_id: string;
    application_id: string;
    display_name: string | null;
    /** SHA-1 thumbprint, upper-case hex (Graph's `customKeyIdentifier`). */
    custom_key_identifier: string;
    /** SHA-256 thumbprint, upper-case hex. */
    thumbprint_sha256: string;
    certificate_b64: string;
    start_at: number;
    end_at: number;
    created_at: number;
  };
  /** Interaction requirements (migration 015): the "require MFA" switch per user or client service principal; `since` in ms. */
  interaction_requirements: { subject_id: string; kind: string; tenant_id: string; subject_type: string; since: number };
  /** orgbox's clock offset (migration 014): one row, id 'clock'; ms. */
  orgbox_clock: { id: string; offset_ms: number; moved_at: number };
  /** Owners of app registrations (migration 011): users or service principals. */
  application_owners: { application_id: string; owner_id: string; owner_type: string; created_at: number };
  /** Client-assertion `jti`s already used: SHA-256 of `{clientId}:{jti}`, kept until the assertion expires. */
  client_assertion_jtis: { jti_hash: string; expires_at: number };
  /** Device-code flow (RFC 8628): both codes stored as SHA-256 hashes. Times in ms. */
  device_codes: {
    id: string;
    device_code_hash: string;
    user_code_hash: string;
    tenant_id: string | null;
    client_id: string;
    version: number;
    scope: string | null;
    resource: string | null;
    status: string;
    user_id: string | null;
    auth_time: number | null;
    issued_at: number;
    expires_at: number;
  };
  /** Migration 015: the change counter processes on one store compare (one row, `id` = 'store'); never snapshotted. */
  store_changes: { id: string; version: number };
  /** Migration 015: secrets every process on the store shares, by name (`csrf`). */
  store_secrets: { name: string; value: string };
}
