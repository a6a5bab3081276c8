/* The panel tabs. A panel that loads its content when shown registers it with onEnter. */
import { $, $$ } from "./dom.js";

const enterHooks = {};
export function onEnter(name, fn) { enterHooks[name] = fn; }

export function showTab(name) {
  for (const t of $$("[role=tab]")) {
    const on = t.id === `tab-${name}`;
    t.setAttribute("aria-selected", on ? "true" : "false");
    t.tabIndex = on ? 0 : -1;
    $(`#${t.getAttribute("aria-controls")}`).hidden = !on;
  }
  location.hash = name;
  if (enterHooks[name]) enterHooks[name]();
}

export function wireTabs() {
  for (const t of $$("[role=tab]")) {
    t.addEventListener("click", () => showTab(t.id.slice(4)));
    t.addEventListener("keydown", (e) => {
      const tabs = $$("[role=tab]").filter((x) => !x.hidden); const i = tabs.indexOf(t);
      const j = e.key === "ArrowRight" ? (i + 1) % tabs.length : e.key === "ArrowLeft" ? (i - 1 + tabs.length) % tabs.length : -1;
      if (j >= 0) { tabs[j].focus(); showTab(tabs[j].id.slice(4)); }
    });
  }
}
