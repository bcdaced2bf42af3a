// The fleet dashboard's script (served at /dashboard.js; see page.py for who may use it).
// No framework, no third-party code. Data comes from the daemon's bearer-protected JSON routes;
// every value from the store is set with textContent (never as HTML).
"use strict";
(function () {
  const KEY = "sp_token"; // the service token, this tab only (sessionStorage)
  const POLL_MS = 3000;
  const main = document.querySelector("main");
  const view = main ? main.dataset.view : "";

  if (view === "login") {
    // a sign-in page means no valid sign-in here: forget any token, keep the one typed next
    sessionStorage.removeItem(KEY);
    const form = document.getElementById("login");
    form.addEventListener("submit", () => sessionStorage.setItem(KEY, form.elements.token.value));
    return;
  }
  if (view !== "fleet") return;

  const logoutForm = document.getElementById("logout");
  logoutForm.addEventListener("submit", () => sessionStorage.removeItem(KEY));
  const signOut = () => {
    sessionStorage.removeItem(KEY);
    logoutForm.submit();
  };
  const token = sessionStorage.getItem(KEY);
  if (!token) {
    signOut(); // another tab or a restored session: sign in again in this one
    return;
  }

  const $ = (id) => document.getElementById(id);
  const tbody = $("rows");
  const notice = $("notice");
  const rows = new Map(); // account id -> {tr, el: {...}, data}
  const lastQr = new Map(); // account id -> QR text shown
  let noticeFor = null; // the account a pairing-code notice is about (cleared once it connects)

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    if (resp.status === 401) {
      signOut();
      throw new Error("signed out");
    }
    let data = {};
    try {
      data = await resp.json();
    } catch (e) {
      data = {};
    }
    return { status: resp.status, ok: resp.ok, data };
  }

  function say(text, isError, account) {
    notice.textContent = text;
    notice.className = isError ? "err" : "";
    noticeFor = account || null;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function ago(iso) {
    if (!iso) return "—";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " days ago";
  }

  function statusClass(status) {
    if (status === "connected") return "status s-connected";
    if (["connecting", "qr_ready", "degraded"].includes(status)) return "status s-wait";
    return "status s-bad";
  }

  function td(tr, label, cls) {
    const cell = document.createElement("td");
    if (label) cell.dataset.label = label;
    if (cls) cell.className = cls;
    tr.appendChild(cell);
    return cell;
  }

  function div(parent, cls) {
    const el = document.createElement("div");
    if (cls) el.className = cls;
    parent.appendChild(el);
    return el;
  }

  function button(parent, text, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.action = action;
    parent.appendChild(b);
    return b;
  }

  function makeRow(id) {
    const tr = document.createElement("tr");
    tr.dataset.account = id;
    const el = {};
    const name = td(tr, "", "name");
    el.name = div(name, "");
    el.name.style.fontWeight = "600";
    el.sub = div(name, "muted");
    const status = td(tr, "Status");
    el.status = div(status, "status");
    el.reason = div(status, "reason");
    el.qr = div(status, "qr");
    el.qr.hidden = true;
    el.qrImg = document.createElement("img");
    el.qrImg.alt = "QR code: WhatsApp > Linked devices > Link a device";
    el.qr.appendChild(el.qrImg);
    el.code = div(el.qr, "code");
    el.lastIn = td(tr, "Last inbound");
    el.lastOut = td(tr, "Last outbound");
    el.today = td(tr, "Today in / out");
    el.queue = td(tr, "Queue");
    el.failures = td(tr, "Failures");
    el.owner = td(tr, "Owner");
    const actions = div(td(tr, "", ""), "actions");
    el.repair = button(actions, "New QR", "repair");
    el.pcode = button(actions, "Pairing code", "pairing-code");
    el.backfill = button(actions, "Backfill", "backfill");
    el.autoreply = button(actions, "Turn on auto-reply", "turn-on");
    const entry = { tr, el, data: null };
    actions.addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (b && !b.disabled) act(b.dataset.action, entry.data);
    });
    return entry;
  }

  function fill(entry, a) {
    const el = entry.el;
    entry.data = a;
    setText(el.name, a.name || a.id);
    setText(el.sub, (a.phone ? a.phone + " · " : "") + a.id);
    setText(el.status, a.status.replace(/_/g, " "));
    if (el.status.className !== statusClass(a.status)) el.status.className = statusClass(a.status);
    setText(el.reason, a.reason || "");
    el.reason.title = a.reason || "";
    const here = a.runsHere;
    const elsewhere = a.owner ? "on " + a.owner : "not running";
    setText(el.lastIn, here ? ago(a.lastInboundAt) : elsewhere);
    el.lastIn.title = a.lastInboundAt || "";
    setText(el.lastOut, here ? ago(a.lastOutboundAt) : elsewhere);
    el.lastOut.title = a.lastOutboundAt || "";
    setText(el.today, here ? a.inboundToday + " / " + a.outboundToday : "—");
    setText(el.queue, String(a.queueDepth));
    setText(el.failures, here ? a.failedToday + " sends · " + a.reconnects + " reconnects" : "—");
    setText(el.owner, a.owner ? a.owner + (here ? " (this daemon)" : "") : "none");
    el.repair.disabled = a.status === "connected";
    el.repair.title = a.status === "connected" ? "Connected: nothing to re-pair" : "";
    el.pcode.disabled = a.status === "connected";
    // by state: "Resume" would be wrong for a number that never had auto-reply on
    setText(el.autoreply, a.autoReplyEnabled ? "Pause auto-reply" : "Turn on auto-reply");
    el.autoreply.dataset.action = a.autoReplyEnabled ? "pause" : "turn-on";
    // the code is typed on the phone: once the number is connected its notice is stale
    if (noticeFor === a.id && a.status === "connected") say("");
  }

  async function showQr(entry) {
    const a = entry.data;
    if (!a.pairing) {
      entry.el.qr.hidden = true;
      lastQr.delete(a.id);
      return;
    }
    const { ok, data } = await api("GET", "/api/whatsapp/qr/" + encodeURIComponent(a.id));
    if (!ok) return;
    if (data.qrCode && lastQr.get(a.id) !== data.qr) {
      entry.el.qrImg.src = data.qrCode; // a data: URL made by the daemon
      lastQr.set(a.id, data.qr);
    }
    entry.el.qrImg.hidden = !data.qrCode;
    setText(entry.el.code, data.pairingCode ? "Code: " + data.pairingCode : "");
    entry.el.qr.hidden = !(data.qrCode || data.pairingCode);
  }

  async function refresh() {
    let reply;
    try {
      reply = await api("GET", "/api/fleet");
    } catch (e) {
      $("offline").classList.add("on");
      return;
    }
    $("offline").classList.toggle("on", !reply.ok);
    if (!reply.ok) return;
    const accounts = reply.data.accounts;
    const seen = new Set();
    let previous = null;
    for (const a of accounts) {
      seen.add(a.id);
      let entry = rows.get(a.id);
      if (!entry) {
        entry = makeRow(a.id);
        rows.set(a.id, entry);
      }
      fill(entry, a);
      // keep the server's order, moving a row only when it is out of place
      const want = previous ? previous.nextSibling : tbody.firstChild;
      if (want !== entry.tr) tbody.insertBefore(entry.tr, want);
      previous = entry.tr;
    }
    for (const [id, entry] of rows) {
      if (!seen.has(id)) {
        entry.tr.remove();
        rows.delete(id);
      }
    }
    const empty = $("empty");
    if (empty) empty.hidden = accounts.length > 0;
    if (empty && accounts.length === 0) setText(empty.firstChild, "No numbers yet: add one.");
    const connected = accounts.filter((a) => a.status === "connected").length;
    setText(
      $("summary"),
      accounts.length + (accounts.length === 1 ? " number · " : " numbers · ") +
        connected + " connected · " +
        reply.data.pairingsInProgress + " pairing"
    );
    await Promise.all([...rows.values()].map((entry) => showQr(entry).catch(() => {})));
  }

  function confirmWith(text, phone) {
    const dialog = $("confirm");
    setText($("confirm-text"), text);
    $("confirm-extra").hidden = phone === undefined;
    if (phone !== undefined) $("confirm-phone").value = phone;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    });
  }

  const ACTIONS = {
    repair: (a) => ({
      ask: "Start a new pairing of " + (a.name || a.id) + "? A new QR code appears in its row.",
      run: () => api("POST", "/api/whatsapp/regenerate-qr/" + encodeURIComponent(a.id), {}),
    }),
    "pairing-code": (a) => ({
      ask: "Pair " + (a.name || a.id) + " with a code typed on the phone? Check the number:",
      phone: a.phone,
      run: () =>
        api("POST", "/api/whatsapp/pairing-code/" + encodeURIComponent(a.id), {
          phone: $("confirm-phone").value.trim(),
        }),
    }),
    backfill: (a) => ({
      ask: "Ask the phone of " + (a.name || a.id) + " for older messages of recent chats?",
      run: () => api("POST", "/api/whatsapp/backfill/" + encodeURIComponent(a.id), {}),
    }),
    pause: (a) => ({
      ask: "Pause auto-reply on " + (a.name || a.id) + "? Clients get no automatic answers.",
      run: () => autoReply(a, false),
    }),
    "turn-on": (a) => ({
      ask: "Turn on auto-reply for " + (a.name || a.id) + "? Clients get automatic answers.",
      run: () => autoReply(a, true),
    }),
  };

  function autoReply(a, enabled) {
    const path = "/api/whatsapp/auto-reply-settings/" + encodeURIComponent(a.id);
    return api("POST", path, { enabled });
  }

  async function act(action, a) {
    const plan = ACTIONS[action](a);
    if (!(await confirmWith(plan.ask, plan.phone))) return;
    try {
      const { ok, data } = await plan.run();
      const done = data.pairingCode
        ? "Pairing code for " + (a.name || a.id) + ": " + data.pairingCode
        : data.message || "Done.";
      const failed = data.message || "That did not work (" + (data.error || "error") + ").";
      say(ok ? done : failed, !ok, ok && data.pairingCode ? a.id : null);
    } catch (e) {
      say("The daemon did not answer; try again.", true);
    }
    refresh();
  }

  $("add").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const body = { name: form.elements.name.value.trim(), phone: form.elements.phone.value.trim() };
    try {
      const { ok, data } = await api("POST", "/api/whatsapp/add-account", body);
      say(ok ? "Added " + body.name + ": scan the QR code in its row." : data.message, !ok);
      if (ok) form.reset();
    } catch (e) {
      say("The daemon did not answer; try again.", true);
    }
    refresh();
  });

  async function loop() {
    try {
      await refresh();
    } finally {
      setTimeout(loop, POLL_MS);
    }
  }
  loop();
})();
