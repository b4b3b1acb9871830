// Annotation editor: boxes as SVG over the image; select, move, resize, relabel, delete, draw,
// zoom; a run's predictions drawn dashed and accepted as annotations; one JSON POST saves all.
// Label text is SVG/HTML text, never drawn into the image (CJK names need the browser's fonts).
(() => {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = [
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#0fa3b1", "#f032e6", "#7a9e00",
    "#b8860b", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#e377c2", "#17becf",
  ];
  const MIN_DRAWN_SIZE = 2; // image pixels: a smaller drag is a click, not a box
  const HANDLE_SCREEN_PX = 10;
  const LABEL_FONT_SCREEN_PX = 13;
  const ZOOM_STEP = 1.25;
  const ZOOM_RANGE = [0.05, 20];

  const fmt = (text, params) =>
    text.replace(/%\((\w+)\)s/g, (match, key) => (key in params ? String(params[key]) : match));
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);
  const round1 = (value) => Math.round(value * 10) / 10;

  function svgEl(tag, attrs = {}) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
    return el;
  }

  function htmlEl(tag, attrs = {}, text = null) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
    if (text !== null) el.textContent = text;
    return el;
  }

  function isTyping(target) {
    return target instanceof HTMLElement && target.matches("input, select, textarea, [contenteditable]");
  }

  class Editor {
    constructor(root) {
      this.root = root;
      this.config = JSON.parse(root.querySelector("script[type='application/json']").textContent);
      this.t = this.config.i18n;
      this.csrf = root.dataset.csrf;
      this.width = this.config.image.width;
      this.height = this.config.image.height;
      // The image's version the boxes were read at: a save names it, a stale one is refused (409).
      this.version = this.config.image.version;
      this.canvas = root.querySelector("[data-role=canvas]");
      this.stage = root.querySelector("[data-role=stage]");
      this.layers = {
        predictions: this.canvas.querySelector("[data-layer=predictions]"),
        boxes: this.canvas.querySelector("[data-layer=boxes]"),
        handles: this.canvas.querySelector("[data-layer=handles]"),
      };
      this.list = root.querySelector("[data-role=box-list]");
      this.predictionList = root.querySelector("[data-role=prediction-list]");
      this.statusEl = root.querySelector("[data-role=status]");
      this.reloadButton = root.querySelector("[data-action=reload]");
      this.newLabelSelect = root.querySelector("[data-role=new-label]");
      this.labels = new Map(
        this.config.labels.map((label, i) => [label.id, { ...label, color: PALETTE[i % PALETTE.length] }]),
      );
      this.labelIdsByName = new Map(this.config.labels.map((label) => [label.name, label.id]));
      this.nextKey = 1;
      this.boxes = this.config.annotations.map((a) => this.makeBox(a));
      this.selected = null; // key of the selected box
      this.mode = "select";
      this.scale = 1;
      this.drag = null;
      this.dirty = false;
      this.saving = false;
      this.errors = new Map(); // box key -> [messages]
      this.predictions = [];
      this.showPredictions = true;
      this.bind();
      this.fit();
      this.renderList();
      if (this.config.run) this.loadPredictions();
      if (!this.config.labels.length) this.setStatus(this.t.noLabels, "error");
    }

    makeBox(a) {
      return { key: this.nextKey++, id: a.id ?? null, label: a.label, x1: a.x1, y1: a.y1, x2: a.x2, y2: a.y2 };
    }

    box(key) {
      return this.boxes.find((b) => b.key === key) || null;
    }

    // ---- wiring -------------------------------------------------------------------------

    bind() {
      this.root.addEventListener("click", (e) => this.onClick(e));
      this.canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
      this.canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
      this.canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
      this.canvas.addEventListener("pointercancel", () => this.cancelDrag());
      this.stage.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
      this.list.addEventListener("change", (e) => this.onListChange(e));
      this.keyHandler = (e) => this.onKey(e);
      document.addEventListener("keydown", this.keyHandler);
      window.addEventListener("beforeunload", (e) => {
        if (this.dirty && this.root.isConnected) e.preventDefault();
      });
      const toggle = this.root.querySelector("[data-role=show-predictions]");
      if (toggle) {
        toggle.addEventListener("change", () => {
          this.showPredictions = toggle.checked;
          this.renderCanvas();
        });
      }
      const image = this.canvas.querySelector("image");
      image.addEventListener("error", () => this.setStatus(this.t.imageFailed, "error"));
    }

    onClick(e) {
      const button = e.target.closest("[data-action]");
      if (!button || !this.root.contains(button)) return;
      const action = button.dataset.action;
      if (action === "mode-select") this.setMode("select");
      else if (action === "mode-draw") this.setMode("draw");
      else if (action === "zoom-in") this.zoomBy(ZOOM_STEP);
      else if (action === "zoom-out") this.zoomBy(1 / ZOOM_STEP);
      else if (action === "zoom-fit") this.fit();
      else if (action === "delete") this.deleteSelected();
      else if (action === "save") this.save();
      else if (action === "reload") this.reload();
      else if (action === "select-box") this.select(Number(button.dataset.key), true);
      else if (action === "delete-box") this.deleteBox(Number(button.dataset.key));
      else if (action === "accept-prediction") this.acceptPrediction(Number(button.dataset.index));
    }

    onListChange(e) {
      const select = e.target.closest("select[data-key]");
      if (!select) return;
      const box = this.box(Number(select.dataset.key));
      const label = Number(select.value);
      if (!box || box.label === label) return;
      box.label = label;
      this.changed(box);
      this.select(box.key);
    }

    onKey(e) {
      if (!this.root.isConnected) {
        document.removeEventListener("keydown", this.keyHandler);
        return;
      }
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        this.save();
        return;
      }
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      const selected = this.box(this.selected);
      const step = e.shiftKey ? 10 : 1;
      const nudges = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if ((e.key === "Delete" || e.key === "Backspace") && selected) this.deleteSelected();
      else if (e.key === "Escape") {
        this.cancelDrag();
        this.select(null);
      } else if (e.key === "d" || e.key === "D") this.setMode("draw");
      else if (e.key === "v" || e.key === "V") this.setMode("select");
      else if (e.key === "+" || e.key === "=") this.zoomBy(ZOOM_STEP);
      else if (e.key === "-" || e.key === "_") this.zoomBy(1 / ZOOM_STEP);
      else if (e.key === "0") this.fit();
      else if (nudges[e.key] && selected) {
        const [dx, dy] = nudges[e.key];
        this.moveBox(selected, { ...selected }, dx, dy);
        this.changed(selected);
      } else return;
      e.preventDefault();
    }

    // ---- pointer: select, move, resize, draw --------------------------------------------

    toImage(e) {
      const point = this.canvas.createSVGPoint();
      point.x = e.clientX;
      point.y = e.clientY;
      const p = point.matrixTransform(this.canvas.getScreenCTM().inverse());
      return { x: clamp(p.x, 0, this.width), y: clamp(p.y, 0, this.height) };
    }

    onPointerDown(e) {
      if (e.button !== 0) return;
      const p = this.toImage(e);
      const handle = e.target.closest("[data-handle]");
      const boxEl = e.target.closest("[data-key]");
      const selected = this.box(this.selected);
      if (handle && selected) {
        this.drag = { type: "resize", corner: handle.dataset.handle, box: selected, start: { ...selected } };
      } else if (this.mode === "draw") {
        this.drag = { type: "draw", x0: p.x, y0: p.y, x: p.x, y: p.y };
      } else if (boxEl) {
        const box = this.box(Number(boxEl.dataset.key));
        this.select(box.key, true);
        this.drag = { type: "move", box, start: { ...box }, p0: p };
      } else {
        this.select(null);
        return;
      }
      this.drag.moved = false;
      this.canvas.setPointerCapture(e.pointerId);
      e.preventDefault();
    }

    onPointerMove(e) {
      const drag = this.drag;
      if (!drag) return;
      const p = this.toImage(e);
      drag.moved = true;
      if (drag.type === "move") {
        this.moveBox(drag.box, drag.start, p.x - drag.p0.x, p.y - drag.p0.y);
      } else if (drag.type === "resize") {
        this.resizeBox(drag.box, drag.start, drag.corner, p);
      } else {
        drag.x = p.x;
        drag.y = p.y;
        this.renderDraft();
        return;
      }
      this.renderCanvas();
    }

    onPointerUp(e) {
      const drag = this.drag;
      if (!drag) return;
      this.drag = null;
      if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
      if (drag.type === "draw") {
        this.finishDraw(drag);
      } else if (drag.moved) {
        const b = drag.box;
        const s = drag.start;
        if (b.x1 !== s.x1 || b.y1 !== s.y1 || b.x2 !== s.x2 || b.y2 !== s.y2) this.changed(b);
      }
      this.renderCanvas();
    }

    cancelDrag() {
      if (!this.drag) return;
      if (this.drag.box) Object.assign(this.drag.box, this.drag.start);
      this.drag = null;
      this.renderCanvas();
    }

    moveBox(box, start, dx, dy) {
      dx = clamp(dx, -start.x1, this.width - start.x2);
      dy = clamp(dy, -start.y1, this.height - start.y2);
      box.x1 = round1(start.x1 + dx);
      box.x2 = round1(start.x2 + dx);
      box.y1 = round1(start.y1 + dy);
      box.y2 = round1(start.y2 + dy);
    }

    resizeBox(box, start, corner, p) {
      const x = round1(p.x);
      const y = round1(p.y);
      if (corner.includes("w")) box.x1 = Math.min(x, start.x2 - 1);
      if (corner.includes("e")) box.x2 = Math.max(x, start.x1 + 1);
      if (corner.includes("n")) box.y1 = Math.min(y, start.y2 - 1);
      if (corner.includes("s")) box.y2 = Math.max(y, start.y1 + 1);
    }

    finishDraw(drag) {
      const x1 = round1(Math.min(drag.x0, drag.x));
      const x2 = round1(Math.max(drag.x0, drag.x));
      const y1 = round1(Math.min(drag.y0, drag.y));
      const y2 = round1(Math.max(drag.y0, drag.y));
      if (x2 - x1 < MIN_DRAWN_SIZE || y2 - y1 < MIN_DRAWN_SIZE) return;
      const label = Number(this.newLabelSelect?.value);
      if (!this.labels.has(label)) {
        this.setStatus(this.t.noLabels, "error");
        return;
      }
      const box = this.makeBox({ id: null, label, x1, y1, x2, y2 });
      this.boxes.push(box);
      this.changed(box);
      this.select(box.key, true);
    }

    // ---- editing operations -------------------------------------------------------------

    setMode(mode) {
      this.mode = mode;
      this.root.classList.toggle("drawing", mode === "draw");
      for (const button of this.root.querySelectorAll("[data-action^=mode-]")) {
        button.setAttribute("aria-pressed", String(button.dataset.action === `mode-${mode}`));
      }
    }

    select(key, scrollIntoList = false) {
      this.selected = key !== null && this.box(key) ? key : null;
      const box = this.box(this.selected);
      this.renderCanvas();
      this.renderList();
      if (scrollIntoList && box) {
        this.list.querySelector(`[data-box-key="${box.key}"]`)?.scrollIntoView({ block: "nearest" });
      }
    }

    deleteSelected() {
      if (this.selected !== null) this.deleteBox(this.selected);
    }

    deleteBox(key) {
      const index = this.boxes.findIndex((b) => b.key === key);
      if (index < 0) return;
      this.boxes.splice(index, 1);
      this.errors.delete(key);
      if (this.selected === key) this.selected = null;
      this.markDirty();
      this.renderCanvas();
      this.renderList();
    }

    changed(box) {
      this.errors.delete(box.key);
      this.markDirty();
      this.renderCanvas();
      this.renderList();
    }

    markDirty() {
      this.dirty = true;
      this.root.classList.add("dirty");
      this.setStatus(this.t.unsaved, "warn");
    }

    acceptPrediction(index) {
      const prediction = this.predictions[index];
      if (!prediction || prediction.accepted) return;
      const label = this.labelIdsByName.get(prediction.label);
      if (label === undefined) {
        this.setStatus(fmt(this.t.unknownLabel, { label: prediction.label }), "error");
        return;
      }
      prediction.accepted = true;
      const box = this.makeBox({ id: null, label, ...prediction.box });
      this.boxes.push(box);
      this.changed(box);
      this.select(box.key, true);
      this.renderPredictionList();
    }

    // ---- zoom ---------------------------------------------------------------------------

    fit() {
      const available = { w: this.stage.clientWidth - 4, h: this.stage.clientHeight - 4 };
      this.setScale(Math.min(available.w / this.width, available.h / this.height));
    }

    zoomBy(factor) {
      this.setScale(this.scale * factor);
    }

    setScale(scale) {
      const stage = this.stage;
      const cx = (stage.scrollLeft + stage.clientWidth / 2) / (this.width * this.scale);
      const cy = (stage.scrollTop + stage.clientHeight / 2) / (this.height * this.scale);
      this.scale = clamp(Number.isFinite(scale) && scale > 0 ? scale : 1, ...ZOOM_RANGE);
      this.canvas.setAttribute("width", String(this.width * this.scale));
      this.canvas.setAttribute("height", String(this.height * this.scale));
      stage.scrollLeft = cx * this.width * this.scale - stage.clientWidth / 2;
      stage.scrollTop = cy * this.height * this.scale - stage.clientHeight / 2;
      const zoom = this.root.querySelector("[data-role=zoom]");
      if (zoom) zoom.textContent = `${Math.round(this.scale * 100)}%`;
      this.renderCanvas();
    }

    onWheel(e) {
      if (!e.ctrlKey) return;
      e.preventDefault();
      this.zoomBy(e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP);
    }

    // ---- drawing the SVG ----------------------------------------------------------------

    renderCanvas() {
      const px = 1 / this.scale; // one screen pixel in image units
      this.layers.boxes.replaceChildren();
      this.layers.handles.replaceChildren();
      this.boxes.forEach((box, index) => {
        const label = this.labels.get(box.label);
        const color = label ? label.color : "#888";
        const selected = box.key === this.selected;
        const g = svgEl("g", {
          class: `box${selected ? " selected" : ""}${this.errors.has(box.key) ? " has-error" : ""}`,
          "data-key": box.key,
          "data-index": index,
        });
        g.append(
          svgEl("rect", {
            x: box.x1, y: box.y1, width: box.x2 - box.x1, height: box.y2 - box.y1,
            stroke: color, fill: color, "stroke-width": (selected ? 3 : 2) * px,
          }),
        );
        this.layers.boxes.append(g); // in the document first: text is measured there
        this.appendTag(g, box, label ? label.name : "?", color, px);
      });
      const selected = this.box(this.selected);
      if (selected && !(this.drag && this.drag.type === "draw")) this.renderHandles(selected, px);
      if (this.drag && this.drag.type === "draw") this.renderDraft();
      this.renderPredictions(px);
      this.updateToolbar();
    }

    appendTag(group, box, text, color, px, extraClass = "") {
      const size = LABEL_FONT_SCREEN_PX * px;
      const above = box.y1 - size * 1.4 >= 0;
      const y = above ? box.y1 - size * 0.35 : box.y1 + size * 1.05;
      const tag = svgEl("g", { class: `tag ${extraClass}`.trim() });
      const background = svgEl("rect", { x: box.x1, y: y - size * 1.05, height: size * 1.4, fill: color });
      const label = svgEl("text", { x: box.x1 + size * 0.3, y, "font-size": size });
      label.textContent = text;
      tag.append(background, label);
      group.append(tag);
      const width = label.getComputedTextLength();
      background.setAttribute("width", String(width + size * 0.6));
    }

    renderHandles(box, px) {
      const size = HANDLE_SCREEN_PX * px;
      const corners = { nw: [box.x1, box.y1], ne: [box.x2, box.y1], sw: [box.x1, box.y2], se: [box.x2, box.y2] };
      for (const [corner, [x, y]] of Object.entries(corners)) {
        this.layers.handles.append(
          svgEl("rect", {
            class: `handle handle-${corner}`, "data-handle": corner,
            x: x - size / 2, y: y - size / 2, width: size, height: size, "stroke-width": px,
          }),
        );
      }
    }

    renderDraft() {
      const drag = this.drag;
      this.layers.handles.replaceChildren(
        svgEl("rect", {
          class: "draft",
          x: Math.min(drag.x0, drag.x), y: Math.min(drag.y0, drag.y),
          width: Math.abs(drag.x - drag.x0), height: Math.abs(drag.y - drag.y0),
          "stroke-width": 2 / this.scale, "stroke-dasharray": `${6 / this.scale} ${3 / this.scale}`,
        }),
      );
    }

    renderPredictions(px) {
      this.layers.predictions.replaceChildren();
      if (!this.showPredictions) return;
      this.predictions.forEach((prediction, index) => {
        if (prediction.accepted) return;
        const color = this.labels.get(this.labelIdsByName.get(prediction.label))?.color || "#666";
        const g = svgEl("g", { class: "prediction", "data-prediction": index });
        const b = prediction.box;
        g.append(
          svgEl("rect", {
            x: b.x1, y: b.y1, width: b.x2 - b.x1, height: b.y2 - b.y1, stroke: color,
            "stroke-width": 2 * px, "stroke-dasharray": `${7 * px} ${4 * px}`,
          }),
        );
        this.layers.predictions.append(g);
        const text = `${prediction.label} ${prediction.score === null ? "" : prediction.score.toFixed(2)}`;
        const below = { ...b, y1: b.y2 + LABEL_FONT_SCREEN_PX * 1.5 * px };
        this.appendTag(g, below, text.trim(), color, px, "prediction-tag");
      });
    }

    // ---- side list ------------------------------------------------------------------------

    renderList() {
      const focused = document.activeElement?.closest?.("[data-box-key]")?.dataset.boxKey;
      const focusedRole = document.activeElement?.dataset?.focus;
      const rows = this.boxes.map((box, index) => this.listRow(box, index));
      if (!rows.length) rows.push(htmlEl("li", { class: "muted empty" }, this.t.noBoxes));
      this.list.replaceChildren(...rows);
      const count = this.root.querySelector("[data-role=box-count]");
      if (count) count.textContent = `(${this.boxes.length})`;
      if (focused && focusedRole) {
        this.list.querySelector(`[data-box-key="${focused}"] [data-focus="${focusedRole}"]`)?.focus();
      }
      this.updateToolbar();
    }

    listRow(box, index) {
      const label = this.labels.get(box.label);
      const errors = this.errors.get(box.key) || [];
      const li = htmlEl("li", {
        class: `box-row${box.key === this.selected ? " selected" : ""}${errors.length ? " has-error" : ""}`,
        "data-box-key": box.key,
        "data-box-row": index,
      });
      const pick = htmlEl("button", {
        type: "button", class: "box-pick", "data-action": "select-box", "data-key": box.key,
        "data-focus": "pick", "aria-pressed": String(box.key === this.selected),
        "aria-label": fmt(this.t.selectBox, { n: index + 1 }),
      });
      const swatch = htmlEl("span", { class: "swatch" });
      swatch.style.background = label ? label.color : "#888";
      pick.append(swatch, document.createTextNode(`#${index + 1}`));
      const select = htmlEl("select", {
        "data-key": box.key, "data-focus": "label", "aria-label": fmt(this.t.labelOfBox, { n: index + 1 }),
      });
      for (const option of this.labels.values()) {
        const el = htmlEl("option", { value: option.id }, option.name);
        if (option.id === box.label) el.selected = true;
        select.append(el);
      }
      const coords = htmlEl(
        "span",
        { class: "coords muted" },
        `${Math.round(box.x1)},${Math.round(box.y1)} – ${Math.round(box.x2)},${Math.round(box.y2)}` +
          ` (${Math.round(box.x2 - box.x1)}×${Math.round(box.y2 - box.y1)})`,
      );
      const remove = htmlEl(
        "button",
        {
          type: "button", class: "box-delete", "data-action": "delete-box", "data-key": box.key,
          "data-focus": "delete", "aria-label": fmt(this.t.deleteBox, { n: index + 1 }),
          title: fmt(this.t.deleteBox, { n: index + 1 }),
        },
        "×",
      );
      li.append(pick, select, coords, remove);
      if (box.id === null) li.append(htmlEl("span", { class: "badge badge-new" }, this.t.newBox));
      for (const message of errors) li.append(htmlEl("div", { class: "error small", role: "alert" }, message));
      return li;
    }

    renderPredictionList() {
      if (!this.predictionList) return;
      if (!this.predictions.length) {
        this.predictionList.replaceChildren(htmlEl("li", { class: "muted" }, this.t.noPredictions));
        return;
      }
      const rows = this.predictions.map((prediction, index) => {
        const li = htmlEl("li", { class: "prediction-row", "data-prediction-row": index });
        const score = prediction.score === null ? "" : ` ${prediction.score.toFixed(3)}`;
        li.append(htmlEl("span", { class: "prediction-name" }, `${prediction.label}${score}`));
        if (prediction.kind) li.append(htmlEl("span", { class: "muted small" }, ` ${prediction.kind}`));
        const button = htmlEl(
          "button",
          { type: "button", "data-action": "accept-prediction", "data-index": index },
          prediction.accepted ? this.t.accepted : this.t.accept,
        );
        button.disabled = prediction.accepted;
        li.append(button);
        return li;
      });
      this.predictionList.replaceChildren(...rows);
    }

    updateToolbar() {
      const del = this.root.querySelector("[data-action=delete]");
      if (del) del.disabled = this.selected === null;
    }

    setStatus(text, kind = "") {
      this.statusEl.textContent = text;
      this.statusEl.dataset.kind = kind;
    }

    // ---- server -------------------------------------------------------------------------

    async loadPredictions() {
      let data;
      try {
        const response = await fetch(this.config.run.predictionsUrl, {
          headers: { Accept: "application/json" }, credentials: "same-origin",
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        data = await response.json();
      } catch (error) {
        this.predictionList.replaceChildren(
          htmlEl("li", { class: "error" }, fmt(this.t.predictionsFailed, { reason: error.message })),
        );
        return;
      }
      const items = Array.isArray(data) ? data : data.predictions || [];
      this.predictions = items
        .map((item) => this.normalisePrediction(item))
        .filter((item) => item !== null)
        .sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
      this.renderPredictionList();
      this.renderCanvas();
    }

    normalisePrediction(item) {
      const raw = Array.isArray(item.box) ? item.box : Array.isArray(item.bbox) ? item.bbox : [item.x1, item.y1, item.x2, item.y2];
      const [x1, y1, x2, y2] = raw.map(Number);
      if (![x1, y1, x2, y2].every(Number.isFinite) || x1 >= x2 || y1 >= y2) return null;
      const box = {
        x1: clamp(x1, 0, this.width), y1: clamp(y1, 0, this.height),
        x2: clamp(x2, 0, this.width), y2: clamp(y2, 0, this.height),
      };
      const score = Number.isFinite(Number(item.score)) ? Number(item.score) : null;
      const label = String(item.label ?? item.label_name ?? item.predicted_label ?? "");
      const kind = (this.t.kinds && this.t.kinds[item.kind]) || null;
      return { box, score, label, kind, accepted: false };
    }

    async save() {
      if (this.saving) return;
      this.saving = true;
      this.root.classList.add("saving");
      this.setStatus(this.t.saving, "");
      const selectedId = this.box(this.selected)?.id ?? null;
      const boxes = this.boxes.map((b) => ({ id: b.id, label: b.label, x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2 }));
      try {
        const response = await fetch(this.config.saveUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": this.csrf },
          body: JSON.stringify({ version: this.version, boxes }),
        });
        const data = await response.json().catch(() => null);
        if (response.ok && !response.redirected && data && Array.isArray(data.annotations)) {
          this.applySaved(data, selectedId);
        } else if (response.status === 409 && data && Array.isArray(data.errors)) {
          this.showStale(data.errors);
        } else if (response.status === 422 && data && Array.isArray(data.errors)) {
          this.showErrors(data.errors);
        } else if (response.redirected) {
          this.setStatus(this.t.loggedOut, "error");
        } else {
          this.setStatus(fmt(this.t.saveFailed, { status: response.status }), "error");
        }
      } catch (error) {
        this.setStatus(this.t.networkError, "error");
      } finally {
        this.saving = false;
        this.root.classList.remove("saving");
      }
    }

    applySaved(data, selectedId) {
      this.version = data.version;
      if (this.reloadButton) this.reloadButton.hidden = true;
      this.boxes = data.annotations.map((a) => this.makeBox(a));
      this.errors.clear();
      this.dirty = false;
      this.root.classList.remove("dirty");
      this.selected = this.boxes.find((b) => selectedId !== null && b.id === selectedId)?.key ?? null;
      this.renderCanvas();
      this.renderList();
      this.setStatus(fmt(this.t.saved, data), "ok");
      this.root.dispatchEvent(new CustomEvent("annotations:saved", { bubbles: true, detail: data }));
    }

    showStale(errors) {
      // Someone else saved first: nothing of ours was stored. Keep the boxes on screen (the user
      // may note them) and offer to reload the image's current boxes.
      this.setStatus(errors.map((error) => error.message).join(" "), "error");
      this.statusEl.dataset.stale = "true";
      if (this.reloadButton) this.reloadButton.hidden = false;
    }

    reload() {
      if (this.dirty && !window.confirm(this.t.reloadConfirm)) return;
      this.dirty = false; // the user chose to drop the changes: no second "leave page?" prompt
      window.location.reload();
    }

    showErrors(errors) {
      this.errors.clear();
      const general = [];
      for (const error of errors) {
        const box = Number.isInteger(error.index) ? this.boxes[error.index] : null;
        if (!box) {
          general.push(error.message);
          continue;
        }
        const messages = this.errors.get(box.key) || [];
        messages.push(`${error.field}: ${error.message}`);
        this.errors.set(box.key, messages);
      }
      this.renderCanvas();
      this.renderList();
      const summary = fmt(this.t.invalid, { count: errors.length });
      this.setStatus([summary, ...general].join(" "), "error");
      this.list.querySelector(".has-error")?.scrollIntoView({ block: "nearest" });
    }
  }

  function start(scope) {
    for (const root of scope.querySelectorAll(".annotation-editor")) {
      if (root.editor) continue;
      root.editor = new Editor(root);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => start(document));
  } else {
    start(document);
  }
  // The editor fragment may also arrive through an HTMX swap.
  document.addEventListener("htmx:after:settle", () => start(document));
})();
