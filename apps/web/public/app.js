// The page: shows what the local agent reports and asks what it asks, over one
// WebSocket (apps/web/README.md, "The WebSocket protocol"). It never decides that a peer
// is verified: only the agent's `chat-open` / `transfer-done` say who the peer is.
// Everything that came from the network is put on the page as text, never as HTML.

const UPLOAD_CHUNK = 64 * 1024; // octets of file per binary frame (protocol.ts)
const UPLOAD_WINDOW = 1024 * 1024; // octets sent ahead of the agent's upload-ack
const HASH_IN_BROWSER_LIMIT = 256 * 1024 * 1024; // WebCrypto digests whole buffers only

const params = new URLSearchParams(location.search);
const as = params.get("as") ?? "";
const key = params.get("key") ?? "";
const $ = (id) => document.getElementById(id);

/** A DOM element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const formatFingerprint = (hex) => (hex.toUpperCase().match(/.{2}/g) ?? []).join(":");

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const SOURCES = {
  srp: "by the one-time password you both typed (srp), in this session",
  sas: "by the code you both compared (sas), in this session",
  pinned: "pinned: verified in an earlier session",
  tofu: "trusted on first use (tofu): NOT verified by you",
  ca: "by a certificate authority you configured (ca)",
};

function describeTrust(peer) {
  const how = SOURCES[peer.source] ?? peer.source;
  return peer.source === "pinned" && peer.method ? `${how} (${peer.method})` : how;
}

// --- state -------------------------------------------------------------------------

const state = {
  me: undefined,
  peer: undefined,
  chatOpen: false,
  starting: false,
  connected: false,
};
/** Our own uploads, by upload number: the File and how far the agent acknowledged. */
const uploads = new Map();
/** Transfers on the page, by the agent's id. */
const transfers = new Map();

// --- the agent connection --------------------------------------------------------------

const ws = new WebSocket(
  `ws://${location.host}/ws?as=${encodeURIComponent(as)}&key=${encodeURIComponent(key)}`,
);
ws.binaryType = "arraybuffer";
const send = (message) => ws.send(JSON.stringify(message));

ws.addEventListener("open", () => {
  state.connected = true;
});
ws.addEventListener("close", () => {
  state.connected = false;
  const banner = $("agent-status");
  banner.hidden = false;
  banner.textContent = state.me
    ? "Disconnected from your local agent. Reload the page when it runs again."
    : "Your local agent refused this page: open the exact address it printed (with ?as=…&key=…).";
  for (const upload of uploads.values()) upload.stopped = true;
  refreshControls();
});
ws.addEventListener("message", (event) => {
  if (typeof event.data !== "string") return;
  handle(JSON.parse(event.data));
});

