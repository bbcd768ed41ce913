/* ECG Analyzer sandbox: a Telegram-like web chat on the Bot API emulator.
 * Plain JS, no build step, nothing loaded from the internet.
 * Messages are rendered from Telegram's text + entities (what a Telegram client gets), building DOM
 * nodes only; no HTML string from the bot is ever inserted, so only Telegram's formatting exists. */
(function () {
  "use strict";

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };

  const COLORS = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
  const ACTIONS = {
    typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…",
    upload_video: "sending a video…", record_video: "recording a video…", record_voice: "recording a voice message…",
    upload_voice: "sending a voice message…", choose_sticker: "choosing a sticker…", find_location: "finding a location…",
    record_video_note: "recording a video message…", upload_video_note: "sending a video message…",
  };

  const state = {
    bot: { username: "", first_name: "ECG Analyzer" },
    users: [],
    current: null,                 // user id
    chats: new Map(),              // user id -> {messages: Map(id -> msg json), replyKeyboard, commands, unread, loaded}
    mails: [],
    seenMails: new Set(),
    mailboxOpen: true,
    action: null,                  // {chatId, action, until}
  };

  // ------------------------------------------------------------------ HTTP
  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      opts.method = opts.method || "POST";
      delete opts.json;
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error((data && data.error) || res.status + " " + res.statusText);
    return data;
  }

  function chatOf(userId) {
    let chat = state.chats.get(userId);
    if (!chat) {
      chat = { messages: new Map(), replyKeyboard: null, commands: [], unread: 0, loaded: false };
      state.chats.set(userId, chat);
    }
    return chat;
  }

  function userName(id) {
    const u = state.users.find((x) => x.id === id);
    return u ? u.first_name : "user " + id;
  }

  // ------------------------------------------------------------------ formatting
  const LINKIFY = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])|((?:^|(?<=[\s(]))\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?(?![\w/]))|([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

  function deepLinkPayload(url) {
    const m = /^https?:\/\/(?:t\.me|telegram\.me)\/([A-Za-z0-9_]+)\?start=([A-Za-z0-9_-]{1,64})$/.exec(url || "");
    if (m && m[1].toLowerCase() === (state.bot.username || "").toLowerCase()) return m[2];
    return null;
  }

  function linkNode(url, label, forUser) {
    const payload = deepLinkPayload(url);
    const safe = /^(https?:|mailto:|tg:)/i.test(url) ? url : "#";
    const a = el("a", { href: safe, text: label, title: payload ? "Opens in the sandbox chat as /start" : url,
      target: payload ? null : "_blank", rel: "noopener noreferrer" });
    if (payload) {
      a.classList.add("deep-link");
      a.dataset.payload = payload;
      a.addEventListener("click", (ev) => { ev.preventDefault(); openDeepLink(payload, forUser); });
    }
    return a;
  }

  function appendLinkified(parent, text, forUser) {
    let last = 0;
    LINKIFY.lastIndex = 0;
    let m;
    while ((m = LINKIFY.exec(text)) !== null) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[1]) parent.append(linkNode(m[1], m[1], forUser));
      else if (m[2]) {
        const cmd = m[2];
        parent.append(el("a", { class: "command", href: "#", text: cmd,
          onclick: (ev) => { ev.preventDefault(); sendText(cmd.split("@")[0]); } }));
      } else parent.append(el("a", { href: "mailto:" + m[3], text: m[3] }));
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function entityNode(e, text) {
    switch (e.type) {
      case "bold": return el("b");
      case "italic": return el("i");
      case "underline": return el("u");
      case "strikethrough": return el("s");
      case "code": return el("code");
      case "pre": return el("pre", { "data-language": e.language || null });
      case "spoiler": return el("span", { class: "spoiler", onclick: (ev) => ev.currentTarget.classList.add("revealed") });
      case "blockquote": case "expandable_blockquote": return el("blockquote");
      case "text_link": return linkNode(e.url, "", null);
      case "url": return linkNode(/^https?:/i.test(text) ? text : "http://" + text, "", null);
      case "bot_command": return el("a", { class: "command", href: "#",
        onclick: (ev) => { ev.preventDefault(); sendText(text.split("@")[0]); } });
      case "email": return el("a", { href: "mailto:" + text });
      default: return el("span", { class: "entity-" + e.type });
    }
  }

  const PLAIN_CONTAINERS = new Set(["code", "pre", "text_link", "url", "bot_command", "email"]);

  // Offsets are UTF-16 code units, exactly what JS string indices are.
  function buildEntities(parent, text, entities, start, end, linkify) {
    let pos = start;
    let i = 0;
    while (i < entities.length) {
      const e = entities[i];
      if (e.offset < pos || e.offset >= end) { i++; continue; }
      const eEnd = Math.min(e.offset + e.length, end);
      if (e.offset > pos) append(parent, text.slice(pos, e.offset), linkify);
      const inner = [];
      let j = i + 1;
      while (j < entities.length && entities[j].offset < eEnd) { inner.push(entities[j]); j++; }
      const node = entityNode(e, text.slice(e.offset, eEnd));
      buildEntities(node, text, inner, e.offset, eEnd, linkify && !PLAIN_CONTAINERS.has(e.type));
      parent.append(node);
      pos = eEnd;
      i = j;
    }
    if (pos < end) append(parent, text.slice(pos, end), linkify);
  }

  function append(parent, text, linkify) {
    if (linkify) appendLinkified(parent, text, null); else parent.append(text);
  }

  function formatted(text, entities) {
    const frag = document.createDocumentFragment();
    const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
    buildEntities(frag, text || "", sorted, 0, (text || "").length, true);
    return frag;
  }

  function fmtTime(unix) {
    const d = new Date(unix * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function fmtSize(n) {
    if (n == null) return "";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  // ------------------------------------------------------------------ messages
  function messageNode(m, userId) {
    const wrap = el("div", { class: "msg " + (m.from_bot ? "from-bot" : "from-user"),
      "data-message-id": m.message_id, "data-from": m.from_bot ? "bot" : "user", "data-kind": m.kind });
    const bubble = el("div", { class: "bubble" });
    const chat = chatOf(userId);
    if (m.reply_to_message_id && chat.messages.has(m.reply_to_message_id)) {
      const r = chat.messages.get(m.reply_to_message_id);
      const label = r.text || r.caption || (r.kind === "photo" ? "Photo" : r.kind === "document" ? "File" : r.kind);
      bubble.append(el("div", { class: "reply-quote", text: (label || "").slice(0, 80) }));
    }
    if (m.kind === "photo" && m.photo && m.photo.length) {
      const big = m.photo[m.photo.length - 1];
      const src = "/sandbox/file/" + encodeURIComponent(big.file_id);
      const img = el("img", { class: "photo", src: src, alt: "photo", width: big.width, height: big.height, loading: "lazy" });
      img.addEventListener("click", () => window.open(src, "_blank", "noopener"));
      img.addEventListener("load", () => keepBottom());
      bubble.append(el("div", { class: "media" }, img));
    } else if (m.kind === "document" && m.document) {
      const d = m.document;
      const src = "/sandbox/file/" + encodeURIComponent(d.file_id);
      if ((d.mime_type || "").startsWith("image/")) {
        const img = el("img", { class: "photo", src: src, alt: d.file_name || "image" });
        img.addEventListener("click", () => window.open(src, "_blank", "noopener"));
        img.addEventListener("load", () => keepBottom());
        bubble.append(el("div", { class: "media" }, img));
      }
      bubble.append(el("div", { class: "doc" },
        el("div", { class: "doc-icon", text: "📄" }),
        el("div", {},
          el("a", { class: "doc-name", href: src, download: d.file_name || "file", text: d.file_name || "file" }),
          el("div", { class: "doc-size", text: fmtSize(d.file_size) + (d.mime_type ? " · " + d.mime_type : "") }))));
    } else if (m.kind === "sticker" && m.sticker) {
      bubble.append(el("div", { class: "sticker", text: m.sticker.emoji || "🖼" }));
    }
    const body = m.text != null ? m.text : m.caption;
    const textNode = el("div", { class: "text" });
    if (body) textNode.append(formatted(body, m.entities));
    textNode.append(el("span", { class: "meta", text: (m.edits ? "edited " : "") + fmtTime(m.edit_date || m.date) }));
    bubble.append(textNode);
    wrap.append(bubble);
    const rows = (m.reply_markup && m.reply_markup.inline_keyboard) || [];
    if (rows.length) {
      const kb = el("div", { class: "keyboard" });
      for (const row of rows) {
        const r = el("div", { class: "row" });
        for (const b of row) {
          if (b.callback_data !== undefined) {
            r.append(el("button", { type: "button", text: b.text, "data-callback": b.callback_data,
              onclick: (ev) => press(userId, m.message_id, b.callback_data, ev.currentTarget) }));
          } else if (b.url) {
            const a = linkNode(b.url, b.text, userId);
            a.classList.add("kb-link");
            r.append(a);
          } else {
            r.append(el("button", { type: "button", text: b.text, disabled: true, title: "not supported in the sandbox" }));
          }
        }
        kb.append(r);
      }
      wrap.append(kb);
    }
    return wrap;
  }

  function isNearBottom() {
    const box = $("#messages");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  }
  function scrollBottom() { const box = $("#messages"); box.scrollTop = box.scrollHeight; }
  let stickToBottom = true;
  function keepBottom() { if (stickToBottom) scrollBottom(); }

  function renderChat() {
    const box = $("#messages");
    box.textContent = "";
    const chat = chatOf(state.current);
    const visible = [...chat.messages.values()].filter((m) => !m.deleted).sort((a, b) => a.message_id - b.message_id);
    if (!visible.length) {
      box.append(el("div", { class: "empty-note", text: "No messages here yet. Send /start — or pick a command from ☰ Menu." }));
    }
    let lastDay = null;
    for (const m of visible) {
      const day = new Date(m.date * 1000).toDateString();
      if (day !== lastDay) {
        box.append(el("div", { class: "day-note", text: new Date(m.date * 1000).toLocaleDateString([], { month: "long", day: "numeric" }) }));
        lastDay = day;
      }
      box.append(messageNode(m, state.current));
    }
    stickToBottom = true;
    scrollBottom();
    renderReplyKeyboard();
    renderStatus();
  }

  function upsertMessage(userId, m) {
    const chat = chatOf(userId);
    const prev = chat.messages.get(m.message_id);
    // an HTTP reply can arrive after the live event that deleted or edited the same message
    if (prev && (prev.deleted || (prev.edits || 0) > (m.edits || 0))) return;
    const existed = !!prev;
    chat.messages.set(m.message_id, m);
    if (userId !== state.current) return;
    const box = $("#messages");
    const old = box.querySelector(`.msg[data-message-id="${m.message_id}"]`);
    if (m.deleted) { if (old) old.remove(); return; }
    const stick = isNearBottom();
    const node = messageNode(m, userId);
    if (old) old.replaceWith(node);
    else {
      const empty = box.querySelector(".empty-note");
      if (empty) empty.remove();
      // keep message order even if events raced
      const later = [...box.querySelectorAll(".msg")].find((n) => Number(n.dataset.messageId) > m.message_id);
      if (later) box.insertBefore(node, later); else box.append(node);
      if (!existed && (stick || !m.from_bot)) scrollBottom();
    }
    if (stick) scrollBottom();
  }

  function renderReplyKeyboard() {
    const box = $("#reply-keyboard");
    box.textContent = "";
    const kb = chatOf(state.current).replyKeyboard;
    const rows = (kb && kb.keyboard) || [];
    box.hidden = !rows.length;
    for (const row of rows) {
      const r = el("div", { class: "row" });
      for (const b of row) {
        const label = typeof b === "string" ? b : b.text;
        r.append(el("button", { type: "button", text: label, onclick: () => {
          sendText(label);
          if (kb.one_time_keyboard) box.hidden = true;
        } }));
      }
      box.append(r);
    }
  }

  // ------------------------------------------------------------------ users
  function renderUsers() {
    const list = $("#users");
    list.textContent = "";
    state.users.forEach((u, i) => {
      const chat = chatOf(u.id);
      const last = [...chat.messages.values()].filter((m) => !m.deleted).sort((a, b) => b.message_id - a.message_id)[0];
      let preview = last ? (last.from_bot ? "" : "You: ") + (last.text || last.caption || (last.kind === "photo" ? "🖼 Photo" : "📄 File")) : null;
      if (!chat.loaded && !last) preview = u.preview;  // a chat not opened yet: the server's summary
      preview = preview || "No messages yet";
      const li = el("li", { class: u.id === state.current ? "active" : "", "data-user-id": u.id, title: "Chat as " + u.first_name,
        onclick: () => selectUser(u.id) },
        el("div", { class: "avatar", style: "background:" + COLORS[i % COLORS.length], text: (u.first_name || "?")[0].toUpperCase() }),
        el("div", { class: "user-main" },
          el("div", { class: "user-name", text: u.first_name }),
          el("div", { class: "preview", text: preview.split("\n")[0] })),
        chat.unread ? el("span", { class: "badge", text: String(chat.unread) }) : null);
      list.append(li);
    });
    const cur = state.users.find((u) => u.id === state.current);
    $("#as-user").textContent = cur ? "you are " + cur.first_name + " (id " + cur.id + ")" : "";
  }

  async function loadChat(userId) {
    const snap = await api("/sandbox/api/users/" + userId + "/chat");
    const chat = chatOf(userId);
    chat.messages = new Map(snap.messages.map((m) => [m.message_id, m]));
    chat.replyKeyboard = snap.reply_keyboard;
    chat.commands = snap.commands || [];
    chat.loaded = true;
    if (snap.bot) state.bot = Object.assign(state.bot, snap.bot);
    return chat;
  }

  async function selectUser(userId) {
    state.current = userId;
    try { localStorage.setItem("ecg-sandbox-user", String(userId)); } catch (e) { /* private mode */ }
    const chat = chatOf(userId);
    chat.unread = 0;
    hideMenus();
    renderUsers();
    renderChat();
    await loadChat(userId);
    if (state.current === userId) { renderChat(); renderUsers(); }
    $("#input").focus();
  }

  async function addUser(name) {
    const res = await api("/sandbox/api/users", { json: { first_name: name } });
    state.users = res.users;
    await selectUser(res.user.id);
  }

  // ------------------------------------------------------------------ actions
  async function sendText(text) {
    if (!text || !text.trim() || state.current == null) return;
    hideMenus();
    try {
      const res = await api("/sandbox/api/users/" + state.current + "/text", { json: { text: text } });
      upsertMessage(state.current, res.message);
    } catch (e) { toast("Not sent: " + e.message); }
  }

  async function openDeepLink(payload, forUser) {
    const target = forUser && state.users.some((u) => u.id === forUser) ? forUser : state.current;
    if (state.mailboxOpen && window.matchMedia("(max-width: 1000px)").matches) setMailbox(false);  // overlay: show the chat
    if (target !== state.current) await selectUser(target);
    try {
      const res = await api("/sandbox/api/users/" + target + "/start", { json: { payload: payload } });
      upsertMessage(target, res.message);
      toast("Link opened in " + userName(target) + "'s chat");
    } catch (e) { toast("Could not open the link: " + e.message); }
  }

  const pendingPress = new Map(); // message id -> button
  async function press(userId, messageId, data, button) {
    if (button) { button.classList.add("pending"); pendingPress.set(messageId, button); }
    try {
      await api("/sandbox/api/users/" + userId + "/press", { json: { message_id: messageId, data: data } });
    } catch (e) {
      toast(e.message);
      if (button) button.classList.remove("pending");
    }
    setTimeout(() => { if (button) button.classList.remove("pending"); }, 4000);
  }

  async function upload(file, as) {
    if (!file || state.current == null) return;
    const form = new FormData();
    form.append("as", as);
    form.append("file", file, file.name);
    const caption = $("#input").value.trim();
    if (caption) { form.append("caption", caption); $("#input").value = ""; }
    try {
      const res = await api("/sandbox/api/users/" + state.current + "/upload", { method: "POST", body: form });
      upsertMessage(state.current, res.message);
    } catch (e) { toast("Not sent: " + e.message); }
  }

  // ------------------------------------------------------------------ status, toast, menus
  let statusTimer = null;
  function renderStatus() {
    const s = $("#chat-status");
    const a = state.action;
    if (a && a.chatId === state.current && a.until > Date.now()) {
      s.textContent = ACTIONS[a.action] || a.action.replace(/_/g, " ") + "…";
      s.classList.add("typing");
    } else {
      s.textContent = "bot";
      s.classList.remove("typing");
    }
  }
  function setAction(chatId, action) {
    state.action = action ? { chatId: chatId, action: action, until: Date.now() + 5000 } : null;
    renderStatus();
    clearTimeout(statusTimer);
    if (action) statusTimer = setTimeout(() => { state.action = null; renderStatus(); }, 5100);
  }

  let toastTimer = null;
  function toast(text, alert) {
    const t = $("#toast");
    t.textContent = text;
    t.className = alert ? "alert" : "";
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, alert ? 6000 : 3000);
  }

  function hideMenus() { $("#command-menu").hidden = true; $("#attach-menu").hidden = true; }

  function showCommands(filter) {
    const menu = $("#command-menu");
    const cmds = chatOf(state.current).commands.filter((c) => !filter || ("/" + c.command).startsWith(filter));
    menu.textContent = "";
    if (!cmds.length) { menu.hidden = true; return; }
    for (const c of cmds) {
      menu.append(el("button", { type: "button", class: "cmd", role: "menuitem", "data-command": c.command,
        onclick: () => { $("#input").value = ""; sendText("/" + c.command); } },
        el("span", { class: "cmd-name", text: "/" + c.command }), el("span", { class: "cmd-desc", text: c.description })));
    }
    menu.hidden = false;
    $("#attach-menu").hidden = true;
  }

  // ------------------------------------------------------------------ mailbox
  function renderMails() {
    const list = $("#mails");
    list.textContent = "";
    if (!state.mailboxAvailable) {
      list.append(el("li", { class: "mail-empty", text: "SMTP_HOST is set, so mail goes to that server, not to this mailbox." }));
      return;
    }
    if (!state.mails.length) {
      list.append(el("li", { class: "mail-empty", text: "No mail yet. Register with /register and the activation email appears here." }));
    }
    for (const mail of state.mails) {
      const isNew = !state.seenMails.has(mail.id);
      const li = el("li", { class: "mail" + (isNew ? " new" : ""), "data-mail-id": mail.id },
        el("div", { class: "mail-subject", text: mail.subject || "(no subject)" }),
        el("div", { class: "mail-meta" },
          el("span", { class: "mail-to", text: "to " + mail.to }),
          el("span", { text: mail.date ? new Date(mail.date).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "" })));
      const body = el("div", { class: "mail-body", hidden: !mail.open });
      const forUser = mail.user_id;
      // the plain-text body: links made clickable (deep links open in the chat), 6-digit codes highlighted
      const parts = (mail.text || "").split(/((?<![\w-])\d{6}(?![\w-]))/);
      for (const p of parts) {
        if (/^\d{6}$/.test(p)) body.append(el("span", { class: "mail-code", text: p }));
        else {
          const holder = document.createDocumentFragment();
          let last = 0;
          const re = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]']/g;
          let m;
          while ((m = re.exec(p)) !== null) {
            if (m.index > last) holder.append(p.slice(last, m.index));
            holder.append(linkNode(m[0], m[0], forUser));
            last = m.index + m[0].length;
          }
          if (last < p.length) holder.append(p.slice(last));
          body.append(holder);
        }
      }
      const actions = el("div", { class: "mail-actions" });
      for (const payload of mail.start_payloads || []) {
        const who = forUser ? userName(forUser) : "the current user";
        actions.append(el("button", { type: "button", class: "open-link", "data-payload": payload,
          text: "Open the link in the chat (as " + who + ")",
          onclick: (ev) => { ev.stopPropagation(); openDeepLink(payload, forUser); } }));
      }
      for (const code of mail.codes || []) {
        actions.append(el("button", { type: "button", class: "use-code", "data-code": code, text: "Send code " + code + " in the chat",
          onclick: (ev) => { ev.stopPropagation(); sendText(code); } }));
      }
      if (actions.childNodes.length) body.append(actions);
      body.addEventListener("click", (ev) => ev.stopPropagation());
      li.append(body);
      li.addEventListener("click", () => {
        mail.open = !mail.open;
        body.hidden = !mail.open;
        state.seenMails.add(mail.id);
        li.classList.remove("new");
        renderMailBadge();
      });
      list.append(li);
    }
    renderMailBadge();
  }

  function setMailbox(open) {
    state.mailboxOpen = open;
    $("#app").classList.toggle("mailbox-closed", !open);
  }

  function renderMailBadge() {
    const unseen = state.mails.filter((m) => !state.seenMails.has(m.id)).length;
    const badge = $("#mail-badge");
    badge.textContent = String(unseen);
    badge.hidden = !unseen;
  }

  async function loadMails() {
    const res = await api("/sandbox/api/mail");
    state.mailboxAvailable = res.mailbox;
    const open = new Set(state.mails.filter((m) => m.open).map((m) => m.id));
    state.mails = res.mails.map((m) => Object.assign(m, { open: open.has(m.id) }));
    renderMails();
  }

  // ------------------------------------------------------------------ live updates
  let ws = null;
  let wsDelay = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/sandbox/ws");
    ws.onopen = () => {
      wsDelay = 500;
      $("#connection").hidden = true;
      document.body.dataset.live = "1";
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "hello") onHello(msg.state);
      else if (msg.type === "event") onEvent(msg.event);
      else if (msg.type === "mail") loadMails().catch(() => {});
    };
    ws.onclose = () => {
      document.body.dataset.live = "";
      $("#connection").hidden = false;
      setTimeout(connect, wsDelay);
      wsDelay = Math.min(wsDelay * 2, 5000);
    };
  }

  function onHello(st) {
    state.bot = st.bot;
    state.users = st.users;
    $("#bot-name").textContent = st.bot.first_name;
    if (state.current != null && state.users.some((u) => u.id === state.current)) {
      // reconnected: catch up on what happened while away
      loadChat(state.current).then(() => { renderChat(); renderUsers(); }).catch(() => {});
    }
    loadMails().catch(() => {});
    renderUsers();
  }

  function onEvent(e) {
    const userId = e.chat_id;
    if (e.type === "commands") {
      for (const u of state.users) chatOf(u.id).loaded = false;
      if (state.current != null) loadChat(state.current).catch(() => {});
      return;
    }
    if (userId == null) return;
    if (!state.users.some((u) => u.id === userId)) {
      state.users.push({ id: userId, first_name: "user " + userId });
      api("/sandbox/api/state").then((st) => { state.users = st.users; renderUsers(); }).catch(() => {});
    }
    const chat = chatOf(userId);
    if (e.type === "message" || e.type === "edited" || e.type === "deleted") {
      if ("reply_keyboard" in e) chat.replyKeyboard = e.reply_keyboard;
      const m = e.message;
      if (e.type === "deleted") m.deleted = true;
      if (e.type === "message" && m.from_bot) {
        if (state.action && state.action.chatId === userId) setAction(userId, null);
        if (userId !== state.current) chat.unread += 1;
      }
      upsertMessage(userId, m);
      if (userId === state.current) renderReplyKeyboard();
      renderUsers();
    } else if (e.type === "chat_action") {
      setAction(userId, e.data.action);
    } else if (e.type === "callback_answered") {
      const button = pendingPress.get(e.data.message_id);
      if (button) { button.classList.remove("pending"); pendingPress.delete(e.data.message_id); }
      if (e.data.text && userId === state.current) toast(e.data.text, e.data.show_alert);
    }
  }

  // ------------------------------------------------------------------ wiring
  function wire() {
    $("#composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("#input");
      const text = input.value;
      input.value = "";
      sendText(text);
    });
    $("#input").addEventListener("input", (ev) => {
      const v = ev.target.value;
      if (/^\/\w*$/.test(v)) showCommands(v); else $("#command-menu").hidden = true;
    });
    $("#input").addEventListener("keydown", (ev) => { if (ev.key === "Escape") hideMenus(); });
    $("#menu-button").addEventListener("click", (ev) => {
      ev.stopPropagation();
      if ($("#command-menu").hidden) showCommands(""); else hideMenus();
    });
    $("#attach-button").addEventListener("click", (ev) => {
      ev.stopPropagation();
      const menu = $("#attach-menu");
      $("#command-menu").hidden = true;
      menu.hidden = !menu.hidden;
    });
    $("#attach-photo").addEventListener("click", () => { hideMenus(); $("#photo-input").click(); });
    $("#attach-file").addEventListener("click", () => { hideMenus(); $("#file-input").click(); });
    $("#photo-input").addEventListener("change", (ev) => { upload(ev.target.files[0], "photo"); ev.target.value = ""; });
    $("#file-input").addEventListener("change", (ev) => { upload(ev.target.files[0], "document"); ev.target.value = ""; });
    document.addEventListener("click", (ev) => {
      if (!ev.target.closest("#command-menu, #attach-menu, #menu-button, #attach-button")) hideMenus();
    });
    $("#messages").addEventListener("scroll", () => { stickToBottom = isNearBottom(); });
    $("#add-user-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = $("#add-user-name").value.trim() || "User " + (state.users.length + 1);
      $("#add-user-name").value = "";
      addUser(name).catch((e) => toast(e.message));
    });
    $("#instructor-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const email = $("#instructor-email").value.trim();
      const grant = !(ev.submitter && ev.submitter.value === "revoke");
      if (!email) return;
      try {
        const res = await api("/sandbox/api/instructor", { json: { email: email, grant: grant } });
        toast(res.username + (grant ? " is now an instructor" : " is no longer an instructor"));
      } catch (e) { toast(e.message); }
    });
    $("#mailbox-toggle").addEventListener("click", () => setMailbox(!state.mailboxOpen));
    // drop an image on the chat: sent as a photo (hold Shift to send it as a file)
    const chatEl = $("#chat");
    chatEl.addEventListener("dragover", (ev) => ev.preventDefault());
    chatEl.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer.files[0];
      if (f) upload(f, f.type.startsWith("image/") && !ev.shiftKey ? "photo" : "document");
    });
  }

  async function boot() {
    wire();
    if (window.matchMedia("(max-width: 1000px)").matches) setMailbox(false);
    const st = await api("/sandbox/api/state");
    state.bot = st.bot;
    state.users = st.users;
    $("#bot-name").textContent = st.bot.first_name;
    let saved = null;
    try { saved = Number(localStorage.getItem("ecg-sandbox-user")); } catch (e) { /* private mode */ }
    const params = new URLSearchParams(location.search);
    const wanted = Number(params.get("user")) || saved;
    const first = state.users.some((u) => u.id === wanted) ? wanted : (state.users[0] && state.users[0].id);
    await loadMails().catch(() => {});
    for (const m of state.mails) state.seenMails.add(m.id);  // mail from before this visit is not "new"
    renderMails();
    if (first != null) await selectUser(first);
    connect();
  }

  window.ecgSandbox = { state: state, selectUser: selectUser, sendText: sendText };
  boot().catch((e) => toast("Could not load the sandbox: " + e.message));
})();
