import type { PermissionScope } from "../model.ts";

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** Hidden inputs for a form. */
export function hidden(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join("");
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 "Segoe UI",system-ui,sans-serif;background:#f2f2f2;color:#1b1b1b}
main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.brand{font-weight:600;color:#505050;margin-bottom:16px}h1{font-size:24px;font-weight:600;margin:0 0 16px}
label{display:block;margin:12px 0 4px}input[type=text],input[type=email],input[type=password]{width:100%;padding:6px 2px;border:0;border-bottom:1px solid #666;font:inherit}
input:focus{outline:2px solid #0067b8}.error{color:#e81123;margin:8px 0}.actions{margin-top:24px;display:flex;gap:8px;justify-content:flex-end}
button{font:inherit;padding:6px 20px;border:1px solid #0067b8;background:#0067b8;color:#fff;cursor:pointer}button.secondary{background:#ccc;border-color:#ccc;color:#1b1b1b}
ul{padding-left:20px}.muted{color:#505050;font-size:13px}.account{width:100%;text-align:left;background:#fff;color:#1b1b1b;border:1px solid #ccc;margin:4px 0}`;

/** A complete page: no external assets; inline style only. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="none"><title>${esc(title)}</title><style>${STYLE}</style></head><body><main><div class="brand">orgbox · Microsoft Entra ID emulator</div>${body}</main></body></html>`;
}

/** Security headers for the server-rendered pages (`script-src` only for a given nonce). */
export function pageHeaders(scriptNonce?: string): Record<string, string> {
  const script = scriptNonce ? `script-src 'nonce-${scriptNonce}'` : "script-src 'none'";
  return {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store, no-cache",
    pragma: "no-cache",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": `default-src 'none'; style-src 'unsafe-inline'; ${script}; img-src data:; frame-ancestors 'none'; base-uri 'none'`,
  };
}

/** The sign-in page: username/password form posting to `action`. */
export function signInPage(input: { action: string; hidden: Record<string, string>; appName: string; username: string; error?: string }): string {
  const err = input.error ? `<p class="error" role="alert" id="err">${esc(input.error)}</p>` : "";
  const described = input.error ? ` aria-describedby="err" aria-invalid="true"` : "";
  return page(
    "Sign in to your account",
    `<h1>Sign in</h1><p class="muted">to continue to ${esc(input.appName)}</p>${err}
<form method="post" action="${esc(input.action)}" autocomplete="on">${hidden(input.hidden)}
<label for="login">Email, phone, or Skype</label><input id="login" name="login" type="email" required autocomplete="username" value="${esc(input.username)}"${described}${input.username ? "" : " autofocus"}>
<label for="passwd">Password</label><input id="passwd" name="passwd" type="password" required autocomplete="current-password"${described}${input.username ? " autofocus" : ""}>
<div class="actions"><button type="submit" id="idSIButton9">Sign in</button></div></form>`,
  );
}

/** The consent page: requested permissions, publisher, accept/cancel, optional admin consent box. */
export function consentPage(input: {
  action: string;
  hidden: Record<string, string>;
  appName: string;
  publisher: string;
  username: string;
  resourceName: string;
  /** Each permission; `resource` overrides `resourceName` (admin consent spans several resources). */
  permissions: (Pick<PermissionScope, "value" | "adminConsentDisplayName" | "adminConsentDescription"> & { resource?: string })[];
  oidc: string[];
  canConsentForOrg: boolean;
  /** Admin consent: the tenant consented for (no per-user checkbox; the grant covers everyone). */
  organization?: string;
}): string {
  const oidcText: Record<string, string> = { openid: "Sign you in", profile: "View your basic profile", email: "View your email address", offline_access: "Maintain access to data you have given it access to" };
  const items = [
    ...input.oidc.map((s) => `<li>${esc(oidcText[s] ?? s)}</li>`),
    ...input.permissions.map((p) => `<li><strong>${esc(p.adminConsentDisplayName)}</strong> <span class="muted">(${esc(p.resource ?? input.resourceName)}: ${esc(p.value)})</span><br><span class="muted">${esc(p.adminConsentDescription)}</span></li>`),
  ].join("");
  const org = input.organization
    ? `<p>If you accept, this app will get access to the specified resources for <strong>all users in ${esc(input.organization)}</strong>. No one else will be prompted to review these permissions.</p>`
    : input.canConsentForOrg
    ? `<p><input type="checkbox" id="admin_consent" name="admin_consent" value="on"> <label for="admin_consent" style="display:inline">Consent on behalf of your organization</label></p>`
    : "";
  return page(
    "Permissions requested",
    `<p class="muted">${esc(input.username)}</p><h1>Permissions requested</h1>
<p><strong>${esc(input.appName)}</strong><br><span class="muted">Publisher: ${esc(input.publisher)}</span></p>
<p>This app would like to:</p><ul>${items}</ul>
<form method="post" action="${esc(input.action)}">${hidden(input.hidden)}${org}
<p class="muted">Accepting these permissions means that you allow this app to use your data as specified in their terms of service and privacy statement.</p>
<div class="actions"><button type="submit" name="decision" value="cancel" class="secondary">Cancel</button><button type="submit" name="decision" value="accept" id="idBtn_Accept">Accept</button></div></form>`,
  );
}

/**
 * The simulated multi-factor step (`mfa`: "Approve sign-in request"; `mfaRegistration`: "More
 * information required", then the same approval): one button, nothing to type. orgbox has no second
 * factor; the step exists so that an interaction requirement is satisfied only by a browser sign-in.
 */
export function mfaPage(input: { action: string; hidden: Record<string, string>; username: string; kind: "mfa" | "mfaRegistration" }): string {
  const text =
    input.kind === "mfaRegistration"
      ? `<h1>More information required</h1><p>Your organization needs more information to keep your account secure. orgbox simulates registering an authentication method: select Register to continue.</p>`
      : `<h1>Approve sign in request</h1><p>Your organization requires multi-factor authentication. orgbox simulates the second factor: select Approve to continue.</p>`;
  return page(
    input.kind === "mfaRegistration" ? "More information required" : "Approve sign in request",
    `<p class="muted">${esc(input.username)}</p>${text}<form method="post" action="${esc(input.action)}">${hidden(input.hidden)}
<div class="actions"><button type="submit" name="decision" value="cancel" class="secondary">Cancel</button><button type="submit" name="decision" value="approve" id="idSubmit_SAOTCAS_Continue">${input.kind === "mfaRegistration" ? "Register" : "Approve"}</button></div></form>`,
  );
}

/** The page shown after sign-out when there is no (valid) `post_logout_redirect_uri` to return to. */
export function signedOutPage(): string {
  return page("Sign out", `<h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p>`);
}

/** The account picker (`prompt=select_account`): the signed-in account, or another one. */
export function accountPickerPage(input: { action: string; hidden: Record<string, string>; username: string; displayName: string }): string {
  return page(
    "Pick an account",
    `<h1>Pick an account</h1><form method="post" action="${esc(input.action)}">${hidden(input.hidden)}
<button type="submit" class="account" name="choice" value="current">${esc(input.displayName)}<br><span class="muted">${esc(input.username)}</span></button>
<button type="submit" class="account" name="choice" value="other">Use another account</button></form>`,
  );
}

/** orgbox's own error page (errors that must not be redirected, e.g. AADSTS50011). */
export function errorPage(input: { message: string; code: number; traceId: string; correlationId: string; timestamp: string }): string {
  return page(
    "Sign in error",
    `<h1>Sorry, but we’re having trouble signing you in.</h1><p role="alert">AADSTS${input.code}: ${esc(input.message.replace(/^AADSTS\d+: /, ""))}</p>
<p class="muted">Request Id: ${esc(input.traceId)}<br>Correlation Id: ${esc(input.correlationId)}<br>Timestamp: ${esc(input.timestamp)}</p>`,
  );
}

/** `response_mode=form_post`: an auto-submitting form (with a button when scripts are off). */
export function formPostPage(input: { action: string; fields: Record<string, string>; scriptNonce: string }): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Working...</title></head><body><form method="post" action="${esc(input.action)}">${hidden(input.fields)}<noscript><p>Script is disabled. Click Submit to continue.</p><button type="submit">Submit</button></noscript></form><script nonce="${esc(input.scriptNonce)}">document.forms[0].submit();</script></body></html>`;
}