function handle(m) {
  switch (m.type) {
    case "welcome":
      state.me = m.me;
      state.peer = m.peer;
      document.title = `${m.me.name} · XTLS web demo`;
      $("me-name").textContent = m.me.name;
      $("me-line").replaceChildren(
        `You are ${m.me.jid} on ${m.network}.`,
        h("div", { class: "fp" }, `Your certificate: SHA-256 ${formatFingerprint(m.me.fingerprint)}`),
      );
      for (const el of document.querySelectorAll(".peer-name")) el.textContent = m.peer.name;
      break;
    case "phase":
      showPhase(m.phase);
      if (m.phase !== "ended" && !state.chatOpen) {
        state.starting = true;
        setStatus(
          {
            negotiating:
              m.role === "initiator"
                ? `Asking ${state.peer.name} to start an encrypted session…`
                : "Negotiating the session…",
            connecting: "Opening the transport (SOCKS5 or in-band bytestream)…",
            securing: "TLS 1.3 handshake and verification of the peer…",
            established: "Established.",
          }[m.phase] ?? m.phase,
        );
      }
      break;
    case "chat-request":
      addPrompt(
        m.id,
        h(
          "div",
          { class: "card", "data-testid": "chat-request" },
          h("p", {}, `${m.peer} wants to start an end-to-end encrypted chat with you.`),
          h(
            "div",
            { class: "buttons" },
            h(
              "button",
              { type: "button", onclick: () => send({ type: "chat-answer", id: m.id, accept: true }) },
              "Accept",
            ),
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                onclick: () => send({ type: "chat-answer", id: m.id, accept: false }),
              },
              "Decline",
            ),
          ),
        ),
      );
      break;
    case "prompt-password":
      addPrompt(m.id, passwordCard(m));
      break;
    case "prompt-sas":
      addPrompt(m.id, sasCard(m));
      break;
    case "prompt-closed":
      document.querySelector(`[data-prompt="${CSS.escape(m.id)}"]`)?.remove();
      break;
    case "chat-open":
      state.chatOpen = true;
      state.starting = false;
      showPhase("established");
      setStatus(
        `Encrypted chat with ${state.peer.name} is open — ${m.tls.protocol}, ${m.tls.cipher}${m.tls.resumed ? ", resumed" : ""}, over a ${m.transport}.`,
      );
      showPeer(m.peer);
      note(`End-to-end encrypted session with ${m.peer.jid} (${describeTrust(m.peer)}).`);
      break;
    case "chat-failed":
      state.starting = false;
      showPhase("ended");
      setStatus(`No chat: ${m.error}`, true);
      showPeer(undefined);
      note(`The session failed: ${m.error}`, true);
      break;
    case "chat-closed":
      state.chatOpen = false;
      showPhase("ended");
      setStatus(m.error ? `The chat ended: ${m.error}` : "The chat ended.", Boolean(m.error));
      note(m.error ? `The chat ended: ${m.error}` : "The chat ended.", Boolean(m.error));
      break;
    case "message":
      addMessage(m);
      break;
    case "file-offer":
      addTransfer(m, `${state.peer?.name ?? m.peer} offers a file`).offer(m.id);
      break;
    case "transfer-start": {
      const t =
        transfers.get(m.id) ??
        addTransfer(m, m.direction === "outgoing" ? `to ${state.peer.name}` : `from ${state.peer.name}`);
      t.started();
      const upload = m.upload !== undefined ? uploads.get(m.upload) : undefined;
      if (upload && !upload.id) {
        upload.id = m.id;
        t.localSha256 = upload.sha256;
        void pump(m.upload, upload);
      }
      break;
    }
    case "transfer-progress":
      transfers.get(m.id)?.progress(m.bytes, m.total, m.rate);
      break;
    case "upload-ack": {
      const upload = uploads.get(m.upload);
      if (upload) {
        upload.acked = m.bytes;
        upload.wake?.();
      }
      break;
    }
    case "transfer-done":
      transfers.get(m.id)?.done(m);
      stopUpload(m.id);
      break;
    case "transfer-failed":
      transfers.get(m.id)?.failed(m.error);
      stopUpload(m.id);
      break;
    case "error":
      note(`The agent says: ${m.error}`, true);
      break;
  }
  refreshControls();
}

// --- session ---------------------------------------------------------------------------

const PHASES = ["negotiating", "connecting", "securing", "established"];

function showPhase(phase) {
  const at = PHASES.indexOf(phase);
  for (const li of document.querySelectorAll("#phases li")) {
    const i = PHASES.indexOf(li.dataset.phase);
    li.classList.toggle("done", at >= 0 && (i < at || (phase === "established" && i === at)));
    li.classList.toggle("current", at >= 0 && i === at && phase !== "established");
    if (phase === "ended") li.classList.remove("current");
  }
}

