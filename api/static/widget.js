/*! Parley web-chat widget. One tag embeds it (docs/widget.md):
 *  <script src="https://HOST/widget.js" data-server="https://HOST" data-title="Help"
 *          data-color="#1d4ed8" data-portal-token="..."></script>
 * Hand-written and dependency-free: it renders in a shadow root (no CSS clashes either way),
 * talks to the chat REST API (SPEC §7) and receives a person's replies over a WebSocket.
 */
(function () {
  "use strict";
  if (window.__parleyWidget) return; // the tag included twice must not make two chats
  window.__parleyWidget = true;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var data = (script && script.dataset) || {};
  var server = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var title = data.title || "Chat with us";
  var color = /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(data.color || "") ? data.color : "#1d4ed8";
  var portalToken = data.portalToken || null;
  var KEY = "parley-widget:" + server; // localStorage: one chat per API server, shared by tabs
  var STATUS_TEXT = {
    queued: "Waiting for a team member…",
    human: "You're chatting with a team member.",
    closed: "This conversation is closed.",
    bot: "",
  };
  var SENDER_LABEL = { bot: "Assistant", agent: "Team member", debtor: "You", error: "Notice" };

  // ---- state -------------------------------------------------------------------------------
  var sessionId = null;
  var lastId = 0; // the newest message id known here: a socket resumes after it
  var seen = {}; // agent message ids already shown
  var socket = null;
  var retries = 0;
  var retryTimer = null;
  var loaded = false;
  var starting = null;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null") || {}; } catch (e) { return {}; }
  }
  function save(patch) {
    var value = load();
    for (var k in patch) value[k] = patch[k];
    try { localStorage.setItem(KEY, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function remember(isOpen) {
    // Per tab (sessionStorage): a reload reopens the panel, a new tab starts closed.
    try { sessionStorage.setItem(KEY, isOpen ? "open" : "closed"); } catch (e) { /* ignore */ }
  }
  function tokenSubject(token) {
    // Only to notice that the portal now signs in someone else; the server checks the token.
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).sub || null;
    } catch (e) { return null; }
  }

  // ---- DOM ---------------------------------------------------------------------------------
  function contrastText(hex) {
    var h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, "$&$&").slice(1) : hex.slice(1);
    var c = [0, 2, 4].map(function (i) {
      var v = parseInt(h.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    return (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) ? "#111" : "#fff";
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }

  var host = el("div", { id: "parley-chat", "data-parley": "widget" });
  var root = host.attachShadow({ mode: "open" });
  var ink = contrastText(color);
  var style = el("style", {}, [
    ":host{all:initial;position:fixed;z-index:2147483000;right:16px;bottom:16px;",
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111;}",
    "*{box-sizing:border-box;font:inherit;}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;}",
    "button{cursor:pointer;}",
    ":focus-visible{outline:3px solid #f59e0b;outline-offset:2px;}",
    ".launcher{background:" + color + ";color:" + ink + ";border:0;border-radius:999px;",
    "padding:12px 18px;font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.25);}",
    ".panel{display:flex;flex-direction:column;width:370px;height:min(580px,calc(100vh - 32px));",
    "background:#fff;border:1px solid #c9ced6;border-radius:12px;overflow:hidden;",
    "box-shadow:0 10px 30px rgba(0,0,0,.25);}",
    ".panel[hidden],.launcher[hidden]{display:none;}",
    "header{display:flex;align-items:center;justify-content:space-between;gap:8px;",
    "background:" + color + ";color:" + ink + ";padding:10px 12px;}",
    "h2{margin:0;font-size:16px;font-weight:700;}",
    ".close{background:transparent;color:inherit;border:2px solid transparent;border-radius:6px;",
    "font-size:22px;line-height:1;padding:2px 8px;}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f6f7f9;}",
    ".msg{margin:6px 0;padding:8px 11px;border-radius:12px;max-width:85%;white-space:pre-wrap;",
    "overflow-wrap:anywhere;width:fit-content;}",
    ".bot{background:#e6ecfa;}.agent{background:#fff1c7;border:1px solid #d9b84a;}",
    ".debtor{background:#d7f1dd;margin-left:auto;}.error{background:#fde2e2;color:#7a1010;}",
    ".replies{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0 10px;}",
    ".replies button{background:#fff;color:#1e3a8a;border:1px solid #1e3a8a;border-radius:999px;",
    "padding:6px 12px;}",
    ".replies.answered button{cursor:default;color:#4b5563;border-color:#9ca3af;background:#f3f4f6;}",
    ".replies.answered button[aria-pressed=true]{color:#111;border-color:#374151;font-weight:600;}",
    ".replies .newchat{background:" + color + ";color:" + ink + ";border-color:" + color + ";font-weight:600;}",
    ".who{display:block;font-size:12px;font-weight:700;color:#6b4f00;margin-bottom:2px;}",
    ".ended{text-align:center;font-size:12px;color:#4b5563;margin:10px 0;}",
    ".linkbtn{display:inline-block;margin-top:6px;background:" + color + ";color:" + ink + ";",
    "padding:6px 12px;border-radius:8px;text-decoration:none;font-weight:600;}",
    ".msg[data-at]::after{content:attr(data-at);display:block;font-size:11px;color:#4b5563;",
    "margin-top:2px;}",
    ".typing::after{content:none;}",
    ".typing{letter-spacing:3px;color:#374151;}",
    ".status{margin:0;padding:0 12px;color:#374151;font-size:13px;background:#f6f7f9;}",
    ".status:not(:empty){padding:4px 12px;}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #d5d9e0;background:#fff;}",
    "input{flex:1;min-width:0;padding:10px;border:1px solid #6b7280;border-radius:8px;color:#111;",
    "font-size:16px;}", // 16px: phones do not zoom into the field
    ".send{background:" + color + ";color:" + ink + ";border:0;border-radius:8px;padding:0 14px;",
    "font-weight:600;}",
    "@media (max-width:480px){:host{right:12px;bottom:12px;}",
    ":host([data-open]){inset:0;right:0;bottom:0;}",
    ".panel{position:fixed;inset:0;width:100vw;height:100%;max-height:100dvh;",
    "border-radius:0;border:0;}}",
  ].join(""));

  var launcher = el("button", {
    type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "parley-panel",
    "aria-label": "Open chat: " + title,
  }, title);
  var panel = el("section", {
    id: "parley-panel", class: "panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": "parley-title", hidden: "",
  });
  var header = el("header");
  var heading = el("h2", { id: "parley-title" }, title);
  var closeBtn = el("button", { type: "button", class: "close", "aria-label": "Close chat" }, "×");
  header.append(heading, closeBtn);
  var log = el("div", {
    class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": "Conversation", tabindex: "0",
  });
  var status = el("p", { class: "status", role: "status" });
  var form = el("form", { "aria-label": "Send a message" });
  var label = el("label", { for: "parley-input", class: "sr" }, "Message");
  var input = el("input", {
    id: "parley-input", type: "text", autocomplete: "off", maxlength: "2000",
    placeholder: "Type a message", enterkeyhint: "send",
  });
  var send = el("button", { type: "submit", class: "send" }, "Send");
  form.append(label, input, send);
  panel.append(header, log, status, form);
  root.append(style, launcher, panel);

  // ---- rendering ---------------------------------------------------------------------------
  function scroll() { log.scrollTop = log.scrollHeight; }
  // Links the assistant or an agent sends (payment page, notice) are links, shown as a button
  // with a plain label; only http(s) addresses, never markup from the text.
  var URL_RE = /https?:\/\/[^\s<>"']+/g;
  function linkLabel(url) {
    return /\/pay\/|checkout\.stripe\.com/.test(url) ? "Open secure payment page" : "Open link";
  }
  function withLinks(node, text) {
    var at = 0;
    text.replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)]+$/, "");
      node.append(document.createTextNode(text.slice(at, offset)));
      var a = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "linkbtn" }, linkLabel(url));
      node.append(document.createTextNode("\n"), a);
      at = offset + url.length;
      return match;
    });
    node.append(document.createTextNode(text.slice(at)));
  }
  // The time of a message, shown under it by CSS (not part of its text).
  function clock(at) {
    var when = at ? new Date(at) : new Date();
    if (isNaN(when.getTime())) when = new Date();
    return when.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }
  function show(text, sender, at, name) {
    var node = el("div", { class: "msg " + sender });
    if (sender === "agent" && name) {
      // A person's reply says who wrote it (their display name, set by the admin).
      node.append(el("span", { class: "who" }, name + " · Team member"));
      node.append(el("span", { class: "sr" }, ": "));
    } else {
      node.append(el("span", { class: "sr" }, SENDER_LABEL[sender] + ": "));
    }
    if (sender === "debtor" || sender === "error") node.append(document.createTextNode(text));
    else withLinks(node, text);
    node.setAttribute("data-at", clock(at));
    log.append(node);
    scroll();
    return node;
  }
  function typing(on) {
    var old = log.querySelector(".typing");
    if (old) old.remove();
    if (!on) return;
    log.append(el("div", { class: "msg bot typing", "aria-hidden": "true" }, "•••"));
    scroll();
  }
  // Quick replies stay in the conversation once answered, but can no longer be pressed: the
  // one chosen is marked, so the debtor sees what they said and cannot answer an old question.
  function retire(group, chosen) {
    group.classList.add("answered");
    group.setAttribute("aria-label", "Choices already answered");
    var buttons = group.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].setAttribute("aria-pressed", buttons[i] === chosen ? "true" : "false");
    }
  }
  function clearReplies(chosen) {
    var open = log.querySelectorAll(".replies:not(.answered)");
    for (var i = 0; i < open.length; i++) retire(open[i], chosen && open[i].contains(chosen) ? chosen : null);
  }
  var NEW_CHAT = "/new_chat";
  function showReplies(buttons, answered) {
    var group = el("div", { class: "replies", role: "group", "aria-label": "Quick replies" });
    buttons.forEach(function (b) {
      var button = el("button", { type: "button" }, b.title);
      if (b.payload === NEW_CHAT) {
        button.className = "newchat";
        button.addEventListener("click", function () { newChat(button); });
      } else {
        button.addEventListener("click", function () { clearReplies(button); sendText(b.title, b.payload); });
      }
      group.append(button);
    });
    log.append(group);
    if (answered) retire(group, null);
    scroll();
  }
  // A closed conversation offers a fresh one (SPEC §7): one button, shown once.
  function offerNewChat() {
    if (log.querySelector(".replies:not(.answered) .newchat")) return;
    showReplies([{ title: "Start a new chat", payload: NEW_CHAT }]);
  }
  function newChat(chosen) {
    clearReplies(chosen);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    clearTimeout(retryTimer);
    save({ id: null, account: null, at: Date.now() });
    sessionId = null;
    lastId = 0;
    log.textContent = ""; // a fresh conversation, as a reload would show it
    setStatus("bot");
    // A portal sign-in token is good for one chat only: the new chat starts unverified.
    portalToken = null;
    starting = null;
    startSession(null).then(function () { input.focus(); });
  }
  function showBotMessages(messages) {
    clearReplies();
    messages.forEach(function (m) { show(m.text, "bot"); });
    var last = messages[messages.length - 1];
    if (last && last.buttons && last.buttons.length) showReplies(last.buttons);
  }
  function setStatus(value) {
    status.textContent = STATUS_TEXT[value] || "";
    if (value === "closed") offerNewChat();
  }

  // ---- API ---------------------------------------------------------------------------------
  function api(method, path, body) {
    return fetch(server + path, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        return { ok: r.ok, status: r.status, body: json };
      });
    });
  }
  function errorText(res) {
    return (res.body && res.body.error && res.body.error.message) || "Something went wrong. Please try again.";
  }
  function unavailable() {
    show("The chat is not available right now. Please try again later.", "error");
  }

  function startSession(token) {
    return api("POST", "/api/chat/sessions", token ? { portal_token: token } : {}).then(function (res) {
      if (res.status === 401 && token) {
        // A stale or forged sign-in: say so, and offer the ordinary (unverified) chat.
        show(errorText(res), "error");
        var again = el("div", { class: "replies", role: "group", "aria-label": "Options" });
        var plain = el("button", { type: "button" }, "Continue without signing in");
        plain.addEventListener("click", function () { again.remove(); portalToken = null; begin(); });
        again.append(plain);
        log.append(again);
        return;
      }
      if (!res.ok) { show(errorText(res), "error"); return; }
      sessionId = res.body.session_id;
      lastId = 0;
      seen = {};
      save({ id: sessionId, account: token ? tokenSubject(token) : null, at: Date.now() });
      showBotMessages(res.body.messages);
      connect();
    });
  }

  function resume(id) {
    return api("GET", "/api/chat/sessions/" + encodeURIComponent(id) + "/messages").then(function (res) {
      if (res.status === 404) { save({ id: null }); return false; }
      if (!res.ok) { show(errorText(res), "error"); return true; }
      sessionId = id;
      renderTranscript(res.body);
      connect();
      return true;
    });
  }
  function renderTranscript(body) {
    log.textContent = "";
    seen = {};
    var msgs = body.messages || [];
    msgs.forEach(function (m, i) {
      show(m.text, m.sender || "bot", m.at, m.name);
      if (m.id) lastId = Math.max(lastId, m.id);
      if (m.sender === "agent" && m.id) seen[m.id] = true;
      var later = msgs.slice(i + 1).some(function (n) { return n.sender === "debtor"; });
      if (m.buttons && m.buttons.length && (later || m.sender === "debtor")) showReplies(m.buttons, true);
    });
    var last = msgs[msgs.length - 1];
    if (last && last.sender !== "debtor" && last.buttons && last.buttons.length) showReplies(last.buttons);
    setStatus(body.status);
  }

  function begin() {
    // One start at a time, whichever of open / reload / another tab asked first.
    if (starting) return starting;
    var stored = load();
    var wanted = portalToken ? tokenSubject(portalToken) : null;
    var reuse = stored.id && (!portalToken || stored.account === wanted);
    starting = (reuse ? resume(stored.id) : Promise.resolve(false))
      .then(function (resumed) { if (!resumed) return startSession(portalToken); })
      .catch(unavailable)
      .then(function () { loaded = true; starting = null; });
    return starting;
  }

  var pending = Promise.resolve();
  // A pressed quick reply sends its title (what the debtor sees and said) and its payload; only
  // a payload the assistant just offered is read as one, everything else is read as text.
  function sendText(text, payload) {
    clearReplies();
    show(text, "debtor");
    save({ at: Date.now() });
    pending = pending.then(function () {
      if (!sessionId) return;
      log.setAttribute("aria-busy", "true");
      typing(true);
      var body = payload ? { text: text, payload: payload } : { text: text };
      return api("POST", "/api/chat/sessions/" + encodeURIComponent(sessionId) + "/messages", body)
        .then(function (res) {
          typing(false);
          if (!res.ok) { show(errorText(res), "error"); return; }
          showBotMessages(res.body.messages);
          setStatus(res.body.status);
          save({ at: Date.now() }); // other tabs re-read the transcript on this change
        })
        .catch(unavailable)
        .then(function () { typing(false); log.removeAttribute("aria-busy"); });
    });
    return pending;
  }

  // ---- live messages: WebSocket with reconnect and backoff ---------------------------------
  function connect() {
    if (!sessionId || !window.WebSocket) return;
    if (socket && socket.readyState <= 1 && socket.__session === sessionId) return;
    clearTimeout(retryTimer);
    if (socket) { socket.onclose = null; socket.close(); }
    var url = server.replace(/^http/, "ws") + "/api/chat/sessions/" + encodeURIComponent(sessionId) + "/ws?after=" + lastId;
    var ws = new WebSocket(url);
    ws.__session = sessionId;
    socket = ws;
    ws.onopen = function () { retries = 0; };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "message") {
        if (frame.id) lastId = Math.max(lastId, frame.id);
        if (seen[frame.id]) return;
        seen[frame.id] = true;
        show(frame.text, "agent", frame.at, frame.name);
      } else if (frame.type === "status") {
        setStatus(frame.status);
      }
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4403 || event.code === 4404) return; // refused: retrying cannot help
      // 1s, 2s, 4s … capped at 30s, with jitter so a server restart is not hit all at once.
      var delay = Math.min(30000, 1000 * Math.pow(2, retries++)) * (0.75 + Math.random() / 2);
      retryTimer = setTimeout(connect, delay);
    };
  }

  // ---- opening, closing, keyboard ----------------------------------------------------------
  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    host.setAttribute("data-open", "");
    launcher.setAttribute("aria-expanded", "true");
    remember(true);
    input.focus();
    if (!loaded) begin();
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    host.removeAttribute("data-open");
    launcher.setAttribute("aria-expanded", "false");
    remember(false);
    launcher.focus();
  }
  launcher.addEventListener("click", open);
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); close(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    if (sessionId) sendText(text);
    else begin().then(function () { if (sessionId) sendText(text); });
  });

  // Another tab started a chat or took a turn: follow it (same server, same debtor).
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY || !loaded || starting) return;
    var before = {}, after = load();
    try { before = JSON.parse(event.oldValue || "null") || {}; } catch (e) { /* ignore */ }
    if (!after.id || (after.id === before.id && after.at === before.at)) return;
    resume(after.id);
  });
  window.addEventListener("online", function () { if (sessionId && !socket) connect(); });

  function mount() {
    document.body.append(host);
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(KEY) === "open"; } catch (e) { /* ignore */ }
    if (wasOpen) open();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
