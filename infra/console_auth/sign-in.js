// Cognito's managed login with PKCE (no client secret in a browser). The access token goes into a
// cookie that CloudFront turns into the API's token header; the pages themselves never read it.
(async function () {
  const status = document.getElementById("status");
  const params = new URLSearchParams(location.search);
  const here = location.origin + "/auth/sign-in.html";
  const fail = (message) => { status.textContent = message; status.className = "error"; };
  let config;
  try {
    config = await (await fetch("/auth/console-auth.json", { cache: "no-store" })).json();
  } catch (error) {
    return fail("The console's sign-in settings could not be read: " + error);
  }
  const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  if (params.has("signout")) {
    document.cookie = "strato_token=; Path=/; Max-Age=0; Secure; SameSite=Strict";
    location.replace(config.domain + "/logout?client_id=" + encodeURIComponent(config.clientId)
      + "&logout_uri=" + encodeURIComponent(here));
    return;
  }
  if (params.has("error")) {
    return fail("Sign-in failed: " + (params.get("error_description") || params.get("error")));
  }
  if (params.has("code")) {
    const verifier = sessionStorage.getItem("strato_verifier");
    if (!verifier || params.get("state") !== sessionStorage.getItem("strato_state")) {
      return fail("This sign-in was not started here (its state does not match): sign in again.");
    }
    const response = await fetch(config.domain + "/oauth2/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", client_id: config.clientId, code: params.get("code"),
        redirect_uri: here, code_verifier: verifier,
      }),
    });
    if (!response.ok) { return fail("Cognito refused the sign-in (" + response.status + "): sign in again."); }
    const tokens = await response.json();
    document.cookie = "strato_token=" + tokens.access_token + "; Path=/; Max-Age=" + tokens.expires_in
      + "; Secure; SameSite=Strict";
    const next = sessionStorage.getItem("strato_next") || "/";
    sessionStorage.removeItem("strato_verifier");
    location.replace(next.startsWith("/") && !next.startsWith("//") ? next : "/");
    return;
  }
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("strato_verifier", verifier);
  sessionStorage.setItem("strato_state", state);
  sessionStorage.setItem("strato_next", params.get("next") || "/");
  location.replace(config.domain + "/oauth2/authorize?" + new URLSearchParams({
    response_type: "code", client_id: config.clientId, redirect_uri: here, state: state,
    scope: "openid email profile", code_challenge_method: "S256", code_challenge: challenge,
  }));
})();
