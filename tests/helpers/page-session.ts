/** One HTTP response of a server-rendered page flow. */
export interface PageResponse {
  url: string;
  status: number;
  /** The `location` header of a redirect. */
  location: string | null;
  headers: Headers;
  html: string;
}

const unescape = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/**
 * A minimal cookie-keeping client for orgbox's sign-in and consent pages with
 * plain `fetch`: no redirects are followed, forms are submitted with their
 * hidden fields (CSRF token included) plus the given fields.
 */
export class PageSession {
  private readonly jar = new Map<string, string>();

  /** GET (or POST a form body to) `url`, sending and keeping cookies. */
  async open(url: string, form?: Record<string, string>): Promise<PageResponse> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const response = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: { ...(cookie ? { cookie } : {}), ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
      body: form ? new URLSearchParams(form) : undefined,
    });
    for (const set of response.headers.getSetCookie()) {
      const [pair = ""] = set.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      if (/max-age=0/i.test(set)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1).trim());
    }
    return { url, status: response.status, location: response.headers.get("location"), headers: response.headers, html: await response.text() };
  }

  /** Submits the first form of `page` with its hidden inputs plus `fields`. */
  async submit(page: PageResponse, fields: Record<string, string>): Promise<PageResponse> {
    const action = /<form method="post" action="([^"]*)"/.exec(page.html)?.[1];
    if (action === undefined) throw new Error(`no form on the page (status ${page.status}): ${page.html.slice(0, 300)}`);
    const hidden: Record<string, string> = {};
    for (const m of page.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[unescape(m[1] as string)] = unescape(m[2] as string);
    return this.open(new URL(unescape(action), page.url).toString(), { ...hidden, ...fields });
  }

  /** Signs in on a sign-in page. */
  signIn(page: PageResponse, username: string, password: string): Promise<PageResponse> {
    return this.submit(page, { login: username, passwd: password });
  }

  /** Puts a cookie into the jar as sent, unencoded (e.g. another localhost app's `other_app=100%`). */
  setCookie(name: string, value: string): void {
    this.jar.set(name, value);
  }

  /** A kept cookie's value. */
  cookie(name: string): string | undefined {
    return this.jar.get(name);
  }
}
