/* wagtail_livechat chat panel, loaded by livechat.js on the first interaction. */
export function mount({ root, cfg }) {
  const s = cfg.strings;
  const panel = document.createElement("section");
  panel.className = "chat";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", cfg.heading.name || s.open);
  panel.hidden = true;
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
  root.querySelector(".l").prepend(panel);
  return {
    open() {
      panel.hidden = false;
      close.focus();
    },
    close() {
      panel.hidden = true;
    },
    destroy() {
      panel.remove();
    },
  };
}
