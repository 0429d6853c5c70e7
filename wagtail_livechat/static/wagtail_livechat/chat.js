/* wagtail_livechat chat panel, loaded by livechat.js on the first interaction.
 *
 * Delivery follows docs/protocol.md: every message gets a client id and stays
 * "pending" until the server's ack; pending messages are resent (same id) after
 * every reconnect, and the history resumes after the last seq seen. Visitor and
 * agent text is only ever set with textContent. */

/* In the loader's shadow root: --c is the accent colour, the font is inherited. */
const CSS = `.chat{display:flex;flex-direction:column;width:360px;max-width:calc(100vw - 40px);
height:min(560px,calc(100vh - 110px));background:#fff;color:#1a1a1a;border-radius:12px;
box-shadow:0 8px 30px #0003;overflow:hidden}.chat[hidden]{display:none}
.hd{display:flex;align-items:center;gap:8px;padding:10px 8px 10px 16px;background:var(--c);color:#fff}
.hd img{width:32px;height:32px;border-radius:50%}.hd div{flex:1;min-width:0}
h2{margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.hd small{display:block;font-size:12px;opacity:.9}
.close{flex:none;border:0;border-radius:6px;background:none;color:inherit;font-size:24px;line-height:1;padding:4px 10px;cursor:pointer}
.close:hover{background:#fff3}.close:focus-visible{outline-color:#fff}
.body{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}
.log{display:flex;flex-direction:column;gap:8px}
.msg,.welcome{max-width:85%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere;white-space:pre-wrap}
.welcome,.agent{align-self:flex-start;background:#f1f3f6;border-bottom-left-radius:4px}
.welcome{white-space:normal}.welcome p{margin:0}.welcome p+p{margin-top:.5em}.welcome a{color:inherit}
.visitor{align-self:flex-end;background:var(--c);color:#fff;border-bottom-right-radius:4px}
.msg::after{content:attr(data-meta);display:block;font-size:11px;opacity:.8;text-align:end}
.msg a{color:inherit}.pending{opacity:.6}.failed{outline:2px solid #b00020}.retry{align-self:flex-end;border:0;background:none;cursor:pointer;text-decoration:underline}
.system,.note,.err{align-self:center;font-size:13px;color:#555;text-align:center}.err{color:#b00020}
.name{display:block;font-size:12px;font-weight:600;margin-bottom:2px}
form{display:flex;flex-direction:column;gap:6px;padding:10px;background:#f7f8fa;border-radius:8px}
label{font-size:14px}input,textarea{font:inherit;font-size:16px;padding:8px;border:1px solid #8a8f98;border-radius:6px;width:100%}
.row{display:flex;gap:6px;align-items:center}.row input{width:auto}
button.b{font:inherit;border:0;border-radius:6px;padding:8px 14px;background:var(--c);color:#fff;cursor:pointer}
.compose{flex-direction:row;gap:6px;padding:10px;background:none;border-radius:0;border-top:1px solid #e3e5e8;align-items:flex-end}
.compose textarea{resize:none;height:42px;max-height:120px}
.results a{display:block;padding:4px 0;color:inherit}.typing{font-size:13px;color:#555;min-height:1.2em;padding:0 14px}
.msg img{display:block;max-width:100%;height:auto;margin:2px 0;border-radius:8px}.att{display:flex;padding:10px;color:inherit;background:none;border:1px solid #8a8f98;border-radius:6px;cursor:pointer}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}[hidden]{display:none!important}
.inline .chat{width:100%;max-width:none;height:100%;box-shadow:none}.inline .close{display:none}
.results .row input{flex:1}fieldset{border:0;margin:0;padding:0}.end{border:1px solid #fff9;border-radius:6px;background:none;color:inherit;font:inherit;font-size:13px;padding:4px 8px;cursor:pointer}
@media(max-width:600px){.l:not(.inline) .chat{position:fixed;inset:0;width:auto;max-width:none;height:auto;border-radius:0}.open>.btn{display:none}}`;

