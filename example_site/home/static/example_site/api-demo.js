/* The example site's page of the widget's JavaScript API
 * (docs/javascript-api.md). A file of its own, not inline: the site's
 * Content-Security-Policy allows scripts from its own origin only. */
(() => {
  const api = window.WagtailLivechat;
  if (!api) return; // no {% livechat %} on the page
  const log = document.getElementById("api-log");
  const status = document.getElementById("api-status");
  const show = () => (status.textContent = JSON.stringify(api.status()));

  const events = ["loaded", "opened", "closed", "message:sent", "message:received",
    "conversation:started", "conversation:closed", "unread"];
  for (const name of events) {
    api.on(name, (detail) => {
      const item = document.createElement("li");
      item.textContent = detail === undefined ? name : `${name} ${JSON.stringify(detail)}`;
      log.append(item);
      show();
    });
  }

  const actions = {
    open: () => api.open(),
    close: () => api.close(),
    embed: () => api.embed(document.getElementById("chat-inline")),
    refresh: () => api.refresh(),
    remove: () => api.remove(),
  };
  document.querySelector(".api-demo-buttons").addEventListener("click", async (event) => {
    const action = actions[event.target.dataset.api];
    if (!action) return;
    await action();
    show();
  });
  show();
})();
