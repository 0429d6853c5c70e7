/* wagtail_livechat loader: asks which chatflow applies to this visit and shows
 * its launcher. It stores nothing and opens no socket: the chat itself
 * (chat.js) loads only when the visitor interacts. Keep this file tiny. */
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

  const emit = (name, detail) => {
    if (name === "unread" && root) {
      // The launcher tells of replies that came while the chat was closed.
      const btn = root.querySelector(".btn");
      btn.dataset.n = detail || "";
      btn.setAttribute("aria-label", detail ? `${cfg.strings.open} (${detail} ${cfg.strings.newMessage})` : cfg.strings.open);
    }
    (listeners[name] || []).forEach((fn) => fn(detail));
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
    if (navigator.language) q.set("lang", navigator.language);
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
.p .o{all:unset;cursor:pointer;display:block}`;

  function render() {
    host = h("div", { id: "wagtail-livechat-root" });
    root = host.attachShadow({ mode: "open" });
    const s = cfg.strings;
    const wrap = h("div", { class: `l ${cfg.position}` });
    wrap.style.setProperty("--c", cfg.color); // CSSOM: CSP allows it
    const launcher = h("button", {
      class: "btn",
      type: "button",
      "aria-label": s.open,
      "aria-expanded": "false",
      onclick: () => (state === "open" ? api.close() : show()),
    });
    launcher.innerHTML =
      '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';
    const mode = device() === "mobile" ? cfg.mobile : cfg.desktop.behaviour;
    if (mode !== "launcher" && !boot.chatflow) {
      const text = h("div", { class: "o", role: "button", tabindex: "0", onclick: () => show() });
      text.innerHTML = cfg.welcome; // editor-made rich text, sanitised by Wagtail
      text.addEventListener("keydown", (e) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        show();
      });
      const prompt = h("div", { class: "p", role: "status" }, text,
        h("button", { class: "x", type: "button", "aria-label": s.dismiss, text: "×", onclick: () => prompt.remove() }));
      wrap.append(prompt);
    }
    wrap.append(launcher);
    sheet(root, CSS);
    root.append(wrap);
    d.body.append(host);
    if (mode === "prompt_and_open") arm(cfg.desktop);
    state = "ready";
    if (boot.chatflow) show({ focus: false }); // preview shows the opened chat, focus stays in the editor
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
    loading = loading || import(boot.chat).then((m) => m.mount({ root: current, cfg, boot, emit, sheet }));
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

  const api = {
    async load() {
      if (state !== "idle") return;
      state = "loading";
      try {
        cfg = await fetchConfig();
      } catch (err) {
        state = "idle";
        throw err;
      }
      if (!cfg) {
        state = "none";
        return;
      }
      render();
    },
    async open({ focus = true } = {}) {
      if (!root || state === "open") return;
      state = "open";
      root.querySelector(".p")?.remove();
      root.querySelector(".btn").setAttribute("aria-expanded", "true");
      const current = root;
      try {
        chat = await mountChat();
      } catch (err) {
        loading = null;
        if (root === current) api.close();
        throw err;
      }
      if (root === current && state === "open") chat.open(focus); // not closed meanwhile
    },
    close() {
      if (state !== "open") return;
      state = "ready";
      chat?.close(); // absent while chat.js is still loading
      const btn = root.querySelector(".btn");
      btn.setAttribute("aria-expanded", "false");
      btn.focus();
    },
    remove() {
      chat?.destroy?.();
      host?.remove();
      host = root = chat = cfg = loading = null;
      state = "idle";
    },
    async refresh() {
      api.remove();
      await api.load();
    },
    status: () => ({ state, chatflow: cfg && cfg.id, online: !!(cfg && cfg.online) }),
    on(name, fn) {
      (listeners[name] = listeners[name] || []).push(fn);
    },
  };
  w.WagtailLivechat = api;
  if (!boot.defer) {
    const start = () => api.load().catch((err) => console.warn(err));
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