let uid = 0;
const h = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...kids.filter(Boolean));
  return node;
};
const field = (label, attrs) => {
  const id = `lc${++uid}`;
  return [h("label", { for: id, text: label }), h(attrs.tag || "input", { id, ...attrs, tag: null })];
};
const clock = (t) => new Date(t || Date.now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
/* Addresses in a message become links: built with the DOM, http(s) and
 * mailto only (a javascript: URL stays text), opened apart from the page. */
const linkify = (text) => {
  const f = document.createDocumentFragment();
  let i = 0;
  for (const m of text.matchAll(/\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi)) {
    const url = m[0].replace(/[.,;:!?)\]}'"]+$/, "");
    if (m.index < i || !/^(https?|mailto):$/.test(URL.parse?.(url)?.protocol)) continue;
    f.append(text.slice(i, m.index), h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text: url }));
    i = m.index + url.length;
  }
  f.append(text.slice(i));
  return f;
};
const clientId = () =>
  crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;

export function mount({ root, cfg, boot, emit, sheet, remember, mem, close: shut = () => window.WagtailLivechat.close() }) {
  const s = cfg.strings;
  const preview = !!boot.chatflow;
  const pending = new Map(); // client id -> {body, el}
  const queue = []; // frames waiting for the socket (after the welcome)
  const bySeq = new Map(); // seq -> element
  let ws = null;
  let attempt = 0;
  let retry = 0;
  let pinger = 0;
  let deadline = 0;
  let identified = false;
  let contact = false;
  let online = cfg.online;
  let started = false;
  let lastSeq = 0;
  let unread = 0;
  let typingOff = 0;
  let typingSent = false;
  let cookieOk = cfg.cookieConsent.mode === "off";
  let gone = false;
  let ready = false; // the socket is open and welcomed
  let conv = 0; // the conversation's id
  let agreed = false;
  const consents = []; // consent frames, sent once the visitor is identified

  /* -- Elements ----------------------------------------------------------- */
  const heading = cfg.heading;
  const names = heading.mode === "agents" ? heading.agents.map((a) => a.name).join(", ") : "";
  const status = h("small", { role: "status" });
  const close = h("button", { type: "button", class: "close", "aria-label": s.close, text: "×", onclick: shut });
  // No <header>: inside the page's body it would be a second banner landmark.
  const title = h("h2", { text: heading.name || names || s.open });
  const avatar = h("img", { src: heading.avatar, alt: "", hidden: !heading.avatar });
  const faces = heading.mode === "agents" ? heading.agents.filter((a) => a.avatar).map((a) => h("img", { src: a.avatar, alt: "" })) : [];
  const end = h("button", { type: "button", class: "end", hidden: true, text: s.end,
    onclick: () => send({ type: "end", conversation: conv }) });
  const header = h("div", { class: "hd" }, ...faces, avatar, h("div", {}, title, status), end, close);
  const welcome = h("div", { class: "welcome" });
  welcome.innerHTML = cfg.welcome; // editor-made rich text, sanitised by Wagtail
  const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": s.messages || s.message });
  const notice = h("p", { class: "note", role: "status" });
  const typing = h("div", { class: "typing", "aria-live": "polite" });
  const body = h("div", { class: "body" }, search(), welcome, notice, log);

  const [emailLabel, email] = field(cfg.email.text, { type: "email", autocomplete: "email", required: true, maxlength: 254 });
  const emailError = h("p", { class: "err", "aria-live": "assertive" });
  const subscribe = cfg.subscribe && h("input", { type: "checkbox", id: `lc${++uid}` });
  // novalidate: our own message, in the chatflow's language, not the browser's.
  const emailForm = h("form", { hidden: true, novalidate: true, onsubmit: (e) => (e.preventDefault(), saveEmail()) },
    emailLabel, email,
    subscribe && h("div", { class: "row" }, subscribe, h("label", { for: subscribe.id, text: cfg.subscribe.label })),
    emailError, h("button", { class: "b", type: "submit", text: s.save }));

  const consent = cfg.dataConsent;
  const agree = consent.mode === "explicit" && h("input", { type: "checkbox", id: `lc${++uid}` });
  const consentBox = consent.mode !== "off" &&
    h("div", { class: "note" }, h("p", { text: consent.text }),
      agree && h("div", { class: "row" }, agree, h("label", { for: agree.id, text: s.agree })));

  const cookieBox = h("form", { hidden: true, onsubmit: (e) => e.preventDefault() },
    h("p", { text: cfg.cookieConsent.text }),
    h("div", { class: "row" },
      h("button", { class: "b", type: "button", text: s.accept, onclick: () => { cookieOk = true; cookieBox.hidden = true; consents.push({ type: "consent", kind: "cookies", given: true }); flush(); } }),
      h("button", { class: "b", type: "button", text: s.decline, onclick: () => { cookieBox.hidden = true; say(s.declined); } })));
  // "On exit intent": asked when the pointer leaves through the top of the
  // window (or on the first send, if that comes first).
  const ac = new AbortController();
  if (cfg.cookieConsent.mode === "exit_intent" && !preview) {
    document.addEventListener("mouseout", (e) => {
      if (e.clientY <= 0 && !e.relatedTarget && !cookieOk && !identified && !panel.hidden) cookieBox.hidden = false;
    }, { signal: ac.signal });
  }

  const [msgLabel, input] = field(s.message, { tag: "textarea", rows: 1, maxlength: 4000 });
  msgLabel.className = "sr";
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", typingOn);
  // Files: once the visitor has an identity and a conversation (canAttach).
  const picker = h("input", { type: "file", hidden: true, tabindex: -1, onchange: () => upload(picker.files[0]) });
  const attach = h("button", { type: "button", class: "att", "aria-label": s.attach, title: s.attach, hidden: true,
    onclick: () => picker.click() });
  attach.insertAdjacentHTML("beforeend", '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="m21 11-9 9a6 6 0 0 1-8.5-8.5l9-9a4 4 0 0 1 5.7 5.7l-9 9a2 2 0 0 1-2.9-2.9l8.5-8.5" fill="none" stroke="currentColor" stroke-width="2"/></svg>');
  const canAttach = () => (attach.hidden = !(boot.upload && conv && identified && !preview));
  const compose = h("form", { class: "compose", onsubmit: (e) => (e.preventDefault(), submit()) },
    msgLabel, attach, picker, input, h("button", { class: "b", type: "submit", text: s.send }));
  const transcript = h("button", { class: "b", type: "button", hidden: true, text: s.transcript,
    onclick: () => send({ type: "transcript" }) });

  body.append(...[transcript, emailForm, cookieBox, consentBox].filter(Boolean));
  const panel = h("section", { class: "chat", role: "dialog", "aria-label": heading.name || s.open, hidden: true,
    onkeydown: (e) => e.key === "Escape" && shut() },
    header, body, typing, compose);
  // The loader's (no <style> element, which a strict CSP blocks); a loader
  // cached from before it existed gets the <style>.
  if (sheet) sheet(root, CSS);
  else root.append(h("style", { text: CSS }));
  root.querySelector(".l").prepend(panel);
  renderStatus();

  /* -- Knowledge base ----------------------------------------------------- */
  function search() {
    if (!cfg.kb || !boot.search) return null;
    const [label, q] = field(s.search, { type: "search", minlength: 2, maxlength: 200, placeholder: s.search });
    const results = h("div", { "aria-live": "polite" });
    let asked = 0;
    let timer = 0;
    const run = async () => {
      clearTimeout(timer);
      const mine = ++asked; // only the latest question's answer is shown
      const text = q.value.trim();
      if (text.length < 2 || preview) return results.replaceChildren();
      let found = [];
      try {
        const res = await fetch(`${boot.search}?${new URLSearchParams({ chatflow: cfg.id, q: text })}`);
        if (res.ok) found = (await res.json()).results;
      } catch {}
      if (mine !== asked) return;
      results.replaceChildren(...(found.length ? found.map((r) => h("a", { href: r.url, text: r.title })) : [h("p", { text: s.noResults })]));
    };
    q.addEventListener("input", () => (clearTimeout(timer), (timer = setTimeout(run, 300))));
    const go = h("button", { class: "b", type: "submit" }, h("span", { class: "sr", text: s.search }));
    go.insertAdjacentHTML("beforeend", '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><circle cx="10" cy="10" r="6" fill="none" stroke="currentColor" stroke-width="2.5"/><path d="m15 15 6 6" stroke="currentColor" stroke-width="2.5"/></svg>');
    return h("form", { class: "results", onsubmit: (e) => (e.preventDefault(), run()) }, label, h("div", { class: "row" }, q, go), results);
  }

  /* -- Rendering ---------------------------------------------------------- */
  function say(text, cls = "system") {
    log.append(h("p", { class: cls, text }));
  }

  /* The feedback survey, once per conversation, when it ends. */
  let poll = null;
  function rate(id = conv) {
    if (!cfg.survey || poll || !id) return;
    const n = `lc${++uid}`;
    const [label, comment] = field(s.comment, { tag: "textarea", rows: 2, maxlength: 1000 });
    poll = h("form", { onsubmit: (e) => {
      e.preventDefault();
      const r = poll.querySelector(":checked");
      if (r) send({ type: "survey", conversation: id, rating: +r.value, comment: comment.value.trim() });
    } },
    h("fieldset", {}, h("legend", { text: cfg.survey }),
      h("div", { class: "row" }, ...[1, 2, 3, 4, 5].flatMap((v) => [
        h("input", { type: "radio", name: n, id: `${n}-${v}`, value: v, required: true }), h("label", { for: `${n}-${v}`, text: v })])),
      h("small", { text: s.scale })),
    label, comment, h("button", { class: "b", type: "submit", text: s.rate }));
    log.append(poll);
    scroll();
  }
  const thanks = () => poll?.replaceWith(h("p", { class: "system", text: s.thanks }));

  function renderStatus() {
    status.textContent = online ? s.online : s.offline;
    notice.textContent = online ? "" : cfg.away;
    notice.hidden = online;
    const when = cfg.email.when;
    emailForm.hidden = contact || !(when === "before_chat" || (when === "when_away" && !online));
  }

  /* Time and, for the visitor's own, state: shown by CSS (::after), so the
   * bubble's text stays the message. */
  const mark = (el, state) => (el.dataset.meta = state ? `${el.dataset.time} · ${state}` : el.dataset.time);

  /* A file: an image as its thumbnail (itself, scaled by CSS, its size
   * known), anything else as a download link with its name and size. */
  function file(a) {
    if (a.kind === "image") {
      return h("a", { href: a.url, target: "_blank" },
        h("img", { src: a.url, alt: a.name, width: a.width, height: a.height, loading: "lazy" }));
    }
    return h("a", { href: `${a.url}?download`, download: a.name, text: `${a.name} (${Math.ceil(a.size / 1024)} KB)` });
  }

  function bubble(m) {
    const el = h("div", { class: `msg ${m.author}`, "data-time": clock(m.created) });
    if (m.author === "agent" && m.name) el.append(h("span", { class: "name", text: m.name }));
    if (m.attachment) el.append(file(m.attachment));
    el.append(linkify(m.body));
    mark(el, m.author === "visitor" && (m.seq ? s.sent : s.sending));
    return el;
  }

  function add(m, live = true) {
    if (bySeq.has(m.seq)) return;
    const el = bubble(m);
    bySeq.set(m.seq, el);
    const after = [...log.children].find((c) => +c.dataset.seq > m.seq);
    el.dataset.seq = m.seq;
    log.insertBefore(el, after || null);
    lastSeq = Math.max(lastSeq, m.seq);
    if (m.author !== "visitor") {
      typing.textContent = "";
      if (live) emit("message:received", m);
      if (panel.hidden && live) emit("unread", ++unread);
    }
    scroll();
  }

  const scroll = () => (body.scrollTop = body.scrollHeight);

  /* -- Connection --------------------------------------------------------- */
  function connect() {
    if (preview || ws || gone) return;
    clearTimeout(retry);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}${boot.ws}visitor/`);
    status.textContent = s.connecting; // "Online" only once the server welcomes us
    ws.onopen = () => {
      attempt = 0;
      ws.send(JSON.stringify({ type: "hello", after: lastSeq, chatflow: cfg.id, identity: boot.identity,
        page: { url: location.href, title: document.title.slice(0, 255), id: boot.page } }));
      expect(ws);
      pinger = setInterval(() => {
        if (!ws || !ready) return;
        send({ type: "ping" });
        expect(ws);
      }, 25000);
    };
    ws.onmessage = (e) => { clearTimeout(deadline); receive(JSON.parse(e.data)); };
    ws.onclose = () => {
      ws = null;
      ready = false;
      clearInterval(pinger);
      clearTimeout(deadline);
      if (gone) return;
      status.textContent = s.reconnecting;
      // Exponential backoff, 1 s doubling to 30 s, with full jitter.
      retry = setTimeout(connect, Math.random() * Math.min(30000, 1000 * 2 ** attempt++));
    };
  }

  /* A server that does not answer in 10 s (the welcome, a pong) is as good
   * as gone, though a lost network closes nothing by itself: reconnect. */
  function expect(sock) {
    clearTimeout(deadline);
    deadline = setTimeout(() => { sock.onclose?.(); sock.onclose = null; sock.close(); }, 10000);
  }

  /* A message not acknowledged in 10 s says so and offers to retry; it is
   * resent anyway on the next connection (same id: never doubled). */
  function watch(id) {
    const p = pending.get(id);
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (!pending.has(id) || p.retry) return;
      p.el.classList.replace("pending", "failed");
      mark(p.el, s.notSent);
      p.retry = h("button", { type: "button", class: "err retry", text: `${s.notSent} ${s.retry}`,
        onclick: () => { settle(p); p.el.classList.add("pending"); mark(p.el, s.sending); reconnect(); } });
      p.el.after(p.retry);
    }, 10000);
  }

  function settle(p) {
    clearTimeout(p.timer);
    p.retry?.remove();
    p.retry = null;
    p.el.classList.remove("pending", "failed");
  }

  function send(frame) {
    if (frame.type === "message" && pending.has(frame.id)) watch(frame.id);
    if (ws && ws.readyState === 1 && ready) ws.send(JSON.stringify(frame));
    else {
      if (/^(email|transcript|survey|end)$/.test(frame.type)) queue.push(frame);
      connect();
    }
  }

  function reconnect() {
    if (ws) {
      ws.onclose = null;
      ws.close();
      ws = null;
      ready = false;
      clearInterval(pinger);
    }
    connect();
  }

  function receive(f) {
    switch (f.type) {
      case "welcome":
        identified = f.visitor;
        contact = f.contact;
        online = f.online;
        started = !!f.conversation;
        conv = f.conversation?.id || 0;
        end.hidden = f.conversation?.status !== "open";
        if (f.owner && heading.mode === "owner") {
          title.textContent = f.owner.name;
          if (f.owner.avatar) (avatar.src = f.owner.avatar), (avatar.hidden = false);
        }
        if (f.survey) rate();
        ready = true;
        canAttach();
        f.messages.forEach((m) => add(m, false));
        renderStatus();
        queue.splice(0).forEach(send);
        if (identified) consents.splice(0).forEach(send);
        flush();
        break;
      case "ack": {
        const p = pending.get(f.id);
        if (p) {
          pending.delete(f.id);
          settle(p);
          mark(p.el, s.sent);
          emit("message:sent", f.message);
          if (bySeq.has(f.message.seq)) p.el.remove(); // shown already: the welcome had it
          else {
            p.el.dataset.seq = f.message.seq;
            bySeq.set(f.message.seq, p.el);
          }
        }
        lastSeq = Math.max(lastSeq, f.message.seq);
        if (conv !== f.message.conversation) (conv = f.message.conversation), (poll = null);
        end.hidden = false;
        canAttach();
        if (!started) {
          started = true;
          emit("conversation:started", { conversation: f.message.conversation });
        }
        break;
      }
      case "message":
        add(f.message);
        break;
      case "typing":
        typing.textContent = f.on ? s.typing : "";
        clearTimeout(typingOff);
        if (f.on) typingOff = setTimeout(() => (typing.textContent = ""), 8000);
        break;
      case "closed":
        say(s.ended);
        end.hidden = true;
        rate(f.conversation);
        transcript.hidden = !contact;
        emit("conversation:closed", { conversation: f.conversation });
        break;
      case "contact":
        contact = true;
        emailError.textContent = "";
        renderStatus();
        say(f.confirmed ? s.emailSaved : s.emailConfirm);
        break;
      case "survey_saved":
        thanks();
        break;
      case "transcript_sent":
        transcript.hidden = true;
        say(s.transcriptSent);
        break;
      case "error":
        if (f.code === "identify") {
          identified = false;
          flush();
        } else if (f.code === "answered") thanks();
        else if (f.code === "invalid_email" || f.code === "no_email") {
          emailError.textContent = f.message;
          emailForm.hidden = false;
        } else {
          const p = f.id && pending.get(f.id);
          if (f.code === "rate_limited") later();
          else if (p) {
            pending.delete(f.id);
            settle(p);
            p.el.classList.add("failed");
            mark(p.el, s.notSent);
          }
          say(f.message, "err");
        }
        break;
    }
  }

  /* -- Sending ------------------------------------------------------------ */
  let identifying = null;
  function identify() {
    // The identity cookie exists from here on: only once the visitor writes.
    identifying = identifying || fetch(boot.visitor, { method: "POST", credentials: "same-origin" }).then((res) => {
      if (!res.ok) throw new Error(`livechat visitor: ${res.status}`);
      identified = true;
      // Consent given: visits are counted from now on (the loader sends them).
      if (remember && !mem.v) remember({ v: 1, t: Date.now() });
      reconnect(); // the socket must carry the new cookie
    });
    return identifying;
  }

  /* Try the pending messages again in a while (rate limit, failed identify). */
  let retryLater = 0;
  function later() {
    clearTimeout(retryLater);
    retryLater = setTimeout(() => {
      identifying = null;
      flush();
    }, 20000);
  }

  async function flush() {
    if (!pending.size || preview) return;
    if (!identified) {
      if (!cookieOk) {
        cookieBox.hidden = false;
        return;
      }
      try {
        await identify();
      } catch (err) {
        say(s.failed, "err");
        later();
      }
      return; // the new socket's welcome flushes again
    }
    for (const [id, p] of pending) post(id, p.body);
  }

  /* The time zone goes only with a message that may start a conversation. */
  const post = (id, body) => send({ type: "message", id, body, tz: conv ? void 0 : Intl.DateTimeFormat().resolvedOptions().timeZone });

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    if (agree && !agree.checked) {
      say(consent.text, "err");
      agree.focus();
      return;
    }
    if (agree && !agreed) {
      agreed = true;
      consents.push({ type: "consent", kind: "data", given: true });
      if (ready && identified) consents.splice(0).forEach(send);
    }
    if (!emailForm.hidden && cfg.email.when === "before_chat") {
      email.focus();
      return;
    }
    input.value = "";
    typingSent = false;
    const id = clientId();
    const el = bubble({ author: "visitor", body: text });
    el.classList.add("pending");
    log.append(el);
    scroll();
    pending.set(id, { body: text, el });
    watch(id);
    if (ready && identified) post(id, text);
    else flush();
    connect();
  }

  /* Sent over HTTP (docs/protocol.md, "Attachments"); the message comes
   * back in the answer and on the socket (deduped by seq). Refusals (too
   * large, type not accepted) are said in the log, a live region. */
  async function upload(f) {
    picker.value = "";
    if (!f) return;
    const el = bubble({ author: "visitor", body: f.name });
    el.classList.add("pending");
    log.append(el);
    scroll();
    const d = new FormData();
    d.append("file", f);
    d.append("id", clientId());
    d.append("conversation", conv);
    let m = s.notSent;
    try {
      const res = await fetch(boot.upload, { method: "POST", body: d, credentials: "same-origin" });
      const j = await res.json();
      if (res.ok) return el.remove(), add(j.message, false);
      m = j.message || m;
    } catch {}
    el.classList.replace("pending", "failed");
    mark(el, s.notSent);
    say(m, "err");
  }

  async function saveEmail() {
    if (!email.checkValidity()) {
      emailError.textContent = s.emailInvalid;
      return;
    }
    const frame = { type: "email", email: email.value.trim(), subscribe: !!subscribe?.checked, consent: !!agree && agree.checked };
    if (!identified) {
      if (!cookieOk) return (cookieBox.hidden = false);
      await identify();
    }
    send(frame); // queued until the new socket is welcomed
  }

  function typingOn() {
    if (!typingSent && input.value) {
      typingSent = true;
      if (identified) send({ type: "typing", on: true });
      setTimeout(() => {
        typingSent = false;
        if (identified) send({ type: "typing", on: false });
      }, 4000);
    }
  }

  return {
    connect,
    open(focus = true) {
      panel.hidden = false;
      unread = 0;
      emit("unread", 0);
      // Opened by the visitor: connect. Opened by a trigger: wait until they
      // touch the panel (consent first).
      if (focus) connect();
      else panel.addEventListener("focusin", connect, { once: true });
      if (lastSeq) send({ type: "read", seq: lastSeq });
      scroll();
      if (focus) input.focus();
    },
    close() {
      panel.hidden = true;
    },
    destroy() {
      gone = true;
      ac.abort();
      clearTimeout(retry);
      clearInterval(pinger);
      ws?.close();
      panel.remove(); // the stylesheet goes with the loader's shadow root
    },
  };
}
