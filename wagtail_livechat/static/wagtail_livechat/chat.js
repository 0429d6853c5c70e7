/* wagtail_livechat chat panel, loaded by livechat.js on the first interaction. */

/* In the loader's shadow root: --c is the accent colour, the font is inherited. */
const CSS = `.chat{display:flex;flex-direction:column;width:360px;max-width:calc(100vw - 40px);
max-height:min(560px,calc(100vh - 110px));background:#fff;color:#1a1a1a;border-radius:12px;
box-shadow:0 8px 30px #0003;overflow:hidden}.chat[hidden]{display:none}
.chat header{display:flex;align-items:center;gap:8px;padding:10px 8px 10px 16px;background:var(--c);color:#fff}
.chat h2{flex:1;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.chat .close{flex:none;border:0;border-radius:6px;background:none;color:inherit;font-size:24px;line-height:1;padding:4px 10px;cursor:pointer}
.chat .close:hover{background:#fff3}.chat .close:focus-visible{outline-color:#fff}
.chat .welcome{align-self:flex-start;max-width:85%;margin:16px;padding:10px 14px;background:#f1f3f6;border-radius:12px 12px 12px 4px;overflow-wrap:anywhere}
.chat .welcome p{margin:0}.chat .welcome p+p{margin-top:.5em}.chat .welcome a{color:inherit}`;

export function mount({ root, cfg }) {
  const s = cfg.strings;
  const style = document.createElement("style");
  style.textContent = CSS;
  const panel = document.createElement("section");
  panel.className = "chat";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", cfg.heading.name || s.open);
  panel.hidden = true;
  panel.addEventListener("keydown", (e) => e.key === "Escape" && window.WagtailLivechat.close());
  const header = document.createElement("header");
  const title = document.createElement("h2");
  title.textContent = cfg.heading.name || "";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.setAttribute("aria-label", s.close);
  close.textContent = "×";
  close.addEventListener("click", () => window.WagtailLivechat.close());
  header.append(title, close);
  const welcome = document.createElement("div");
  welcome.className = "welcome";
  welcome.innerHTML = cfg.welcome; // editor-made rich text, sanitised by Wagtail
  panel.append(header, welcome);
  root.append(style);
  root.querySelector(".l").prepend(panel);
  return {
    open(focus = true) {
      panel.hidden = false;
      if (focus) close.focus();
    },
    close() {
      panel.hidden = true;
    },
    destroy() {
      panel.remove();
      style.remove();
    },
  };
}
