// The passkey page (GET /passkey/{token}): asks mfad for a WebAuthn challenge, has the browser
// make the credential (the person unlocks it), and sends the credential back. mfad's only
// script: everything else works without JavaScript.
"use strict";
(function () {
  const form = document.getElementById("passkey-form");
  const status = document.getElementById("passkey-status");
  const button = document.getElementById("passkey-register");
  if (!form) return;
  if (!window.PublicKeyCredential) {
    status.textContent = "This browser cannot make passkeys.";
    status.className = "error";
    button.disabled = true;
    return;
  }
  const fromB64u = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  };
  const toB64u = (buf) => {
    let text = "";
    new Uint8Array(buf).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  // kind: "" while it runs, "done" or "error" at the end.
  const say = (text, kind) => {
    status.textContent = text;
    status.className = kind;
  };
  const post = async (url, body) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.message || ("the server answered " + res.status));
    return json;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    say("Follow your browser's prompt to make the passkey…", "");
    try {
      const options = await post(form.dataset.options, {});
      const pk = options.publicKey;
      pk.challenge = fromB64u(pk.challenge);
      pk.user.id = fromB64u(pk.user.id);
      (pk.excludeCredentials || []).forEach((c) => { c.id = fromB64u(c.id); });
      const cred = await navigator.credentials.create({ publicKey: pk });
      const response = {
        attestationObject: toB64u(cred.response.attestationObject),
        clientDataJSON: toB64u(cred.response.clientDataJSON),
      };
      if (cred.response.getTransports) response.transports = cred.response.getTransports();
      const done = await post(form.dataset.register, {
        ceremony: options.ceremony,
        name: document.getElementById("passkey-name").value,
        credential: {
          id: cred.id,
          rawId: toB64u(cred.rawId),
          type: cred.type,
          response: response,
          extensions: cred.getClientExtensionResults(),
        },
      });
      form.hidden = true;
      say("Registered \u201c" + done.name + "\u201d. You have " + done.passkeys + " passkey(s). You can close this page.", "done");
    } catch (e) {
      button.disabled = false;
      say("The passkey was not registered: " + e.message, "error");
    }
  });
})();
