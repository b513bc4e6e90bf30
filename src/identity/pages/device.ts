import { esc, hidden, page } from "./html.ts";

/** The "Enter code" page of `/devicelogin` (what microsoft.com/devicelogin shows). */
export function deviceCodePage(input: { action: string; hidden: Record<string, string>; error?: string }): string {
  const err = input.error ? `<p class="error" role="alert" id="err">${esc(input.error)}</p>` : "";
  const described = input.error ? ` aria-describedby="err" aria-invalid="true"` : "";
  return page(
    "Enter code",
    `<h1>Enter code</h1><p class="muted">Enter the code displayed on your app or device.</p>${err}
<form method="post" action="${esc(input.action)}" autocomplete="off">${hidden(input.hidden)}
<label for="otc">Code</label><input id="otc" name="otc" type="text" required autofocus maxlength="64"${described}>
<div class="actions"><button type="submit" id="idSIButton9">Next</button></div></form>`,
  );
}

/** "Are you trying to sign in to {app}?": continue or cancel. */
export function deviceConfirmPage(input: { action: string; hidden: Record<string, string>; appName: string; username: string }): string {
  return page(
    "Are you trying to sign in?",
    `<p class="muted">${esc(input.username)}</p><h1>Are you trying to sign in to ${esc(input.appName)}?</h1>
<p>Only continue if you downloaded the app from a store or website that you trust.</p>
<form method="post" action="${esc(input.action)}">${hidden(input.hidden)}
<div class="actions"><button type="submit" name="decision" value="cancel" class="secondary">Cancel</button><button type="submit" name="decision" value="accept" id="idSIButton9">Continue</button></div></form>`,
  );
}

/** The last page: signed in (the device's poll now gets tokens), or cancelled. */
export function deviceDonePage(input: { appName: string; accepted: boolean }): string {
  return input.accepted
    ? page("Signed in", `<h1>${esc(input.appName)}</h1><p role="status">You have signed in to the ${esc(input.appName)} application on your device. You may now close this window.</p>`)
    : page("Sign-in cancelled", `<h1>${esc(input.appName)}</h1><p role="status">You cancelled the sign-in to the ${esc(input.appName)} application on your device. You may now close this window.</p>`);
}
