// Run page: open sections in the URL, instance selection, Full screen and Modify dialogs.
// Delegated listeners on document, so fragments swapped in by htmx need no re-binding.
(() => {
  "use strict";

  const selection = { cell: null, ids: new Set(), urls: new Map(), anchor: null, last: null };

  // ---- open sections kept in the URL (?open=settings,metrics,details)
  document.addEventListener("toggle", (event) => {
    if (!event.target.matches || !event.target.matches("details[data-section]")) return;
    const open = [...document.querySelectorAll("details[data-section][open]")]
      .map((d) => d.dataset.section);
    const url = new URL(location.href);
    url.searchParams.set("open", open.join(","));
    history.replaceState(history.state, "", url);
  }, true);

  // ---- the chosen matrix cell
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.cell-link");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    document.querySelectorAll(".matrix td.selected").forEach((td) => td.classList.remove("selected"));
    link.parentElement.classList.add("selected");
  });

  // ---- instance selection: click, shift-click for a range, select page
  const cards = () => [...document.querySelectorAll("#run-instances .instance")];

  function render() {
    const section = document.getElementById("run-instances");
    if (!section) return;
    const visible = cards();
    visible.forEach((card) => {
      const on = selection.ids.has(card.dataset.id);
      card.classList.toggle("selected", on);
      card.setAttribute("aria-selected", on ? "true" : "false");
      card.classList.toggle("last-selected", on && card.dataset.id === selection.last);
    });
    const count = section.querySelector(".selection-count");
    if (count) count.textContent = count.dataset.template.replace("%(n)s", selection.ids.size);
    const pageBox = section.querySelector(".select-page");
    if (pageBox) {
      const chosen = visible.filter((c) => selection.ids.has(c.dataset.id)).length;
      pageBox.checked = visible.length > 0 && chosen === visible.length;
      pageBox.indeterminate = chosen > 0 && chosen < visible.length;
    }
    section.querySelectorAll(".fullscreen-button, .modify-button").forEach((b) => {
      b.disabled = selection.ids.size === 0;
    });
  }

  function select(card, on) {
    const id = card.dataset.id;
    if (on) {
      selection.ids.add(id);
      selection.urls.set(id, card.dataset.imageUrl);
      selection.last = id;
    } else {
      selection.ids.delete(id);
      if (selection.last === id) selection.last = [...selection.ids].pop() || null;
    }
  }

  function choose(card, shift) {
    const all = cards();
    const index = all.indexOf(card);
    if (shift && selection.anchor !== null && all[selection.anchor]) {
      const [a, b] = [selection.anchor, index].sort((x, y) => x - y);
      all.slice(a, b + 1).forEach((c) => select(c, true));
      select(card, true); // the clicked one is the last selected
    } else {
      select(card, !selection.ids.has(card.dataset.id));
      selection.anchor = index;
    }
    render();
  }

  document.addEventListener("click", (event) => {
    const card = event.target.closest("#run-instances .instance");
    if (card) {
      event.preventDefault();
      choose(card, event.shiftKey);
    }
  });
  document.addEventListener("mousedown", (event) => {
    // Shift+click would otherwise select the page's text.
    if (event.shiftKey && event.target.closest("#run-instances .instance")) event.preventDefault();
  });
  document.addEventListener("keydown", (event) => {
    const card = event.target.closest && event.target.closest("#run-instances .instance");
    if (card && (event.key === " " || event.key === "Enter")) {
      event.preventDefault();
      choose(card, event.shiftKey);
    }
  });
  document.addEventListener("change", (event) => {
    if (!event.target.matches(".select-page")) return;
    cards().forEach((card) => select(card, event.target.checked));
    render();
  });

  function syncWithSection() {
    const section = document.getElementById("run-instances");
    const cell = section ? section.dataset.cell : null;
    if (cell !== selection.cell) {
      selection.cell = cell;
      selection.ids.clear();
      selection.urls.clear();
      selection.last = null;
    }
    selection.anchor = null;
    render();
  }
  document.addEventListener("htmx:after:swap", syncWithSection);
  document.addEventListener("DOMContentLoaded", syncWithSection);

  // ---- dialogs: fragments fetched from the server
  async function openDialog(dialogId, bodyId, url) {
    const response = await fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    document.getElementById(bodyId).innerHTML = await response.text();
    const dialog = document.getElementById(dialogId);
    if (!dialog.open) dialog.showModal();
    return dialog;
  }

  // Zoom: 1 fits the whole image in the dialog; labels keep a readable size at any zoom.
  let zoom = 1;
  function applyZoom() {
    const view = document.querySelector("#fullscreen-body .image-view");
    const svg = view && view.querySelector(".image-svg");
    const area = view && view.querySelector(".zoom-area");
    if (!svg || !area) return;
    const width = Number(view.dataset.width), height = Number(view.dataset.height);
    const fit = Math.min(area.clientWidth / width, area.clientHeight / height);
    const scale = fit * zoom;
    svg.style.width = `${Math.round(width * scale)}px`;
    svg.style.height = `${Math.round(height * scale)}px`;
    svg.style.setProperty("--font", `${13 / scale}px`);
    svg.dataset.zoom = String(Math.round(zoom * 100));
  }
  window.addEventListener("resize", applyZoom);

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.matches(".fullscreen-button") && selection.last) {
      zoom = 1;
      await openDialog("fullscreen-dialog", "fullscreen-body", selection.urls.get(selection.last));
      applyZoom();
    } else if (button.matches(".modify-button") && selection.ids.size) {
      const url = new URL(button.dataset.url, location.href);  // a what-if's URL has a query
      url.searchParams.set("ids", [...selection.ids].join(","));
      await openDialog("modify-dialog", "modify-body", url);
    } else if (button.dataset.zoom) {
      zoom = button.dataset.zoom === "in" ? Math.min(zoom * 1.25, 8)
        : button.dataset.zoom === "out" ? Math.max(zoom / 1.25, 0.25) : 1;
      applyZoom();
    }
  });
  document.addEventListener("wheel", (event) => {
    if (!event.target.closest("#fullscreen-body .zoom-area")) return;
    event.preventDefault();
    zoom = event.deltaY < 0 ? Math.min(zoom * 1.1, 8) : Math.max(zoom / 1.1, 0.25);
    applyZoom();
  }, { passive: false });
})();
