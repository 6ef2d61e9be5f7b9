// mfad's only script: the passkey ceremonies of two pages. On the passkey page
// (GET /passkey/{token}) it registers a passkey; on the approve page of a client with passkeys
// it approves the push with one (as well as the number). Each asks mfad for a WebAuthn
// challenge, has the browser answer it (the person unlocks the passkey), and sends the answer.
"use strict";
(function () {
  const fromB64u = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  };
  const toB64u = (buf) => {
    let text = "";
    new Uint8Array(buf).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const status = document.getElementById("passkey-status");
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

  function register(form) {
    const button = document.getElementById("passkey-register");
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
            id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, response: response,
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
  }

  function approve(button) {
    button.addEventListener("click", async () => {
      const field = document.getElementById("number");
      if (field && !field.reportValidity()) return;
      button.disabled = true;
      say("Follow your browser's prompt to use your passkey…", "");
      try {
        const options = await post(button.dataset.options, {});
        const pk = options.publicKey;
        pk.challenge = fromB64u(pk.challenge);
        (pk.allowCredentials || []).forEach((c) => { c.id = fromB64u(c.id); });
        const cred = await navigator.credentials.get({ publicKey: pk });
        const r = cred.response;
        const result = await post(button.dataset.approve, {
          ceremony: options.ceremony,
          number: field ? parseInt(field.value, 10) : null,
          credential: {
            id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
            response: {
              authenticatorData: toB64u(r.authenticatorData),
              clientDataJSON: toB64u(r.clientDataJSON),
              signature: toB64u(r.signature),
              userHandle: r.userHandle ? toB64u(r.userHandle) : null,
            },
            extensions: cred.getClientExtensionResults(),
          },
        });
        const main = document.querySelector("main");
        const heading = document.createElement("h1");
        const text = document.createElement("p");
        if (result.state === "approved") {
          heading.textContent = "Approved";
          text.textContent = "The login goes ahead. You can close this page.";
        } else {
          heading.textContent = "Denied";
          text.textContent = "The login was denied (" + (result.reason || result.state) + ").";
        }
        main.replaceChildren(heading, text);
      } catch (e) {
        button.disabled = false;
        say("Not approved: " + e.message, "error");
      }
    });
  }

  if (!status) return;
  if (!window.PublicKeyCredential) {
    say("This browser cannot use passkeys.", "error");
    return;
  }
  const form = document.getElementById("passkey-form");
  if (form) register(form);
  const button = document.getElementById("approve-passkey");
  if (button) approve(button);
})();
