// Login: POST /api/v1/auth/token with a user name and password.

import { login } from "./api.js";
import { fill, h } from "./dom.js";

export function mountLogin(container, { next, onLoggedIn }) {
  const message = h("p", { class: "error", role: "alert", hidden: true });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h(
    "form",
    { class: "login card" },
    h("h1", {}, "voltmesh"),
    h("p", { class: "muted" }, "Log in with your operator account."),
    h("div", { class: "field" }, h("label", { for: "username" }, "User name"), username),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.hidden = true;
    try {
      await login(username.value, password.value);
      onLoggedIn(next);
    } catch (error) {
      let text = error.message;
      if (error.status === 401) text = "Wrong user name or password.";
      else if (error.status === 429) text = `Too many failed attempts; try again in ${error.retryAfter ?? "a few"} s.`;
      else if (error.status === undefined) text = `The node cannot be reached (${error.message}).`;
      fill(message, text);
      message.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  fill(container, h("div", { class: "login-page" }, form));
  username.focus();
  return { destroy() {} };
}
