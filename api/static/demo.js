// The local demo chat page (/demo): the chat REST contract of SPEC §7, without the widget.
const log = document.getElementById("log");
let sessionId = sessionStorage.getItem("parley-demo-session");
function show(text, who) {
  const div = document.createElement("div"); div.className = "msg " + who; div.textContent = text;
  log.appendChild(div); log.scrollTop = log.scrollHeight;
}
function showAll(messages) {
  for (const m of messages) {
    show(m.text, "bot");
    if (m.buttons && m.buttons.length) {
      const row = document.createElement("div"); row.className = "buttons";
      for (const b of m.buttons) {
        const btn = document.createElement("button"); btn.textContent = b.title;
        btn.onclick = () => send(b.title, b.payload); row.appendChild(btn);
      }
      log.appendChild(row);
    }
  }
}
const STATUS_TEXT = {queued: "Waiting for a team member…", human: "You're chatting with a team member.", closed: "This conversation is closed.", bot: ""};
function setStatus(status) { document.getElementById("status").textContent = STATUS_TEXT[status] || ""; }
// Live messages (a team member's replies) arrive over server-sent events; bot replies come with
// each POST, so the stream carries only what the debtor did not get as a response.
function listen() {
  const events = new EventSource(`/api/chat/sessions/${sessionId}/events`);
  events.addEventListener("message", (e) => show(JSON.parse(e.data).text, "agent"));
  events.addEventListener("status", (e) => setStatus(JSON.parse(e.data).status));
}
async function start() {
  if (sessionId) {
    const r = await fetch(`/api/chat/sessions/${sessionId}/messages`);
    if (r.ok) { const body = await r.json(); for (const m of body.messages) show(m.text, "bot"); setStatus(body.status); listen(); return; }
  }
  const r = await fetch("/api/chat/sessions", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
  const body = await r.json(); sessionId = body.session_id;
  sessionStorage.setItem("parley-demo-session", sessionId); showAll(body.messages); listen();
}
// A pressed button sends its title (what the debtor sees) and its payload.
async function send(text, payload) {
  show(text, "debtor");
  const r = await fetch(`/api/chat/sessions/${sessionId}/messages`, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload ? {text, payload} : {text})});
  const body = await r.json();
  if (!r.ok) { show(body.error ? body.error.message : "Something went wrong.", "bot"); return; }
  showAll(body.messages); setStatus(body.status);
}
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault(); const input = document.getElementById("text");
  if (input.value.trim()) { send(input.value); input.value = ""; }
};
start();
