// Sign in: the session cookie and CSRF cookie come back from /api/v1/auth/sign-in.

import { api, page, t, showError, clearErrors, fieldError } from "./core.js";

const form = document.getElementById("signin-form");

function destination(account) {
  const next = page.next;
  // Only a path on this site: never send a signed-in user to another origin.
  if (next && next.startsWith("/") && !next.startsWith("//")) return next;
  return page.homes[account.role] || "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(form);
  const username = form.elements.namedItem("username").value.trim();
  const password = form.elements.namedItem("password").value;
  let missing = false;
  if (!username) {
    fieldError(form, "username", t("form.required"));
    missing = true;
  }
  if (!password) {
    fieldError(form, "password", t("form.required"));
    missing = true;
  }
  if (missing) return;
  const body = { username, password };
  const code = form.elements.namedItem("totp_code").value.trim();
  if (code) body.totp_code = code;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await api("/api/v1/auth/sign-in", { method: "POST", body });
    window.location.assign(destination(answer.account));
  } catch (error) {
    if (error.body && error.body.error && error.body.error.totp_required) {
      document.getElementById("totp-field").hidden = false;
      fieldError(form, "totp_code", error.message);
    } else if (error.status === 401) {
      // Which of the two was wrong is not said, on purpose; the message goes by the password.
      fieldError(form, "password", error.message);
    } else {
      showError(form, error);
    }
  } finally {
    button.disabled = false;
  }
});
form.elements.namedItem("username").focus();
