// The local demo chat page (/demo): the chat REST contract of SPEC §7, looking like the widget
// (quick replies that retire once answered, links as buttons, times, a typing bubble, the team
// member's name, and a new chat after the conversation is closed).
const log = document.getElementById("log");
const statusLine = document.getElementById("status");
const KEY = "parley-demo-session";
let sessionId = sessionStorage.getItem(KEY);
let events = null;
const NEW_CHAT = "/new_chat";
const STATUS_TEXT = { queued: "Waiting for a team member…", human: "You're chatting with a team member.", closed: "This conversation is closed.", bot: "" };

function clock(at) {
  const when = at ? new Date(at) : new Date();
  return (isNaN(when.getTime()) ? new Date() : when).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}
function withLinks(node, text) {
  let at = 0;
  text.replace(/https?:\/\/[^\s<>"']+/g, (match, offset) => {
    const url = match.replace(/[.,;:!?)]+$/, "");
    node.append(document.createTextNode(text.slice(at, offset)));
    const a = document.createElement("a");
    a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer"; a.className = "linkbtn";
    a.textContent = /\/pay\//.test(url) ? "Open secure payment page" : "Open link";
    node.append(document.createTextNode("\n"), a);
    at = offset + url.length;
    return match;
  });
  node.append(document.createTextNode(text.slice(at)));
}
function show(text, who, at, name) {
  if (who === "agent" && name) {
    const line = document.createElement("div"); line.className = "who"; line.textContent = name + " · Team member";
    log.appendChild(line);
  }
  const div = document.createElement("div"); div.className = "msg " + who;
  if (who === "debtor" || who === "error") div.append(document.createTextNode(text)); else withLinks(div, text);
  div.setAttribute("data-at", clock(at));
  log.appendChild(div); log.scrollTop = log.scrollHeight;
}
function retire(chosen) {
  for (const row of log.querySelectorAll(".buttons:not(.answered)")) {
    row.classList.add("answered"); row.setAttribute("aria-label", "Choices already answered");
    for (const b of row.querySelectorAll("button")) { b.disabled = true; b.setAttribute("aria-pressed", b === chosen ? "true" : "false"); }
  }
}
function showButtons(buttons, answered) {
  const row = document.createElement("div"); row.className = "buttons"; row.setAttribute("role", "group"); row.setAttribute("aria-label", "Quick replies");
  for (const b of buttons) {
    const btn = document.createElement("button"); btn.type = "button"; btn.textContent = b.title;
    if (b.payload === NEW_CHAT) { btn.className = "newchat"; btn.onclick = () => { retire(btn); newChat(); }; }
    else btn.onclick = () => { retire(btn); send(b.title, b.payload); };
    row.appendChild(btn);
  }
  log.appendChild(row);
  if (answered) retire(null);
  log.scrollTop = log.scrollHeight;
}
function showAll(messages) {
  for (const m of messages) show(m.text, "bot");
  const last = messages[messages.length - 1];
  if (last && last.buttons && last.buttons.length) showButtons(last.buttons);
}
function setStatus(status) {
  statusLine.textContent = STATUS_TEXT[status] || "";
  if (status === "closed" && !log.querySelector(".buttons:not(.answered) .newchat")) showButtons([{ title: "Start a new chat", payload: NEW_CHAT }]);
}
function typing(on) {
  const old = log.querySelector(".typing"); if (old) old.remove();
  if (!on) return;
  const dots = document.createElement("div"); dots.className = "msg bot typing"; dots.setAttribute("aria-hidden", "true"); dots.textContent = "•••";
  log.appendChild(dots); log.scrollTop = log.scrollHeight;
}
// Live messages (a team member's replies) arrive over server-sent events; bot replies come with
// each POST, so the stream carries only what the debtor did not get as a response.
function listen() {
  if (events) events.close();
  events = new EventSource(`/api/chat/sessions/${sessionId}/events`);
  events.addEventListener("message", (e) => { const d = JSON.parse(e.data); show(d.text, "agent", null, d.name); });
  events.addEventListener("status", (e) => setStatus(JSON.parse(e.data).status));
}
async function fresh() {
  const r = await fetch("/api/chat/sessions", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  const body = await r.json();
  if (!r.ok) { show(body.error ? body.error.message : "The chat is not available right now.", "error"); return; }
  sessionId = body.session_id; sessionStorage.setItem(KEY, sessionId);
  showAll(body.messages); listen();
}
async function start() {
  if (sessionId) {
    const r = await fetch(`/api/chat/sessions/${sessionId}/messages`);
    if (r.ok) {
      const body = await r.json();
      body.messages.forEach((m, i) => {
        show(m.text, m.sender || "bot", m.at, m.name);
        const later = body.messages.slice(i + 1).some((n) => n.sender === "debtor");
        if (m.buttons && m.buttons.length) showButtons(m.buttons, later || i < body.messages.length - 1);
      });
      setStatus(body.status); listen(); return;
    }
  }
  await fresh();
}
async function newChat() {
  if (events) { events.close(); events = null; }
  sessionStorage.removeItem(KEY); sessionId = null;
  log.textContent = ""; setStatus("bot");
  await fresh();
  document.getElementById("text").focus();
}
// A pressed button sends its title (what the debtor sees) and its payload.
async function send(text, payload) {
  retire(null);
  show(text, "debtor");
  typing(true);
  try {
    const r = await fetch(`/api/chat/sessions/${sessionId}/messages`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload ? { text, payload } : { text }) });
    const body = await r.json();
    typing(false);
    if (!r.ok) { show(body.error ? body.error.message : "Something went wrong.", "error"); return; }
    showAll(body.messages); setStatus(body.status);
  } catch (e) { typing(false); show("The chat is not available right now. Please try again.", "error"); }
}
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault(); const input = document.getElementById("text");
  if (input.value.trim()) { send(input.value); input.value = ""; }
};
start();
