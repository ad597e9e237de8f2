// The index's search box and filters, live in the page: rows are shown or hidden by
// their data attributes (the same filters the served hub applies without JavaScript).
(function () {
  const table = document.getElementById("repos");
  if (!table) return;
  const search = document.getElementById("search");
  const license = document.getElementById("filter-license");
  const kind = document.getElementById("filter-kind");
  const allowed = document.getElementById("filter-allowed");
  const empty = document.getElementById("no-match");
  const params = new URLSearchParams(window.location.search);
  if (params.has("q")) search.value = params.get("q");
  if (params.has("license")) license.value = params.get("license");
  if (params.has("kind")) kind.value = params.get("kind");
  if (allowed && params.has("allowed")) allowed.checked = true;

  function apply() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      const visible = words.every((w) => row.dataset.search.includes(w))
        && (!license.value || row.dataset.license === license.value)
        && (!kind.value || row.dataset.kind === kind.value)
        && (!allowed || !allowed.checked || row.dataset.allowed === "yes");
      row.hidden = !visible;
      shown += visible;
    }
    empty.hidden = shown > 0;
  }
  for (const input of [search, license, kind, allowed]) {
    if (!input) continue;
    input.addEventListener("input", apply);
    input.addEventListener("change", apply);
  }
  apply();
})();
