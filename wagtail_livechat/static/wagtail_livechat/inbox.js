/* wagtail_livechat: the agents' inbox in the Wagtail admin.
 *
 * Two Stimulus controllers on Wagtail's application, one websocket per page
 * (docs/protocol.md):
 *   livechat-inbox         the list of conversations, live
 *   livechat-conversation  one conversation: thread, composer and context
 *
 * Whatever a visitor wrote is only ever put in the page with textContent.
 */
(() => {
  "use strict";

  const { Controller } = window.StimulusModule;
  const app = window.wagtail.app;

  const PING_EVERY = 25000;
  const PONG_WITHIN = 10000; // no answer to a ping by then: the connection is dead
  const BACKOFF_BASE = 1000;
  const BACKOFF_MAX = 30000;
  const TYPING_IDLE = 4000;
  const TYPING_SHOWN = 8000;
  const NOTIFY_KEY = "wagtail-livechat:notifications";
  const SOUND_KEY = "wagtail-livechat:sound";
  const FILTER_DELAY = 300; // ms of typing in the search box before it applies
  const PAGES_KEPT = 20; // as the server keeps them (models/conversation.py)

  // -- Helpers --------------------------------------------------------------

  const readJSON = (id, fallback) => {
    const element = document.getElementById(id);
    if (!element) return fallback;
    try {
      return JSON.parse(element.textContent);
    } catch {
      return fallback;
    }
  };

  /** "%(name)s is typing…" with {name: "Alex"}: Django's named placeholders. */
  const format = (template, values) =>
    String(template || "").replace(/%\((\w+)\)s/g, (_match, key) =>
      values[key] === undefined || values[key] === null ? "" : String(values[key]),
    );

  /** A client id for a message: a UUID, also outside secure contexts. */
  const clientId = () => {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };

  const isHttpUrl = (url) => typeof url === "string" && /^https?:\/\//i.test(url);

  const lang = document.documentElement.lang || undefined;
  const dateTimeFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const timeFormat = new Intl.DateTimeFormat(lang, { timeStyle: "short" });

  /** A date as the agent reads it: the time today, else date and time. */
  const formatDate = (iso) => {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    const today = new Date();
    return date.toDateString() === today.toDateString()
      ? timeFormat.format(date)
      : dateTimeFormat.format(date);
  };

  const formatTimes = (root) => {
    root.querySelectorAll("time[datetime]").forEach((time) => {
      const text = formatDate(time.getAttribute("datetime"));
      if (text) {
        time.textContent = text;
        time.title = dateTimeFormat.format(new Date(time.getAttribute("datetime")));
      }
    });
  };

  const slot = (element, name) => element.querySelector(`[data-slot="${name}"]`);

  /**
   * A message's text in an element, its addresses as links: built with the
   * DOM (never HTML), http(s) and mailto only (a javascript: URL stays text),
   * opened in a new tab without the admin as opener or referrer. The widget
   * (chat.js) follows the same rules.
   */
  const linkify = (element, text) => {
    element.replaceChildren();
    let i = 0;
    for (const match of text.matchAll(/\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi)) {
      const url = match[0].replace(/[.,;:!?)\]}'"]+$/, "");
      let protocol = "";
      try {
        protocol = new URL(url).protocol;
      } catch {
        continue;
      }
      if (match.index < i || !["http:", "https:", "mailto:"].includes(protocol)) continue;
      const link = document.createElement("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      link.textContent = url;
      element.append(text.slice(i, match.index), link);
      i = match.index + url.length;
    }
    element.append(text.slice(i));
  };

  const setText = (element, name, text) => {
    const target = slot(element, name);
    if (target) target.textContent = text === undefined || text === null ? "" : String(text);
    return target;
  };

  /**
   * A message's file, as _attachment.html renders it: an image as its
   * thumbnail (the image scaled by CSS, its size known) and a download link.
   */
  const attachmentNodes = (attachment, strings) => {
    const nodes = [];
    if (attachment.kind === "image") {
      const thumb = document.createElement("a");
      thumb.className = "livechat-attachment__thumb";
      thumb.href = attachment.url;
      thumb.target = "_blank";
      thumb.rel = "noopener";
      const image = document.createElement("img");
      Object.assign(image, { src: attachment.url, alt: attachment.name, loading: "lazy" });
      image.width = attachment.width;
      image.height = attachment.height;
      thumb.append(image);
      nodes.push(thumb);
    }
    const link = document.createElement("a");
    link.className = "livechat-attachment__download";
    link.href = `${attachment.url}?download`;
    link.download = attachment.name;
    link.textContent = format(strings.download, {
      name: attachment.name,
      size: `${Math.ceil(attachment.size / 1024)} KB`,
    });
    nodes.push(link);
    return nodes;
  };

  /** Show an error the way Wagtail does (its messages controller uses textContent). */
  const flash = (text, type = "error") => {
    document.dispatchEvent(
      new CustomEvent("w-messages:add", { detail: { clear: true, text, type } }),
    );
  };

  // -- The websocket -------------------------------------------------------

  /**
   * One agent socket: reconnects with exponential backoff and full jitter
   * (1 s doubling to 30 s), pings every 25 s, parses frames.
   */
  class AgentSocket {
    constructor(path, { onOpen, onFrame, onStatus }) {
      this.path = path || "/ws/livechat/agent/";
      this.onOpen = onOpen;
      this.onFrame = onFrame;
      this.onStatus = onStatus;
      this.attempt = 0;
      this.stopped = false;
      this.ws = null;
      this.timer = null;
      this.pinger = null;
      this.onOnline = () => {
        if (!this.ws && !this.stopped) {
          clearTimeout(this.timer);
          this.connect();
        }
      };
      window.addEventListener("online", this.onOnline);
      this.connect();
    }

    get isOpen() {
      return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
    }

    connect() {
      this.timer = null;
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      let ws;
      try {
        ws = new WebSocket(`${scheme}//${window.location.host}${this.path}`);
      } catch {
        this.schedule();
        return;
      }
      this.ws = ws;
      this.onStatus("connecting");
      ws.addEventListener("open", () => {
        if (this.ws !== ws) return;
        this.onStatus("connected");
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.ping(ws), PING_EVERY);
        this.onOpen();
      });
      ws.addEventListener("message", (event) => {
        if (this.ws !== ws) return;
        clearTimeout(this.deadline);
        this.attempt = 0; // the server answers: the next outage starts at 1 s again
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        if (frame && typeof frame === "object") this.onFrame(frame);
      });
      ws.addEventListener("close", (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearInterval(this.pinger);
        clearTimeout(this.deadline);
        if (this.stopped) return;
        if (event.code === 4001 || event.code === 4003) {
          this.onStatus(event.code === 4001 ? "signedOut" : "forbidden");
          return;
        }
        this.schedule();
      });
    }

    /** A ping the server must answer in time, or the connection is dead
     * (a lost network closes nothing by itself): drop it and reconnect. */
    ping(ws) {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.deadline);
      this.deadline = setTimeout(() => {
        if (this.ws !== ws) return;
        this.ws = null;
        clearInterval(this.pinger);
        ws.close();
        this.schedule();
      }, PONG_WITHIN);
    }

    schedule() {
      if (this.stopped || this.timer) return;
      const ceiling = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** this.attempt);
      this.attempt += 1;
      const delay = Math.random() * ceiling; // full jitter
      this.onStatus("reconnecting", delay);
      this.timer = setTimeout(() => this.connect(), delay);
    }

    send(frame) {
      if (!this.isOpen) return false;
      this.ws.send(JSON.stringify(frame));
      return true;
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      clearTimeout(this.deadline);
      clearInterval(this.pinger);
      window.removeEventListener("online", this.onOnline);
      if (this.ws) this.ws.close(1000);
      this.ws = null;
    }
  }

  /**
   * One socket per page, whatever the controllers on it: the list beside a
   * conversation and the conversation itself share it (the server speaks
   * both on one socket). Each subscriber gets every status and frame.
   */
  const shared = new Map(); // path -> {socket, subscribers}
  const subscribe = (path, subscriber) => {
    let entry = shared.get(path);
    if (entry) {
      entry.subscribers.add(subscriber);
      if (entry.socket.isOpen) {
        subscriber.onStatus("connected");
        queueMicrotask(() => subscriber.onOpen());
      }
    } else {
      const subscribers = new Set([subscriber]);
      entry = { subscribers };
      shared.set(path, entry);
      entry.socket = new AgentSocket(path, {
        onOpen: () => subscribers.forEach((s) => s.onOpen()),
        onFrame: (frame) => subscribers.forEach((s) => s.onFrame(frame)),
        onStatus: (state, delay) => subscribers.forEach((s) => s.onStatus(state, delay)),
      });
    }
    return {
      socket: entry.socket,
      stop() {
        entry.subscribers.delete(subscriber);
        if (!entry.subscribers.size) {
          entry.socket.stop();
          shared.delete(path);
        }
      },
    };
  };

  // -- Sound ------------------------------------------------------------------

  /**
   * An optional chime for new visitor messages, off until the agent turns it
   * on (remembered in this browser). Made with WebAudio: no audio file to
   * serve or allow in a Content-Security-Policy.
   */
  const sound = {
    context: null,
    supported: () => Boolean(window.AudioContext || window.webkitAudioContext),
    enabled() {
      try {
        return sound.supported() && window.localStorage.getItem(SOUND_KEY) === "1";
      } catch {
        return false;
      }
    },
    set(on) {
      try {
        if (on) window.localStorage.setItem(SOUND_KEY, "1");
        else window.localStorage.removeItem(SOUND_KEY);
      } catch {
        // Private mode: the choice lasts as long as the page.
      }
      if (on) sound.wake();
    },
    /** Browsers start audio only after a gesture: the switch, or any click. */
    wake() {
      if (!sound.supported()) return null;
      if (!sound.context) {
        const Context = window.AudioContext || window.webkitAudioContext;
        sound.context = new Context();
      }
      if (sound.context.state === "suspended") sound.context.resume().catch(() => {});
      return sound.context;
    },
    play() {
      if (!sound.enabled()) return;
      const context = sound.wake();
      const now = context.currentTime;
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.type = "sine";
      tone.frequency.setValueAtTime(880, now);
      tone.frequency.setValueAtTime(660, now + 0.12);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.2, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
      tone.connect(gain).connect(context.destination);
      tone.start(now);
      tone.stop(now + 0.32);
    },
  };
  const wakeSound = () => sound.enabled() && sound.wake();
  document.addEventListener("pointerdown", wakeSound, { once: true });
  document.addEventListener("keydown", wakeSound, { once: true });

  // Unread counts seen on this page, per conversation: both controllers of
  // a page report the same frame, the agent hears of it once.
  const unreadSeen = new Map();

  // -- Browser notifications ----------------------------------------------

  const notifications = {
    supported: () => "Notification" in window,
    enabled: () =>
      notifications.supported() &&
      window.Notification.permission === "granted" &&
      window.localStorage.getItem(NOTIFY_KEY) === "1",

    /** Tell the agent about a visitor message they may not see. */
    show(conversation, strings, url) {
      if (!notifications.enabled()) return;
      if (document.visibilityState === "visible" && document.hasFocus()) return;
      try {
        const note = new window.Notification(
          format(strings.newMessage, { visitor: conversation.visitor }),
          { body: conversation.last_message || "", tag: `wagtail-livechat-${conversation.id}` },
        );
        note.addEventListener("click", () => {
          window.focus();
          window.location.assign(url);
          note.close();
        });
      } catch {
        // Some browsers only allow notifications from a service worker.
      }
    },
  };

  /** Shared by both pages: connection status text and notifications. */
  class LivechatController extends Controller {
    initializeShared() {
      this.strings = readJSON("livechat-strings", {});
    }

    conversationUrl(id) {
      const template = (this.settings && this.settings.conversationUrl) || "/admin/livechat/0/";
      return template.replace(/\/0\/(?=\?|$)/, `/${id}/`);
    }

    showStatus(state, delay) {
      if (!this.hasConnectionTarget) return;
      const target = this.connectionTarget;
      target.dataset.state = state;
      if (state === "reconnecting") {
        target.textContent = format(this.strings.reconnecting, {
          seconds: Math.max(1, Math.round(delay / 1000)),
        });
      } else {
        target.textContent = this.strings[state] || "";
      }
    }

    /**
     * Merge a `conversation` frame into what is known of that conversation:
     * a message or a read sends only what changed, a rare change the whole
     * summary. Returns the merged summary.
     */
    remember(conversation) {
      this.summaries = this.summaries || new Map();
      const merged = { ...(this.summaries.get(conversation.id) || {}), ...conversation };
      this.summaries.set(conversation.id, merged);
      return merged;
    }

    /** Notify (and chime) when a conversation has more unread visitor
     * messages than before. */
    trackUnread(conversation) {
      if (conversation.unread === undefined) return;
      const before = unreadSeen.has(conversation.id) ? unreadSeen.get(conversation.id) : 0;
      unreadSeen.set(conversation.id, conversation.unread);
      if (conversation.status === "open" && conversation.unread > before) {
        notifications.show(conversation, this.strings, this.conversationUrl(conversation.id));
        sound.play();
      }
    }
  }

  // -- The list -------------------------------------------------------------

  /** The labels a list row shows (its items' text). */
  const rowLabels = (row) => {
    const list = slot(row, "labels");
    return list ? Array.from(list.children, (item) => item.textContent) : [];
  };

  const renderLabels = (list, labels) => {
    if (!list) return;
    list.replaceChildren(
      ...labels.map((label) => {
        const item = document.createElement("li");
        item.className = "livechat-label";
        item.textContent = label;
        return item;
      }),
    );
    list.hidden = !labels.length;
  };

  app.register(
    "livechat-inbox",
    class extends LivechatController {
      static targets = [
        "rows",
        "rowTemplate",
        "empty",
        "availability",
        "availabilityState",
        "notify",
        "connection",
        "filters",
        "submit",
        "results",
        "summary",
        "sound",
        "soundToggle",
      ];

      static values = { socketPath: { type: String, default: "/ws/livechat/agent/" } };

      connect() {
        this.initializeShared();
        this.settings = readJSON("livechat-filters", {});
        this.unreadIds = new Set(this.settings.unread || []);
        this.baseTitle = document.title.replace(/^\(\d+\+?\) /, "");
        this.readUnread();
        this.updateTitle();
        formatTimes(this.element);
        this.updateNotifyButton();
        if (this.hasSubmitTarget) this.submitTarget.hidden = true; // filters apply at once
        if (this.hasSoundToggleTarget && sound.supported()) {
          this.soundToggleTarget.hidden = false;
          this.soundTarget.checked = sound.enabled();
        }
        let reconnected = false;
        this.subscription = subscribe(this.socketPathValue, {
          onOpen: () => {
            this.socket.send({ type: "hello" });
            // What changed while the socket was down was never pushed: read
            // the list afresh from the server.
            if (reconnected) this.refreshRows();
            reconnected = true;
          },
          onFrame: (frame) => this.receive(frame),
          onStatus: (state, delay) => this.showStatus(state, delay),
        });
        this.socket = this.subscription.socket;
      }

      /** Unread counts as the server rendered them in the rows. */
      readUnread() {
        this.rows().forEach((row) => {
          const badge = slot(row, "unread");
          const count = badge && !badge.hidden ? parseInt(badge.textContent, 10) || 0 : 0;
          const id = Number(row.dataset.conversation);
          unreadSeen.set(id, count);
          const data = row.dataset;
          this.remember({
            id,
            unread: count,
            visitor: data.visitor,
            status: data.status,
            inbox: Number(data.inbox),
            assignee: data.assignee ? { id: Number(data.assignee) } : null,
            updated: data.updated,
            labels: rowLabels(row),
          });
        });
      }

      /** The tab's title counts the open conversations with unread messages. */
      countUnread(conversation) {
        if (conversation.status === "closed" || conversation.unread === 0) {
          this.unreadIds.delete(conversation.id);
        } else if (conversation.unread > 0) {
          this.unreadIds.add(conversation.id);
        }
        this.updateTitle();
      }

      updateTitle() {
        const count = this.unreadIds.size;
        document.title = count ? `(${count}) ${this.baseTitle}` : this.baseTitle;
      }

      refreshSoon() {
        clearTimeout(this.refreshTimer);
        // A search or a label cannot always be decided here: ask the server,
        // but not for every message.
        const delay = this.settings.q || this.settings.label ? 2000 : 500;
        this.refreshTimer = setTimeout(() => this.refreshRows(), delay);
      }

      /** Read the list again from the server (``url``: with other filters). */
      async refreshRows(url = window.location.href) {
        const asked = (this.asked = (this.asked || 0) + 1);
        let html;
        try {
          const response = await fetch(url, { credentials: "same-origin" });
          if (!response.ok) return;
          html = new DOMParser().parseFromString(await response.text(), "text/html");
        } catch {
          return; // offline: the next reconnect reads it again
        }
        if (asked !== this.asked) return; // a later question is on its way
        const fresh = html.querySelector('[data-livechat-inbox-target="rows"]');
        if (!fresh) return;
        const results = html.querySelector('[data-livechat-inbox-target="results"]');
        if (results && this.hasResultsTarget) {
          this.resultsTarget.replaceChildren(...results.children);
        } else {
          this.rowsTarget.replaceChildren(...fresh.children);
        }
        const settings = html.getElementById("livechat-filters");
        if (settings) {
          try {
            const current = this.settings.current;
            this.settings = { ...JSON.parse(settings.textContent), current };
          } catch {
            // keep the filters known
          }
        }
        const summary = html.querySelector('[data-livechat-inbox-target="summary"]');
        if (summary && this.hasSummaryTarget) this.summaryTarget.textContent = summary.textContent;
        this.readUnread();
        this.updateEmpty();
        formatTimes(this.element);
      }

      // Filters ------------------------------------------------------------

      /** The filter form's choices as the list's URL (page 1). */
      filterUrl() {
        const query = new URLSearchParams();
        new FormData(this.filtersTarget).forEach((value, key) => {
          if (String(value).trim()) query.set(key, String(value).trim());
        });
        const text = query.toString();
        return `${window.location.pathname}${text ? `?${text}` : ""}`;
      }

      /** Apply the filters at once: no submit, no reload, the focus stays. */
      filter() {
        if (!this.hasFiltersTarget) return;
        clearTimeout(this.filterTimer);
        const url = this.filterUrl();
        if (url === `${window.location.pathname}${window.location.search}`) return;
        window.history.replaceState(window.history.state, "", url);
        this.refreshRows(url);
      }

      filterSoon(event) {
        if (event.target.type !== "search" && event.target.type !== "text") return;
        clearTimeout(this.filterTimer);
        this.filterTimer = setTimeout(() => this.filter(), FILTER_DELAY);
      }

      filterNow(event) {
        event.preventDefault();
        this.filter();
      }

      disconnect() {
        clearTimeout(this.refreshTimer);
        clearTimeout(this.filterTimer);
        if (this.subscription) this.subscription.stop();
      }

      rows() {
        return Array.from(this.rowsTarget.querySelectorAll("[data-conversation]"));
      }

      receive(frame) {
        switch (frame.type) {
          case "agent_welcome":
          case "availability":
            this.setAvailability(frame.available);
            break;
          case "message": // of a conversation this page opened: only its row matters here
            if (!frame.conversation) break;
          // falls through
          case "conversation": {
            const known = this.remember(frame.conversation);
            this.trackUnread(known);
            this.countUnread(known);
            this.upsert(known);
            break;
          }
          case "error":
            // Beside a conversation, that conversation's controller says it.
            if (!this.settings.current) flash(frame.message || frame.code);
            break;
          default:
        }
      }

      // Availability ---------------------------------------------------

      toggleAvailability(event) {
        const available = event.target.checked;
        if (!this.socket.send({ type: "availability", available })) {
          event.target.checked = !available; // not connected: nothing changed
          return;
        }
        this.setAvailability(available);
      }

      setAvailability(available) {
        if (this.hasAvailabilityTarget) this.availabilityTarget.checked = Boolean(available);
        if (this.hasAvailabilityStateTarget) {
          // The switch says "Available"; spell out the other state.
          this.availabilityStateTarget.textContent = available ? "" : this.strings.away;
        }
      }

      // Notifications and sound ------------------------------------------

      updateNotifyButton() {
        if (!this.hasNotifyTarget) return;
        this.notifyTarget.hidden = !notifications.supported() || notifications.enabled();
      }

      async enableNotifications() {
        if (!notifications.supported()) return;
        let permission = window.Notification.permission;
        if (permission === "default") permission = await window.Notification.requestPermission();
        if (permission === "granted") {
          window.localStorage.setItem(NOTIFY_KEY, "1");
          flash(this.strings.notificationsOn, "success");
        } else {
          flash(this.strings.notificationsBlocked, "warning");
        }
        this.updateNotifyButton();
      }

      toggleSound(event) {
        sound.set(event.target.checked);
        if (event.target.checked) sound.play(); // what it sounds like
      }

      // Rows -----------------------------------------------------------

      /** Whether a conversation belongs in this list: true, false, or null
       * when only the server can tell (a search, labels not known). */
      matches(conversation) {
        const filters = this.settings;
        if (filters.status && filters.status !== "all" && conversation.status !== filters.status) {
          return false;
        }
        const assignee = conversation.assignee ? conversation.assignee.id : null;
        if (filters.assigned === "me" && assignee !== filters.user) return false;
        if (filters.assigned === "none" && assignee !== null) return false;
        if (filters.inbox && conversation.inbox !== filters.inbox) return false;
        if (filters.label) {
          if (!Array.isArray(conversation.labels)) return null;
          if (!conversation.labels.includes(filters.label)) return false;
        }
        return filters.q ? null : true;
      }

      upsert(conversation) {
        let row = this.rowsTarget.querySelector(`[data-conversation="${Number(conversation.id)}"]`);
        if (row && Date.parse(conversation.updated) < Date.parse(row.dataset.updated)) return;
        const verdict = this.matches(conversation);
        if (verdict === false) {
          if (row) row.remove();
          this.updateEmpty();
          return;
        }
        const firstPage = !this.settings.page || this.settings.page === 1;
        if (!row) {
          if (!firstPage) return; // it belongs on page 1
          if (verdict === null || !("visitor" in conversation)) {
            this.refreshSoon(); // the server knows whether, and what, to show
            return;
          }
          row = this.rowTemplateTarget.content.firstElementChild.cloneNode(true);
        }
        this.fill(row, conversation);
        if (firstPage) this.place(row, conversation);
        this.updateEmpty();
      }

      /** Fill a row from a merged summary (an assignee may be known only by
       * id); the compact rows beside a conversation have fewer slots. */
      fill(row, conversation) {
        const strings = this.strings;
        row.dataset.conversation = String(conversation.id);
        row.dataset.updated = conversation.updated;
        row.dataset.status = conversation.status;
        row.dataset.assignee = conversation.assignee ? String(conversation.assignee.id) : "";
        row.classList.toggle("livechat-row--unread", conversation.unread > 0);
        const link = slot(row, "link");
        link.href = this.conversationUrl(conversation.id);
        if (conversation.id === this.settings.current) link.setAttribute("aria-current", "page");
        setText(row, "visitor", conversation.visitor);
        const badge = setText(row, "unread", format(strings.unread, { count: conversation.unread }));
        if (badge) badge.hidden = !(conversation.unread > 0);
        if ("last_message" in conversation) setText(row, "last_message", conversation.last_message);
        if ("inbox_name" in conversation) setText(row, "inbox_name", conversation.inbox_name);
        if (Array.isArray(conversation.labels)) renderLabels(slot(row, "labels"), conversation.labels);
        const assignee = conversation.assignee;
        if (!assignee || assignee.name) {
          setText(row, "assignee", assignee ? assignee.name : strings.unassigned);
        }
        const status = setText(row, "status", strings[conversation.status] || conversation.status);
        if (status) status.classList.toggle("w-status--label", conversation.status !== "open");
        const time = slot(row, "updated");
        time.setAttribute("datetime", conversation.updated);
        time.textContent = formatDate(conversation.updated);
      }

      /** Newest first: put the row before the first older one. */
      place(row, conversation) {
        const updated = Date.parse(conversation.updated);
        const before = this.rows().find(
          (other) => other !== row && Date.parse(other.dataset.updated) < updated,
        );
        if (before) {
          if (row.nextElementSibling !== before) this.rowsTarget.insertBefore(row, before);
        } else if (!row.parentNode) {
          this.rowsTarget.appendChild(row);
        }
      }

      updateEmpty() {
        if (this.hasEmptyTarget) this.emptyTarget.hidden = this.rows().length > 0;
      }
    },
  );

  // -- One conversation -----------------------------------------------------

  app.register(
    "livechat-conversation",
    class extends LivechatController {
      static targets = [
        "log",
        "emptyLog",
        "messageTemplate",
        "typing",
        "composer",
        "reply",
        "listbox",
        "cannedStatus",
        "note",
        "send",
        "status",
        "assignee",
        "close",
        "reopen",
        "viewers",
        "connection",
        "page",
        "contact",
        "earlier",
        "heading",
        "survey",
        "labels",
        "labelInput",
        "visitor",
        "pages",
        "file",
        "attachStatus",
      ];

      static values = {
        socketPath: { type: String, default: "/ws/livechat/agent/" },
        lastSeq: { type: Number, default: 0 },
      };

      connect() {
        this.initializeShared();
        this.settings = readJSON("livechat-conversation", {});
        this.canned = readJSON("livechat-canned-data", []);
        this.id = this.settings.conversation;
        this.me = this.settings.user;
        this.state = this.remember({ id: this.id, ...(this.settings.data || {}) });
        unreadSeen.set(this.id, this.state.unread || 0);
        this.seqs = new Set(
          Array.from(this.logTarget.querySelectorAll("[data-seq]"), (el) => Number(el.dataset.seq)),
        );
        // The messages the server rendered: their links too.
        this.logTarget
          .querySelectorAll('[data-slot="body"]')
          .forEach((body) => linkify(body, body.textContent));
        this.lastSeq = Math.max(this.lastSeqValue, ...this.seqs, 0);
        this.readSent = 0;
        this.ready = false;
        this.typers = new Map();
        this.typingOn = false;
        this.matches = [];
        this.active = -1;
        this.storageKey = `wagtail-livechat:pending:${this.id}`;
        this.pending = new Map(this.loadPending().map((p) => [p.id, p]));
        this.pending.forEach((p) => this.renderPending(p));
        formatTimes(this.element);
        this.scrollToEnd(true);

        this.onVisible = () => this.markRead();
        document.addEventListener("visibilitychange", this.onVisible);
        window.addEventListener("focus", this.onVisible);

        // The visitor's local time, kept current.
        this.renderLocalTime();
        this.clock = setInterval(() => this.renderLocalTime(), 30000);

        this.subscription = subscribe(this.socketPathValue, {
          onOpen: () => {
            this.ready = false;
            this.socket.send({ type: "open", conversation: this.id, after: this.lastSeq });
          },
          onFrame: (frame) => this.receive(frame),
          onStatus: (state, delay) => {
            if (state !== "connected") this.ready = false;
            this.showStatus(state, delay);
          },
        });
        this.socket = this.subscription.socket;
      }

      /* The visitor's answer to the feedback survey (text only). */
      renderSurvey(survey) {
        if (!this.hasSurveyTarget || !survey) return;
        const slot = (name) => this.surveyTarget.querySelector(`[data-slot="${name}"]`);
        slot("rating").textContent = survey.rating;
        slot("scale").textContent = survey.scale;
        slot("comment").textContent = survey.comment;
        slot("comment").hidden = !survey.comment;
        slot("agent").textContent = survey.agent ? survey.agent.name : "";
        slot("created").setAttribute("datetime", survey.created);
        slot("created").textContent = new Date(survey.created).toLocaleString();
        this.surveyTarget.hidden = false;
      }

      disconnect() {
        document.removeEventListener("visibilitychange", this.onVisible);
        window.removeEventListener("focus", this.onVisible);
        clearTimeout(this.typingTimer);
        clearInterval(this.clock);
        this.typers.forEach((timer) => clearTimeout(timer));
        if (this.subscription) this.subscription.stop();
      }

      receive(frame) {
        const mine = (id) => id === this.id;
        switch (frame.type) {
          case "history":
            if (!frame.conversation || !mine(frame.conversation.id)) return;
            this.applyConversation(this.remember(frame.conversation));
            (frame.messages || []).forEach((message) => this.addMessage(message));
            if (frame.context) this.renderContext(frame.context);
            if (frame.survey) this.renderSurvey(frame.survey);
            this.ready = true;
            this.flushPending();
            this.markRead();
            break;
          case "message":
            if (frame.conversation) this.trackUnread(this.remember(frame.conversation));
            if (!frame.message || !mine(frame.message.conversation)) return;
            if (frame.conversation) this.applyConversation(this.remember(frame.conversation));
            this.addMessage(frame.message);
            if (frame.message.author === "visitor") this.setTyping("visitor", false);
            this.markRead();
            break;
          case "ack":
            this.acknowledge(frame.id, frame.message);
            break;
          case "survey":
            if (mine(frame.conversation)) this.renderSurvey(frame.survey);
            break;
          case "error":
            if (frame.id && this.pending.has(frame.id)) {
              this.fail(frame.id, frame.message || frame.code);
            } else {
              flash(frame.message || frame.code);
            }
            break;
          case "conversation": {
            const known = this.remember(frame.conversation);
            this.trackUnread(known);
            if (mine(known.id)) this.applyConversation(known);
            break;
          }
          case "typing":
            if (mine(frame.conversation)) this.setTyping(frame.who, frame.on);
            break;
          case "viewers":
            if (mine(frame.conversation)) this.renderViewers(frame.viewers || []);
            break;
          case "visitor_page":
            if (!mine(frame.conversation)) break;
            this.renderPage(frame.page);
            if (frame.visit) this.addVisit(frame.visit);
            break;
          case "context": // not in the protocol yet: a proposed push of the context
            if (mine(frame.conversation) && frame.context) this.renderContext(frame.context);
            break;
          default:
        }
      }

      // Messages ---------------------------------------------------------

      nearEnd() {
        const log = this.logTarget;
        return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
      }

      scrollToEnd(force) {
        if (force || this.stick) this.logTarget.scrollTop = this.logTarget.scrollHeight;
      }

      buildMessage(message) {
        const element = this.messageTemplateTarget.content.firstElementChild.cloneNode(true);
        element.className = `livechat-message livechat-message--${message.author || "agent"}`;
        element.classList.toggle("livechat-message--note", Boolean(message.note));
        setText(element, "name", message.name);
        slot(element, "note").hidden = !message.note;
        slot(element, "attachment").replaceChildren(
          ...(message.attachment ? attachmentNodes(message.attachment, this.strings) : []),
        );
        linkify(slot(element, "body"), String(message.body || ""));
        const time = slot(element, "created");
        if (message.created) {
          time.setAttribute("datetime", message.created);
          time.textContent = formatDate(message.created);
        } else {
          time.removeAttribute("datetime");
          time.textContent = "";
        }
        return element;
      }

      addMessage(message) {
        const seq = Number(message.seq);
        if (!seq || this.seqs.has(seq)) return; // dedupe by seq
        this.stick = this.nearEnd();
        this.seqs.add(seq);
        this.lastSeq = Math.max(this.lastSeq, seq);
        if (this.hasEmptyLogTarget) this.emptyLogTarget.remove();
        const element = this.buildMessage(message);
        element.dataset.seq = String(seq);
        const after = Array.from(this.logTarget.children).find(
          (other) =>
            other.classList.contains("livechat-message--pending") ||
            (other.dataset.seq && Number(other.dataset.seq) > seq),
        );
        this.logTarget.insertBefore(element, after || null);
        this.scrollToEnd();
      }

      markRead() {
        if (!this.ready || document.visibilityState !== "visible") return;
        if (this.lastSeq > this.readSent) {
          if (this.socket.send({ type: "read", conversation: this.id, seq: this.lastSeq })) {
            this.readSent = this.lastSeq;
          }
        }
      }

      // Sending ----------------------------------------------------------

      loadPending() {
        try {
          const stored = JSON.parse(window.sessionStorage.getItem(this.storageKey) || "[]");
          return Array.isArray(stored) ? stored.filter((p) => p && p.id && p.body) : [];
        } catch {
          return [];
        }
      }

      savePending() {
        try {
          const list = Array.from(this.pending.values()).filter((p) => !p.failed);
          if (list.length) {
            window.sessionStorage.setItem(
              this.storageKey,
              JSON.stringify(list.map(({ id, body, note }) => ({ id, body, note }))),
            );
          } else {
            window.sessionStorage.removeItem(this.storageKey);
          }
        } catch {
          // Private mode: pending messages then live as long as the page.
        }
      }

      submit(event) {
        event.preventDefault();
        this.closeCanned();
        const body = this.replyTarget.value;
        if (!body.trim()) return;
        const pending = { id: clientId(), body, note: this.noteTarget.checked };
        this.pending.set(pending.id, pending);
        this.savePending();
        this.renderPending(pending);
        this.replyTarget.value = "";
        this.stopTyping();
        this.scrollToEnd(true);
        // Inserted canned responses can pass the textarea's maxlength; the
        // server would refuse (or close on) the frame, and a resend loop follow.
        const limit = this.replyTarget.maxLength > 0 ? this.replyTarget.maxLength : 4000;
        if (body.length > limit) return this.fail(pending.id, `${body.length} > ${limit}`);
        if (this.ready) this.transmit(pending);
      }

      // Files ------------------------------------------------------------

      pick() {
        this.fileTarget.click();
      }

      /** Sent over HTTP (the session and Django's CSRF token); the message
       * comes back in the answer and on the socket, deduped by seq. */
      async attach() {
        const file = this.fileTarget.files[0];
        this.fileTarget.value = "";
        if (!file || !this.settings.attachUrl) return;
        const config = readJSON("wagtail-config", {});
        const data = new FormData();
        data.append("file", file);
        data.append("id", clientId());
        if (this.noteTarget.checked) data.append("note", "on");
        this.attachStatusTarget.textContent = format(this.strings.uploading, { name: file.name });
        let error = this.strings.uploadFailed;
        try {
          const response = await fetch(this.settings.attachUrl, {
            method: "POST",
            body: data,
            credentials: "same-origin",
            headers: { [config.CSRF_HEADER_NAME || "X-CSRFToken"]: config.CSRF_TOKEN || "" },
          });
          const answer = await response.json();
          if (response.ok) {
            this.attachStatusTarget.textContent = "";
            this.stick = true;
            this.addMessage(answer.message);
            return;
          }
          error = answer.message || error;
        } catch {
          // The network: say so below.
        }
        this.attachStatusTarget.textContent = error;
      }

      transmit(pending) {
        this.socket.send({
          type: "message",
          conversation: this.id,
          id: pending.id,
          body: pending.body,
          note: pending.note,
        });
      }

      /** After (re)connecting: resend what was never acknowledged, same ids. */
      flushPending() {
        this.pending.forEach((pending) => {
          if (!pending.failed) this.transmit(pending);
        });
      }

      renderPending(pending) {
        const element = this.buildMessage({
          author: "agent",
          name: this.settings.name,
          body: pending.body,
          note: pending.note,
        });
        element.classList.add("livechat-message--pending");
        element.dataset.clientId = pending.id;
        const state = setText(element, "state", this.strings.sending);
        state.hidden = false;
        if (this.hasEmptyLogTarget) this.emptyLogTarget.remove();
        this.logTarget.appendChild(element);
        pending.element = element;
      }

      acknowledge(id, message) {
        const pending = this.pending.get(id);
        if (pending) {
          this.pending.delete(id);
          this.savePending();
          if (pending.element) pending.element.remove();
        }
        if (message && message.conversation === this.id) this.addMessage(message);
      }

      fail(id, error) {
        const pending = this.pending.get(id);
        pending.failed = true;
        this.savePending();
        if (!pending.element) return;
        pending.element.classList.add("livechat-message--failed");
        const state = setText(pending.element, "state", format(this.strings.failed, { error }));
        state.hidden = false;
      }

      noteMode() {
        const note = this.noteTarget.checked;
        this.composerTarget.classList.toggle("livechat-composer--note", note);
        this.sendTarget.textContent = note ? this.strings.addNote : this.strings.send;
        if (note) this.stopTyping();
      }

      // Typing -------------------------------------------------------------

      startTyping() {
        if (this.noteTarget.checked) return; // the visitor must not see notes being written
        if (!this.typingOn && this.ready) {
          this.typingOn = this.socket.send({ type: "typing", conversation: this.id, on: true });
        }
        clearTimeout(this.typingTimer);
        this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE);
      }

      stopTyping() {
        clearTimeout(this.typingTimer);
        if (this.typingOn) {
          this.socket.send({ type: "typing", conversation: this.id, on: false });
          this.typingOn = false;
        }
      }

      setTyping(who, on) {
        clearTimeout(this.typers.get(who));
        if (on) {
          // An "off" can be lost with a connection: forget it after a while.
          this.typers.set(
            who,
            setTimeout(() => this.setTyping(who, false), TYPING_SHOWN),
          );
        } else {
          this.typers.delete(who);
        }
        const texts = Array.from(this.typers.keys(), (name) =>
          name === "visitor"
            ? this.strings.visitorTyping
            : format(this.strings.agentTyping, { name }),
        );
        this.typingTarget.textContent = texts.join(" ");
      }

      // Canned responses ---------------------------------------------------

      /** The "/shortcut" being typed just before the caret, if any. */
      cannedToken() {
        const reply = this.replyTarget;
        if (reply.selectionStart !== reply.selectionEnd) return null;
        const before = reply.value.slice(0, reply.selectionStart);
        const match = before.match(/(^|\s)\/([a-z0-9_-]*)$/);
        if (!match) return null;
        return { query: match[2], start: before.length - match[2].length - 1, end: before.length };
      }

      input() {
        if (this.replyTarget.value.trim()) this.startTyping();
        else this.stopTyping();
        this.updateCanned();
      }

      updateCanned() {
        const token = this.cannedToken();
        if (!token || !this.canned.length) {
          this.closeCanned();
          return;
        }
        const query = token.query;
        const matches = this.canned
          .filter((c) => c.shortcut.startsWith(query))
          .sort((a, b) => (b.shortcut === query) - (a.shortcut === query));
        if (!matches.length) {
          this.closeCanned();
          return;
        }
        const wasOpen = !this.listboxTarget.hidden;
        this.matches = matches;
        this.renderCanned(0);
        if (!wasOpen) {
          this.cannedStatusTarget.textContent = format(this.strings.cannedHint, {
            count: matches.length,
          });
        }
      }

      renderCanned(active) {
        const listbox = this.listboxTarget;
        this.active = active;
        listbox.replaceChildren(
          ...this.matches.map((canned, index) => {
            const option = document.createElement("li");
            option.id = `livechat-canned-${index}`;
            option.setAttribute("role", "option");
            option.setAttribute("aria-selected", String(index === active));
            option.className = "livechat-canned__option";
            const shortcut = document.createElement("span");
            shortcut.className = "livechat-canned__shortcut";
            shortcut.textContent = `/${canned.shortcut}`;
            const text = document.createElement("span");
            text.className = "livechat-canned__text";
            text.textContent = canned.text;
            option.append(shortcut, text);
            // Keep the focus in the reply box; insert on click.
            option.addEventListener("mousedown", (event) => event.preventDefault());
            option.addEventListener("click", () => this.insertCanned(index));
            return option;
          }),
        );
        listbox.hidden = false;
        this.replyTarget.setAttribute("aria-activedescendant", `livechat-canned-${active}`);
        const current = listbox.children[active];
        if (current) current.scrollIntoView({ block: "nearest" });
      }

      closeCanned() {
        if (!this.hasListboxTarget) return;
        this.listboxTarget.hidden = true;
        this.listboxTarget.replaceChildren();
        this.replyTarget.removeAttribute("aria-activedescendant");
        this.matches = [];
        this.active = -1;
        this.cannedStatusTarget.textContent = "";
      }

      insertCanned(index) {
        const canned = this.matches[index];
        const token = this.cannedToken();
        if (!canned || !token) {
          this.closeCanned();
          return;
        }
        const reply = this.replyTarget;
        reply.setRangeText(canned.text, token.start, token.end, "end");
        this.closeCanned();
        reply.focus();
        this.startTyping();
      }

      blur() {
        this.closeCanned();
      }

      keydown(event) {
        if (event.isComposing) return;
        const open = !this.listboxTarget.hidden && this.matches.length > 0;
        if (open) {
          if (event.key === "ArrowDown" || event.key === "ArrowUp") {
            event.preventDefault();
            const step = event.key === "ArrowDown" ? 1 : -1;
            this.renderCanned((this.active + step + this.matches.length) % this.matches.length);
            return;
          }
          if ((event.key === "Tab" && !event.shiftKey) || (event.key === "Enter" && !event.shiftKey)) {
            event.preventDefault();
            this.insertCanned(this.active);
            return;
          }
          if (event.key === "Escape") {
            event.preventDefault();
            this.closeCanned();
            return;
          }
        }
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          this.composerTarget.requestSubmit();
        }
      }

      // Assign, close, reopen ---------------------------------------------

      assign() {
        const value = this.assigneeTarget.value;
        const user = value ? Number(value) : null;
        if (!this.socket.send({ type: "assign", conversation: this.id, user })) {
          this.applyConversation(this.state); // not connected: show what is true
        }
      }

      close() {
        this.socket.send({ type: "close", conversation: this.id });
      }

      reopen() {
        this.socket.send({ type: "reopen", conversation: this.id });
      }

      applyConversation(conversation) {
        const previous = this.state || {};
        this.state = conversation;
        const open = conversation.status === "open";
        this.statusTarget.textContent = this.strings[conversation.status] || conversation.status;
        this.statusTarget.classList.toggle("w-status--label", !open);
        const focused = document.activeElement;
        this.closeTarget.hidden = !open;
        this.reopenTarget.hidden = open;
        if (focused === this.closeTarget && !open) this.reopenTarget.focus();
        if (focused === this.reopenTarget && open) this.closeTarget.focus();

        const assignee = conversation.assignee;
        const select = this.assigneeTarget;
        if (assignee && !Array.from(select.options).some((o) => o.value === String(assignee.id))) {
          select.add(new Option(assignee.name, String(assignee.id)));
        }
        select.value = assignee ? String(assignee.id) : "";

        if ("visitor_page" in conversation) this.renderPage(conversation.visitor_page);
        if (Array.isArray(conversation.labels)) this.renderLabels(conversation.labels);
        if (previous.visitor !== undefined && previous.visitor !== conversation.visitor) {
          // The visitor left their email address: fetch the new context.
          if (this.hasHeadingTarget) {
            this.headingTarget.textContent = format(this.strings.conversationWith, {
              visitor: conversation.visitor,
            });
          }
          if (this.ready) {
            this.socket.send({ type: "open", conversation: this.id, after: this.lastSeq });
          }
        }
      }

      // Labels -------------------------------------------------------------

      addLabel(event) {
        event.preventDefault();
        const label = this.labelInputTarget.value.trim();
        if (!label) return;
        if (this.socket.send({ type: "label", conversation: this.id, label, add: true })) {
          this.labelInputTarget.value = "";
        }
      }

      removeLabel(event) {
        const label = event.currentTarget.dataset.label;
        if (this.socket.send({ type: "label", conversation: this.id, label, add: false })) {
          this.labelInputTarget.focus(); // the button goes with its label
        }
      }

      renderLabels(labels) {
        if (!this.hasLabelsTarget) return;
        const items = labels.map((label) => {
          const item = document.createElement("li");
          item.className = "livechat-label";
          const text = document.createElement("span");
          text.textContent = label;
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "livechat-label__remove";
          remove.dataset.label = label;
          remove.dataset.action = "livechat-conversation#removeLabel";
          remove.setAttribute("aria-label", format(this.strings.removeLabel, { label }));
          remove.textContent = "×";
          item.append(text, remove);
          return item;
        });
        if (!items.length) {
          const none = document.createElement("li");
          none.className = "livechat-context__none";
          none.textContent = this.strings.labelsNone;
          items.push(none);
        }
        this.labelsTarget.replaceChildren(...items);
      }

      // Presence -----------------------------------------------------------

      renderViewers(viewers) {
        const others = viewers.filter((viewer) => viewer.id !== this.me).map((v) => v.name);
        this.viewersTarget.textContent = others.length
          ? format(this.strings.viewers, { names: others.join(", ") })
          : this.strings.viewersNone;
      }

      // Context ------------------------------------------------------------

      paragraph(text, className) {
        const p = document.createElement("p");
        p.textContent = text;
        if (className) p.className = className;
        return p;
      }

      renderPage(page) {
        if (!this.hasPageTarget) return;
        const parts = [];
        if (page && page.url) {
          const title = document.createElement("p");
          title.className = "livechat-context__page";
          const link = document.createElement("a");
          if (isHttpUrl(page.url)) link.href = page.url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          link.textContent = page.title || page.url;
          title.append(link);
          parts.push(title, this.paragraph(page.url, "livechat-context__url"));
          if (page.edit_url) {
            const edit = document.createElement("a");
            edit.className = "button button-small button-secondary";
            edit.href = page.edit_url;
            edit.textContent = this.strings.editPage;
            const wrapper = document.createElement("p");
            wrapper.append(edit);
            parts.push(wrapper);
          }
        } else {
          parts.push(this.paragraph(this.strings.noPage, "livechat-context__none"));
        }
        this.pageTarget.replaceChildren(...parts);
      }

      /** Browser, system, device and local time, as the conversation's start stored them. */
      renderVisitor(visitor) {
        if (!this.hasVisitorTarget || !visitor) return;
        const strings = this.strings;
        setText(this.visitorTarget, "browser", visitor.browser || strings.unknown);
        setText(this.visitorTarget, "os", visitor.os || strings.unknown);
        setText(this.visitorTarget, "device", strings[visitor.device] || strings.unknown);
        const local = slot(this.visitorTarget, "local_time");
        if (local) local.dataset.timeZone = visitor.time_zone || "";
        this.renderLocalTime();
        if (this.hasPagesTarget && Array.isArray(visitor.pages)) {
          this.pagesTarget.replaceChildren();
          visitor.pages.forEach((visit) => this.addVisit(visit));
        }
      }

      renderLocalTime() {
        const local = this.hasVisitorTarget && slot(this.visitorTarget, "local_time");
        const zone = local && local.dataset.timeZone;
        if (!zone) return;
        try {
          const time = new Intl.DateTimeFormat(lang, { timeStyle: "short", timeZone: zone });
          local.textContent = format(this.strings.localTime, {
            time: time.format(new Date()),
            zone,
          });
        } catch {
          // A zone this browser does not know: the server's rendering stays.
        }
      }

      /** One more page the visitor visited (the latest PAGES_KEPT are shown). */
      addVisit(visit) {
        if (!this.hasPagesTarget || !visit) return;
        const last = this.pagesTarget.lastElementChild;
        if (last && last.dataset.url === visit.url) return;
        const item = document.createElement("li");
        item.dataset.url = visit.url;
        const link = document.createElement("a");
        if (isHttpUrl(visit.url)) link.href = visit.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = visit.title || visit.url;
        const time = document.createElement("time");
        time.setAttribute("datetime", visit.at);
        time.textContent = formatDate(visit.at);
        item.append(link, " ", time);
        this.pagesTarget.append(item);
        while (this.pagesTarget.children.length > PAGES_KEPT) {
          this.pagesTarget.firstElementChild.remove();
        }
      }

      renderContext(context) {
        this.renderPage(context.page);
        this.renderVisitor(context.visitor);
        if (this.hasContactTarget && context.contact) {
          const contact = context.contact;
          const strings = this.strings;
          const list = document.createElement("dl");
          list.className = "livechat-context__facts";
          const email = document.createElement("a");
          email.href = `mailto:${contact.email}`;
          email.textContent = contact.email;
          [
            [strings.contactName, contact.name || "—"],
            [strings.contactEmail, email],
            [strings.addressConfirmed, contact.confirmed ? strings.yes : strings.no],
            [
              strings.dataConsent,
              contact.data_consent
                ? strings.yes
                : (contact.unconfirmed_consents || []).includes("data")
                  ? strings.unconfirmed
                  : strings.no,
            ],
            [strings.subscriptions, (contact.subscriptions || []).join(", ") || strings.none],
          ].forEach(([label, value]) => {
            const dt = document.createElement("dt");
            dt.textContent = label;
            const dd = document.createElement("dd");
            dd.append(value); // a string is appended as a text node
            list.append(dt, dd);
          });
          this.contactTarget.replaceChildren(list);
        }
        if (this.hasEarlierTarget && context.earlier && context.earlier.length) {
          const list = document.createElement("ul");
          list.className = "livechat-context__earlier";
          context.earlier.forEach((earlier) => {
            const item = document.createElement("li");
            const link = document.createElement("a");
            link.href = this.conversationUrl(earlier.id);
            link.textContent = format(this.strings.conversation, { id: earlier.id });
            const time = document.createElement("time");
            time.setAttribute("datetime", earlier.created);
            time.textContent = formatDate(earlier.created);
            const status = document.createElement("span");
            status.className = `w-status${earlier.status === "open" ? "" : " w-status--label"}`;
            status.textContent = this.strings[earlier.status] || earlier.status;
            item.append(link, " ", time, " ", status);
            list.append(item);
          });
          this.earlierTarget.replaceChildren(list);
        }
      }
    },
  );
})();
