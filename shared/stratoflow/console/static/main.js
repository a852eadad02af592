// The console's pages, chosen by the path: /ui/flows, /ui/flows/<namespace>/<id>, /ui/executions,
// /ui/executions/<id>.

import { clear, h } from "./dom.js";
import { flowsPage, flowPage } from "./flows.js";
import { executionsPage } from "./executions.js";
import { executionPage } from "./execution.js";

const ROUTES = [
  [/^\/ui\/flows\/?$/, () => flowsPage()],
  [/^\/ui\/flows\/([^/]+)\/([^/]+)\/?$/, (m) => flowPage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^\/ui\/executions\/?$/, () => executionsPage()],
  [/^\/ui\/executions\/([^/]+)\/?$/, (m) => executionPage(decodeURIComponent(m[1]))],
];

async function route() {
  const main = document.getElementById("main");
  for (const link of document.querySelectorAll("header nav a")) {
    if (window.location.pathname.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
  }
  for (const [pattern, page] of ROUTES) {
    const match = window.location.pathname.match(pattern);
    if (!match) continue;
    try {
      await page(match, main);
    } catch (error) {
      clear(main, h("h1", {}, "Error"), h("p", { role: "alert", className: "error" }, error.message));
    }
    return;
  }
  document.title = "Not found · Stratoflow";
  clear(main, h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "/ui/flows" }, "Flows")));
}

route();
