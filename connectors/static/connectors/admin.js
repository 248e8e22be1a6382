// Connectors admin: small progressive enhancements; every page also works without JavaScript.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Selects that submit their form on change (space switcher, type filter).
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) select.form.submit();
      });
    });

    // Live filtering of the connector-type grid.
    document.querySelectorAll("input[data-filter-cards]").forEach(function (input) {
      var grid = document.querySelector(input.getAttribute("data-filter-cards"));
      var empty = document.querySelector("[data-filter-empty]");
      if (!grid) return;
      input.addEventListener("input", function () {
        var words = input.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
        var shown = 0;
        grid.querySelectorAll("[data-search]").forEach(function (item) {
          var text = item.getAttribute("data-search");
          var match = words.every(function (w) { return text.indexOf(w) !== -1; });
          item.hidden = !match;
          if (match) shown += 1;
        });
        if (empty) empty.hidden = shown !== 0;
      });
    });

    // After a rejected submit, put the keyboard on the first field with a problem.
    var invalid = document.querySelector(".cx-field--error input, .cx-field--error select, .cx-field--error textarea");
    if (invalid) invalid.focus();

    // Select-all and the selected count on the connectors list.
    var bulk = document.getElementById("cx-bulk");
    if (bulk) {
      var all = bulk.querySelector("[data-select-all]");
      var boxes = bulk.querySelectorAll("input[name='ids']");
      var count = bulk.querySelector("[data-selected-count]");
      var update = function () {
        var n = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
        if (count) count.textContent = n ? n + " selected" : "";
        if (all) {
          all.checked = n > 0 && n === boxes.length;
          all.indeterminate = n > 0 && n < boxes.length;
        }
      };
      if (all) {
        all.addEventListener("change", function () {
          boxes.forEach(function (b) { b.checked = all.checked; });
          update();
        });
      }
      boxes.forEach(function (b) { b.addEventListener("change", update); });
      update();
    }
  });
})();
