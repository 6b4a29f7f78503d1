// Parley console: live refresh of the queue and the open conversation.
// The server pushes `changed` events (SSE); the page then fetches the fresh HTML fragment.
// Typed text in the reply and note boxes survives a refresh.
(function () {
  "use strict";
  const target = document.querySelector("[data-live]");
  if (!target || !window.EventSource) return;
  const container = target.hasAttribute("data-live-target") ? target : target.querySelector("[data-live-target]");
  const indicator = document.getElementById("live-indicator");
  let refreshing = false;
  let again = false;

  function keepInputs(root) {
    const kept = {};
    root.querySelectorAll("textarea[id], input[id], select[id]").forEach((el) => {
      kept[el.id] = el.type === "checkbox" ? el.checked : el.value;
    });
    const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
    return { kept, focused };
  }

  function restoreInputs(root, state) {
    for (const [id, value] of Object.entries(state.kept)) {
      const el = root.querySelector("#" + CSS.escape(id));
      if (!el) continue;
      if (el.type === "checkbox") el.checked = value; else if (el.type !== "hidden") el.value = value;
    }
    if (state.focused) {
      const el = root.querySelector("#" + CSS.escape(state.focused));
      if (el) el.focus();
    }
  }

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(target.dataset.refresh, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) { window.location = "/console/login"; return; }
      if (response.ok) {
        const state = keepInputs(container);
        container.innerHTML = await response.text();
        restoreInputs(container, state);
        const transcript = container.querySelector("#transcript");
        if (transcript) transcript.scrollTop = transcript.scrollHeight;
      }
    } finally {
      refreshing = false;
      if (again) { again = false; refresh(); }
    }
  }

  const source = new EventSource(target.dataset.live);
  source.addEventListener("changed", refresh);
  source.onopen = () => { if (indicator) indicator.classList.add("on"); };
  source.onerror = () => { if (indicator) indicator.classList.remove("on"); };
  const transcript = document.getElementById("transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;
})();
