/* "Reset to the default text" beside the chatflow editor's texts
 * (wagtail_livechat/widgets.py): puts the default text, in the language
 * chosen in the form, into the field. A static file, so that it runs under
 * a strict Content-Security-Policy. */
(() => {
  const init = () => {
    document.querySelectorAll("[data-livechat-defaults]:not([data-livechat-ready])").forEach((field) => {
      field.dataset.livechatReady = "";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button-small button-secondary livechat-reset";
      button.textContent = field.dataset.livechatResetLabel;
      button.addEventListener("click", () => {
        const texts = JSON.parse(field.dataset.livechatDefaults);
        const language = field.form?.elements.language?.value;
        field.value = texts[language] ?? Object.values(texts)[0];
        // As if typed: Wagtail notices the unsaved change, previews refresh.
        field.dispatchEvent(new Event("input", { bubbles: true }));
        field.dispatchEvent(new Event("change", { bubbles: true }));
      });
      field.after(button);
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