function setStatus(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

function showPeer(peer) {
  const el = $("peer");
  if (!peer) {
    el.dataset.verified = "false";
    el.replaceChildren(
      h("strong", {}, "Not verified."),
      " Nothing is shown as verified until your agent's TLS layer says so.",
    );
    return;
  }
  el.dataset.verified = "true";
  el.replaceChildren(
    h("strong", {}, `✔ Verified: ${peer.jid}`),
    ` — ${describeTrust(peer)}.`,
    h("div", { class: "fp" }, `Their certificate: SHA-256 ${formatFingerprint(peer.fingerprint)}`),
  );
}

function addPrompt(id, card) {
  card.dataset.prompt = id;
  $("prompts").append(card);
  card.querySelector("input")?.focus();
}

function passwordCard(m) {
  const input = h("input", {
    type: "password",
    "aria-label": "One-time password",
    autocomplete: "off",
    placeholder: "one-time password",
  });
  const answer = (password) => {
    send({ type: "password", id: m.id, password });
    if (password !== null) setStatus(`Checking the password with ${state.peer.name}…`);
  };
  return h(
    "form",
    {
      class: "card",
      "data-testid": "password-prompt",
      onsubmit: (e) => {
        e.preventDefault();
        answer(input.value);
      },
    },
    h(
      "p",
      {},
      `First contact with ${m.peer}: type the one-time password you agreed with ${state.peer.name} ` +
        "out of band (in person, on the phone). It never leaves your agent; a wrong one fails on both sides.",
    ),
    h(
      "p",
      { class: "fp" },
      `Their certificate (not yet verified): SHA-256 ${formatFingerprint(m.fingerprint)}`,
    ),
    h(
      "div",
      { class: "buttons" },
      input,
      h("button", { type: "submit" }, "Use this password"),
      h("button", { type: "button", class: "secondary", onclick: () => answer(null) }, "Cancel"),
    ),
  );
}

function sasCard(m) {
  const digits = `${m.digits.slice(0, 3)} ${m.digits.slice(3)}`;
  return h(
    "div",
    { class: "card", "data-testid": "sas-prompt" },
    h(
      "p",
      {},
      `First contact with ${m.peer}: compare this code with the one on ${state.peer.name}'s screen ` +
        "(side by side, or read it out on the phone).",
    ),
    h("div", { class: "sas-digits", "data-testid": "sas-digits" }, digits),
    h(
      "ul",
      { class: "sas-emoji", "data-testid": "sas-emoji" },
      m.emoji.map((e) =>
        h(
          "li",
          {},
          h("span", { class: "glyph", "aria-hidden": "true" }, e.emoji),
          h("span", { class: "name" }, e.description),
        ),
      ),
    ),
    h(
      "div",
      { class: "buttons" },
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            send({ type: "sas", id: m.id, match: true });
            setStatus(`You confirmed the code; waiting for ${state.peer.name} to confirm it too…`);
          },
        },
        "They match",
      ),
      h(
        "button",
        { type: "button", class: "secondary", onclick: () => send({ type: "sas", id: m.id, match: false }) },
        "They differ",
      ),
    ),
  );
}

// --- chat ------------------------------------------------------------------------------

function addMessage(m) {
  const mine = m.direction === "out";
  const li = h(
    "li",
    { class: mine ? "out" : "in" },
    h("span", { class: "who" }, mine ? "you" : m.from),
    h("span", { class: "body" }, m.body),
  );
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function note(text, error = false) {
  $("messages").append(h("li", { class: error ? "note error" : "note" }, text));
}

$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("say");
  if (!input.value.trim()) return;
  send({ type: "say", text: input.value });
  input.value = "";
});
$("start-password").addEventListener("click", () => {
  state.starting = true;
  send({ type: "open-chat", method: "password" });
  refreshControls();
});
$("start-code").addEventListener("click", () => {
  state.starting = true;
  send({ type: "open-chat", method: "code" });
  refreshControls();
});
$("end-chat").addEventListener("click", () => send({ type: "close-chat" }));
$("file").addEventListener("change", refreshControls);

function refreshControls() {
  const ready = state.connected && state.me !== undefined;
  $("start-password").disabled = !ready || state.chatOpen || state.starting;
  $("start-code").disabled = !ready || state.chatOpen || state.starting;
  $("end-chat").hidden = !state.chatOpen && !state.starting;
  $("end-chat").textContent = state.chatOpen ? "End chat" : "Cancel";
  $("say").disabled = !ready || !state.chatOpen;
  $("send").disabled = !ready || !state.chatOpen;
  $("say").placeholder = state.chatOpen ? `Message to ${state.peer.name}` : "Start a chat first";
  $("send-file").disabled = !ready || !$("file").files?.length;
}

// --- files -----------------------------------------------------------------------------

$("file-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("file").files?.[0];
  if (!file) return;
  $("file").value = "";
  refreshControls();
  // Hashed here too, so the person can see that what arrived is what they picked.
  const sha256 =
    file.size <= HASH_IN_BROWSER_LIMIT
      ? hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()))
      : undefined;
  const upload = crypto.getRandomValues(new Uint32Array(1))[0];
  uploads.set(upload, { file, acked: 0, stopped: false, sha256, id: undefined, wake: undefined });
  send({ type: "send-file", upload, name: file.name, size: file.size, mediaType: file.type });
});

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Sends the file's octets, never more than UPLOAD_WINDOW ahead of the agent. */
async function pump(number, upload) {
  const { file } = upload;
  for (let at = 0; at < file.size && !upload.stopped; ) {
    if (at - upload.acked >= UPLOAD_WINDOW) {
      await new Promise((resolve) => {
        upload.wake = resolve;
      });
      upload.wake = undefined;
      continue;
    }
    const chunk = new Uint8Array(await file.slice(at, at + UPLOAD_CHUNK).arrayBuffer());
    if (upload.stopped) break;
    const frame = new Uint8Array(4 + chunk.length);
    new DataView(frame.buffer).setUint32(0, number);
    frame.set(chunk, 4);
    ws.send(frame);
    at += chunk.length;
  }
}

