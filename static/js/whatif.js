// What-if panel: the base-confidence slider and its number input move together; only the number
// input has a name, so the query (and the URL) carries one value.
(() => {
  "use strict";

  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement)) return;
    if (input.type === "range" && input.dataset.mirror) {
      const box = document.getElementById(input.dataset.mirror);
      if (box) box.value = input.value;
      return;
    }
    if (!input.id) return;
    const slider = document.querySelector(`input[type=range][data-mirror="${CSS.escape(input.id)}"]`);
    if (slider && input.value !== "" && !Number.isNaN(Number(input.value))) slider.value = input.value;
  });
})();
