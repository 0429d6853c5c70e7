/* The chatflow editor: hide the fields that do not apply to the option chosen
 * (a URL rule "all pages" has no value, the agents heading no team name...)
 * and mark with Wagtail's asterisk those the option makes required, as
 * ChatflowForm checks them on save. Loaded with ChatflowForm's media only. */
(() => {
  const is = (...values) => (v) => values.includes(v);
  const not = (...values) => (v) => !values.includes(v);
  const on = (v) => v === true;
  // field: [the field it depends on, shown for that field's value, required when shown]
  const RULES = {
    "url_rules-*-value": ["operator", not("all"), true],
    "query_rules-*-value": ["operator", not("present"), true],
    "visitor_filters-*-value": ["operator", not("is_empty", "is_not_empty"), true],
    knowledge_base_root: ["chat_type", is("knowledge_base"), true],
    assign_users: ["auto_assign", on, false],
    assign_groups: ["auto_assign", on, false],
    email_capture_text: ["email_capture", not("never"), false],
    team_name: ["heading_mode", is("branding", "owner"), true],
    avatar: ["heading_mode", is("branding", "owner"), false],
    use_team_alias: ["heading_mode", is("branding"), false],
    heading_users: ["heading_mode", is("agents"), false],
    heading_groups: ["heading_mode", is("agents"), false],
    trigger: ["desktop_behaviour", is("prompt_and_open"), true],
    trigger_seconds: ["trigger", is("time_on_page"), true],
    trigger_scroll_percent: ["trigger", is("scroll"), true],
    cookie_consent_text: ["cookie_consent", not("off"), false],
    data_consent_text: ["data_consent", not("off"), false],
    subscription_type: ["communication_consent", on, true],
    communication_consent_label: ["communication_consent", on, true],
    survey_question: ["feedback_survey", on, false],
  };
  const start = () => {
    const form = document.querySelector("[name=heading_mode]")?.form;
    if (form) follow(form);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  function follow(form) {
    const value = (name) => {
      const fields = form.querySelectorAll(`[name="${name}"]`);
      if (!fields.length) return undefined;
      const field = fields[0];
      if (field.type === "checkbox") return field.checked;
      if (field.type === "radio") return [...fields].find((f) => f.checked)?.value ?? "";
      return field.value;
    };
    const wrapper = (name) => {
      const field = form.querySelector(`[name="${name}"]`);
      // The panel's wrapper holds the label too.
      return field && (field.closest(".w-panel__wrapper") || field.closest("[data-field-wrapper]"));
    };
    const mark = (box, required) => {
      const label = box.querySelector(".w-field__label, label");
      if (!label) return;
      let star = label.querySelector(".w-required-mark");
      if (required && !star) {
        star = document.createElement("span");
        star.className = "w-required-mark";
        star.dataset.livechat = "";
        star.textContent = "*";
        label.append(star);
      } else if (!required && star && "livechat" in star.dataset) star.remove();
    };
    const shown = (name) => {
      const rule = RULES[name];
      if (!rule) return true;
      const [dependsOn, test] = rule;
      // A field hidden because what it depends on is hidden (seconds of a
      // trigger that does not apply) is hidden too.
      return shown(dependsOn) && test(value(dependsOn));
    };

    const apply = () => {
      for (const [pattern, [dependsOn, , required]] of Object.entries(RULES)) {
        const names = pattern.includes("*")
          ? [...form.querySelectorAll(`[name^="${pattern.split("*")[0]}"][name$="-${dependsOn}"]`)]
              .map((f) => f.name.replace(new RegExp(`-${dependsOn}$`), `-${pattern.split("-*-")[1]}`))
              .filter((n) => !n.includes("__prefix__"))
          : [pattern];
        for (const name of names) {
          const box = wrapper(name);
          if (!box) continue;
          const prefix = name.slice(0, name.lastIndexOf("-") + 1);
          const show = pattern.includes("*")
            ? RULES[pattern][1](value(prefix + dependsOn))
            : shown(name);
          box.hidden = !show;
          mark(box, required && show);
        }
      }
    };
    form.addEventListener("change", apply);
    new MutationObserver(apply).observe(form, { childList: true, subtree: true });
    apply();
  }
})();