function stopUpload(id) {
  for (const [number, upload] of uploads) {
    if (upload.id !== id) continue;
    upload.stopped = true;
    upload.wake?.();
    uploads.delete(number);
  }
}

function addTransfer(m, title) {
  const bar = h("progress", { max: String(Math.max(m.size, 1)), value: "0" });
  const text = h(
    "span",
    { class: "progress-text", "data-testid": "progress" },
    `0 B of ${formatBytes(m.size)} (0%)`,
  );
  const actions = h("div", { class: "buttons" });
  const result = h("p", { class: "result" });
  const heading = h("span", {}, title);
  const li = h(
    "li",
    { "data-transfer": m.id, "data-direction": m.direction },
    h("div", {}, h("strong", {}, m.name), ` — ${formatBytes(m.size)}, `, heading),
    bar,
    h("div", {}, text),
    actions,
    result,
  );
  $("transfers").prepend(li);
  const t = {
    localSha256: undefined,
    offer(id) {
      bar.hidden = true;
      text.textContent = `${m.mediaType || "application/octet-stream"} — accept it to receive it, encrypted end to end.`;
      actions.replaceChildren(
        h(
          "button",
          { type: "button", onclick: () => send({ type: "file-answer", id, accept: true }) },
          "Accept file",
        ),
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () => send({ type: "file-answer", id, accept: false }),
          },
          "Decline file",
        ),
      );
    },
    started() {
      heading.textContent = m.direction === "outgoing" ? `to ${state.peer.name}` : `from ${state.peer.name}`;
      bar.hidden = false;
      actions.replaceChildren(
        h(
          "button",
          { type: "button", class: "secondary", onclick: () => send({ type: "cancel-transfer", id: m.id }) },
          "Cancel",
        ),
      );
    },
    progress(bytes, total, rate) {
      bar.max = Math.max(total, 1);
      bar.value = bytes;
      const percent = total > 0 ? Math.floor((bytes / total) * 100) : 100;
      text.textContent = `${formatBytes(bytes)} of ${formatBytes(total)} (${percent}%) · ${formatBytes(Math.round(rate))}/s`;
    },
    done(d) {
      t.progress(m.size, m.size, 0);
      text.textContent = `${formatBytes(m.size)} of ${formatBytes(m.size)} (100%)`;
      actions.replaceChildren();
      const who = d.peer ? `${d.peer.jid}, ${describeTrust(d.peer)}` : "an unverified peer";
      const lines = [];
      if (m.direction === "incoming") {
        lines.push(
          h("span", { class: "ok" }, "✔ Received and verified by your agent: "),
          `size and SHA-256 match what the sender's agent sent inside the tunnel. From ${who}.`,
          h("br"),
          h("span", { class: "fp", "data-testid": "sha256" }, `SHA-256 ${d.sha256}`),
          h("br"),
          d.href
            ? h("a", { href: d.href, download: d.storedAs ?? m.name }, `Download ${d.storedAs ?? m.name}`)
            : "",
        );
      } else {
        const match = t.localSha256 === undefined ? undefined : t.localSha256 === d.sha256;
        lines.push(
          h("span", { class: "ok" }, `✔ Delivered: ${state.peer.name}'s agent verified size and SHA-256. `),
          `To ${who}.`,
          h("br"),
          h("span", { class: "fp", "data-testid": "sha256" }, `SHA-256 ${d.sha256}`),
          h("br"),
          match === undefined
            ? "(too large to hash in the browser)"
            : match
              ? h(
                  "span",
                  { class: "ok", "data-testid": "sha256-match" },
                  "✔ the same SHA-256 your browser computed for the file you picked",
                )
              : h(
                  "span",
                  { class: "error" },
                  "✘ NOT the SHA-256 your browser computed for the file you picked",
                ),
        );
      }
      result.replaceChildren(...lines);
      li.dataset.state = "done";
    },
    failed(error) {
      actions.replaceChildren();
      bar.hidden = true;
      result.replaceChildren(h("span", { class: "error" }, `✘ ${error}`));
      li.dataset.state = "failed";
    },
  };
  transfers.set(m.id, t);
  return t;
}

refreshControls();
