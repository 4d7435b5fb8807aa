// A single-page app (a public client) that logs in through Portti with oidc-client-ts:
// authorization code with PKCE, tokens and UserInfo fetched across origins (CORS), a refresh,
// token revocation and RP-initiated logout. window.SPA_CONFIG comes from /config.js, written by the test.
const config = window.SPA_CONFIG;
const here = window.location.origin + "/";
const manager = new oidc.UserManager({
  authority: config.issuer,
  client_id: config.clientId,
  redirect_uri: here,
  post_logout_redirect_uri: here,
  response_type: "code",
  scope: "openid profile companies",
  loadUserInfo: true,
  automaticSilentRenew: false,
  revokeTokensOnSignout: true,
  userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
});

const status = document.getElementById("status");
const refreshed = document.getElementById("refreshed");
const error = document.getElementById("error");

function fail(err) {
  error.textContent = "Error: " + (err && err.message ? err.message : String(err));
}

async function show() {
  const user = await manager.getUser();
  if (user && !user.expired) {
    status.textContent = "Logged in as " + user.profile.name + " (" + user.profile.sub + ")";
  } else {
    status.textContent = "Logged out";
  }
}

async function start() {
  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    await manager.signinRedirectCallback();
    window.history.replaceState(null, "", "/");
  }
  await show();
}

document.getElementById("login").addEventListener("click", () => {
  manager.signinRedirect().catch(fail);
});
document.getElementById("refresh").addEventListener("click", async () => {
  try {
    const before = await manager.getUser();
    const after = await manager.signinSilent();
    const rotated = after.refresh_token !== before.refresh_token;
    const fresh = after.access_token !== before.access_token;
    refreshed.textContent = rotated && fresh ? "Tokens refreshed" : "Tokens not renewed";
    await show();
  } catch (err) {
    fail(err);
  }
});
document.getElementById("logout").addEventListener("click", () => {
  manager.signoutRedirect().catch(fail);
});

start().catch(fail);
