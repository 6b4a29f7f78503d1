// Parley console: live refresh of the queue and the open conversation, the queue's keyboard
// shortcuts, and canned replies in the reply box.
// The server pushes `changed` events (SSE); the page then fetches the fresh HTML fragment.
// Typed text in the reply and note boxes, and the selected queue row, survive a refresh.
(function () {
  "use strict";

  // ---- navigation: mark the current page --------------------------------------------------
  document.querySelectorAll(".main-nav a").forEach((a) => {
    if (location.pathname === a.getAttribute("href") || location.pathname.startsWith(a.getAttribute("href") + "/")) {
      a.setAttribute("aria-current", "page");
    }
  });

  // ---- queue selection and keyboard shortcuts ---------------------------------------------
  let selected = null; // conversation id of the selected row
  function rows() { return Array.from(document.querySelectorAll("tr.queue-item")); }
  function select(row, focus) {
    rows().forEach((r) => r.classList.remove("selected"));
    if (!row) { selected = null; return; }
    row.classList.add("selected");
    selected = row.dataset.conversation;
    const link = row.querySelector("a.open");
    if (focus && link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    const all = rows();
    if (!all.length) return;
    let at = all.findIndex((r) => r.dataset.conversation === selected);
    at = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[at], true);
  }
  function reselect() {
    if (!selected) return;
    const row = rows().find((r) => r.dataset.conversation === selected);
    if (row) row.classList.add("selected"); else selected = null;
  }
  document.addEventListener("focusin", (event) => {
    const row = event.target.closest && event.target.closest("tr.queue-item");
    if (row) select(row, false);
  });

  const help = document.getElementById("help-dialog");
  const helpButton = document.getElementById("show-help");
  function showHelp() { if (help && !help.open) help.showModal(); }
  if (helpButton) helpButton.addEventListener("click", showHelp);

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  const search = document.getElementById("queue-search");
  document.addEventListener("keydown", (event) => {
    if (!document.getElementById("queue")) return; // shortcuts belong to the queue page
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (help && help.open) return; // the dialog handles Escape itself
    if (typing(event.target)) {
      if (event.key === "Escape" && event.target === search) { search.blur(); }
      return;
    }
    if (event.key === "j") { event.preventDefault(); move(1); }
    else if (event.key === "k") { event.preventDefault(); move(-1); }
    else if (event.key === "/") { event.preventDefault(); if (search) { search.focus(); search.select(); } }
    else if (event.key === "?") { event.preventDefault(); showHelp(); }
    else if (event.key === "Enter" && selected) {
      const row = rows().find((r) => r.dataset.conversation === selected);
      const link = row && row.querySelector("a.open");
      if (link && document.activeElement !== link) { event.preventDefault(); link.click(); }
    }
  });
  // A changed filter applies at once (the Apply button stays for keyboard and no-script use).
  const filters = document.getElementById("queue-filters");
  if (filters) filters.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => filters.submit()));

  // ---- canned replies: "/shortcut" then Tab or space inserts the text ---------------------
  function cannedFor(box) {
    const data = document.getElementById(box.dataset.canned || "");
    if (!data) return {};
    try { return JSON.parse(data.textContent || "{}"); } catch (e) { return {}; }
  }
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (!box || box.tagName !== "TEXTAREA" || !box.dataset.canned) return;
    if (event.key !== "Tab" && event.key !== " " && event.key !== "Enter") return;
    if (event.shiftKey && event.key === "Tab") return;
    const end = box.selectionStart;
    if (end !== box.selectionEnd) return;
    const before = box.value.slice(0, end);
    const match = /(^|\s)\/([a-z0-9][a-z0-9_-]{0,31})$/i.exec(before);
    if (!match) return;
    const text = cannedFor(box)[match[2].toLowerCase()];
    if (text === undefined) return;
    event.preventDefault();
    const start = end - match[2].length - 1;
    box.setRangeText(text, start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // ---- narrow screens ---------------------------------------------------------------------
  // Each cell of a list table is labelled with its column's header, so on a phone a row reads
  // as a card of "Header: value" lines (console-dashboard.css) instead of scrolling sideways.
  function labelCells(root) {
    root.querySelectorAll("table.list").forEach((table) => {
      const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach((tr) => {
        Array.from(tr.children).forEach((cell, i) => {
          if (heads[i] && !cell.dataset.label) cell.dataset.label = heads[i];
        });
      });
      table.classList.add("labelled");
    });
  }
  labelCells(document);

  // ---- live refresh -----------------------------------------------------------------------
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
        const focusedRow = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr.queue-item");
        container.innerHTML = await response.text();
        labelCells(container);
        restoreInputs(container, state);
        reselect();
        if (focusedRow && selected) {
          const row = rows().find((r) => r.dataset.conversation === selected);
          const link = row && row.querySelector("a.open");
          if (link) link.focus({ preventScroll: true });
        }
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
