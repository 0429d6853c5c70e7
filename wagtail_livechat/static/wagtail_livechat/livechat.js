/* wagtail_livechat loader: asks which chatflow applies to this visit and shows
 * its launcher. It opens no socket and stores nothing until the visitor acts:
 * dismissing or closing keeps the chat minimised for a day; a visitor who has
 * chatted gets their visits counted (the "number of visits" filter). The chat
 * itself (chat.js) loads only when the visitor interacts. Keep this file tiny. */
(() => {
  const d = document;
  const w = window;
  const el = d.getElementById("wagtail-livechat");
  if (!el || w.WagtailLivechat) return;
  const nonce = d.currentScript?.nonce || ""; // the page's CSP nonce, if any
  const boot = JSON.parse(el.textContent);
  const listeners = {};
  let cfg = null;
  let host = null;
  let root = null;
  let chat = null;
  let loading = null;
  let state = "idle";
  let inline = null; // the element the chat is embedded in, if any
  let gen = 0; // a load that remove() made stale renders nothing
  let asked = null; // open() called before the widget was ready

  /* One localStorage entry, written only after the visitor acted:
   * m: minimised until (ms), v: visits counted since they first chatted,
   * t: last seen (ms). A visit is a page view 30 minutes after the last. */
  const KEY = "wagtail_livechat";
  const now = Date.now();
  let mem = {};
  try {
    mem = JSON.parse(localStorage.getItem(KEY)) || {};
  } catch {}
  const remember = (patch) => {
    Object.assign(mem, patch);
    try {
      localStorage.setItem(KEY, JSON.stringify(mem));
    } catch {}
  };
  if (mem.v) remember({ v: mem.v + (now - mem.t > 18e5), t: now });
  const minimised = () => mem.m > Date.now();

  const emit = (name, detail) => {
    const btn = root?.querySelector(".btn"); // none when inline
    if (name === "unread" && btn) {
      // The launcher tells of replies that came while the chat was closed.
      btn.dataset.n = detail || "";
      if (state !== "open") btn.setAttribute("aria-label", detail ? `${cfg.strings.open} (${detail} ${cfg.strings.newMessage})` : cfg.strings.open);
    }
    // A listener's error is the page's, not the widget's: report it, go on.
    for (const fn of listeners[name] || []) setTimeout(fn, 0, detail);
  };
  const h = (tag, attrs = {}, ...kids) => {
    const node = d.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    node.append(...kids);
    return node;
  };
  /* Not <style> nor style="" (a strict CSP blocks both): a constructed
   * stylesheet, which CSP lets through; old browsers: <style nonce>. */
  const sheet = (r, text) => {
    if (!r.adoptedStyleSheets) return r.append(h("style", { text, nonce }));
    const s = new CSSStyleSheet();
    s.replaceSync(text);
    r.adoptedStyleSheets = [...r.adoptedStyleSheets, s];
  };

  const device = () => {
    const width = w.innerWidth;
    if (width < 768) return "mobile";
    return width < 1200 && w.matchMedia("(pointer:coarse)").matches ? "tablet" : "desktop";
  };

  async function fetchConfig() {
    if (boot.chatflow) return boot.chatflow; // preview: configured inline
    const q = new URLSearchParams({ url: location.href, device: device(), ref: d.referrer });
    if (boot.page) q.set("page", boot.page);
    if (boot.identity) q.set("identity", boot.identity);
    if (navigator.language) q.set("lang", navigator.language);
    if (mem.v) q.set("visits", mem.v);
    const res = await fetch(`${boot.config}?${q}`, { credentials: "same-origin" });
    if (!res.ok) throw new Error(`livechat config: ${res.status}`);
    return (await res.json()).chatflow;
  }

  const CSS = `:host{all:initial}*{box-sizing:border-box}button{font:inherit}
.l{position:fixed;bottom:20px;z-index:2147483000;display:flex;flex-direction:column;gap:10px;font:15px/1.4 system-ui,sans-serif}
.right{right:20px;align-items:flex-end}.left{left:20px;align-items:flex-start}
.btn{width:56px;height:56px;border:0;border-radius:50%;background:var(--c);color:#fff;cursor:pointer;box-shadow:0 4px 14px #0004}
.btn{position:relative}.btn svg{width:28px;height:28px;fill:currentColor}
.btn[data-n]:not([data-n=""])::after{content:attr(data-n);position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#c4122f;font:700 12px/20px system-ui;text-align:center}
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
.p{position:relative;max-width:280px;background:#fff;color:#1a1a1a;border-radius:12px;padding:12px 34px 12px 14px;box-shadow:0 4px 18px #0003}
.p p{margin:0}.p .x{position:absolute;top:4px;right:4px;border:0;background:none;font-size:20px;line-height:1;cursor:pointer;padding:4px 8px;color:#555}
.p .o{all:unset;cursor:pointer;display:block}.btn .x,.open>.btn .i{display:none}.open>.btn .x{display:inline}
.inline{position:static;height:100%}:host([inline]){display:block;height:100%}
@media(max-width:600px){:host(:not([inline])){display:block;height:86px}}`;

  function render() {
    host = h("div", { id: "wagtail-livechat-root" });
    root = host.attachShadow({ mode: "open" });
    const s = cfg.strings;
    const wrap = h("div", { class: inline ? "l inline" : `l ${cfg.position}` });
    wrap.style.setProperty("--c", cfg.color); // CSSOM: CSP allows it
    const launcher = h("button", {
      class: "btn",
      type: "button",
      "aria-label": s.open,
      "aria-expanded": "false",
      onclick: () => (state === "open" ? hide(true) : show()),
    });
    // While the chat is open the launcher shows a cross and closes it.
    launcher.innerHTML =
      '<svg viewBox="0 0 24 24" aria-hidden="true"><path class="i" d="M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/><path class="x" d="M6 6l12 12M18 6 6 18" stroke="currentColor" stroke-width="2.5"/></svg>';
    const mode = device() === "mobile" ? cfg.mobile : cfg.desktop.behaviour;
    if (mode !== "launcher" && !boot.chatflow && !inline && !minimised()) {
      const text = h("div", { class: "o", role: "button", tabindex: "0", onclick: () => show() });
      text.innerHTML = cfg.welcome; // editor-made rich text, sanitised by Wagtail
      text.addEventListener("keydown", (e) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        show();
      });
      const prompt = h("div", { class: "p", role: "status" }, text,
        h("button", { class: "x", type: "button", "aria-label": s.dismiss, text: "×", onclick: () => (prompt.remove(), remember({ m: Date.now() + 864e5 })) }));
      wrap.append(prompt);
    }
    if (!inline) wrap.append(launcher);
    else host.setAttribute("inline", "");
    sheet(root, CSS);
    root.append(wrap);
    (inline || d.body).append(host);
    if (mode === "prompt_and_open" && !inline && !minimised()) arm(cfg.desktop);
    state = "ready";
    emit("loaded", { chatflow: cfg.id, online: !!cfg.online });
    // Preview and inline show the opened chat; focus stays where it is.
    if (boot.chatflow || inline) show({ focus: false });
    else if (asked) show(asked), (asked = null);
    // A visitor who has chatted before (so consented): reconnect at once, so
    // that replies and the page they are on reach the inbox while they browse.
    else if (cfg.resume) mountChat().then((c) => c.connect(), () => {});
  }

  /* Open from the page's own controls: if chat.js cannot load, say so. */
  function show(options) {
    return api.open(options).catch(() => {
      const wrap = root && root.querySelector(".l");
      if (wrap && !wrap.querySelector("[role=alert]")) {
        wrap.prepend(h("p", { class: "p", role: "alert", text: cfg.strings.unavailable }));
      }
    });
  }

  function mountChat() {
    const current = root;
    // One import and one panel, however often the launcher is clicked meanwhile.
    loading = loading || import(boot.chat).then((m) => m.mount({ root: current, cfg, boot, emit, sheet, remember, mem, close: () => hide(true) }));
    return loading;
  }

  /* Open the chat once when the chatflow's trigger fires. */
  function arm(t) {
    const fire = () => {
      off();
      if (state === "ready") show({ focus: false }); // not asked for: keep the visitor's focus
    };
    const onExit = (e) => e.clientY <= 0 && !e.relatedTarget && fire();
    const onScroll = () => {
      const max = d.documentElement.scrollHeight - w.innerHeight;
      if (max <= 0 || (w.scrollY / max) * 100 >= t.scroll) fire();
    };
    const timer = t.trigger === "time_on_page" ? setTimeout(fire, t.seconds * 1000) : 0;
    const off = () => {
      clearTimeout(timer);
      d.removeEventListener("mouseout", onExit);
      w.removeEventListener("scroll", onScroll);
    };
    if (t.trigger === "exit_intent") d.addEventListener("mouseout", onExit);
    if (t.trigger === "scroll") w.addEventListener("scroll", onScroll, { passive: true });
  }

  /* Close; when the visitor did it, keep the chat minimised for a day. */
  function hide(byVisitor) {
    if (state !== "open" || inline) return;
    state = "ready";
    chat?.close(); // absent while chat.js is still loading
    const btn = root.querySelector(".btn");
    btn.parentNode.classList.remove("open");
    btn.setAttribute("aria-expanded", "false");
    btn.setAttribute("aria-label", cfg.strings.open);
    btn.focus();
    if (byVisitor && !boot.chatflow) remember({ m: Date.now() + 864e5 }); // not in the editor's preview
    emit("closed");
  }

  const api = {
    async load({ inline: into } = {}) {
      if (state !== "idle") return;
      state = "loading";
      inline = typeof into === "string" ? d.querySelector(into) : into || null;
      const mine = ++gen;
      let c;
      try {
        c = await fetchConfig();
      } catch (err) {
        if (mine === gen) state = "idle";
        throw err;
      }
      if (mine !== gen) return; // removed meanwhile
      cfg = c;
      if (!cfg) {
        state = "none";
        return;
      }
      render();
    },
    async open(options) {
      if (!root) return void (asked = options || {});
      const { focus = true } = options || {};
      if (state === "open") return;
      state = "open";
      root.querySelector(".p")?.remove();
      const btn = root.querySelector(".btn");
      if (btn) {
        btn.parentNode.classList.add("open");
        btn.setAttribute("aria-expanded", "true");
        btn.setAttribute("aria-label", cfg.strings.close);
      }
      emit("opened");
      const current = root;
      try {
        chat = await mountChat();
      } catch (err) {
        loading = null;
        if (root === current) hide();
        throw err;
      }
      if (root === current && state === "open") chat.open(focus); // not closed meanwhile
    },
    close: () => hide(),
    remove() {
      chat?.destroy?.();
      host?.remove();
      host = root = chat = cfg = loading = inline = asked = null;
      state = "idle";
      gen++;
    },
    async refresh() {
      const into = inline;
      api.remove();
      await api.load({ inline: into });
    },
    /* Show the chat inside an element of the page (or a selector), open,
     * instead of the floating launcher. */
    embed: (into) => (api.remove(), api.load({ inline: into })),
    status: () => ({ state, chatflow: cfg && cfg.id, online: !!(cfg && cfg.online) }),
    /* The site vouches for the visitor (docs/identification.md); takes
     * effect on the next load, so reload the config if it ran already. */
    identify(token) {
      boot.identity = token || undefined;
      return state === "idle" ? Promise.resolve() : api.refresh();
    },
    on(name, fn) {
      (listeners[name] = listeners[name] || []).push(fn);
    },
    off(name, fn) {
      listeners[name] = (listeners[name] || []).filter((f) => f !== fn);
    },
  };
  w.WagtailLivechat = api;
  if (!boot.defer) {
    const start = () => api.load().catch((err) => console.warn(err));
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
