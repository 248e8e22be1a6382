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

    // Fields that follow the choices (`data-shown-when`: [[input name, negated, [values]], ...]), in
    // any form (the connector form, the rule editor): an input is shown while every condition holds;
    // a hidden input's value counts as none.
    document.querySelectorAll("form").forEach(function (form) {
      var dependents = form.querySelectorAll("[data-shown-when]");
      if (!dependents.length) return;
      var valueOf = function (name) {
        var input = form.elements[name];
        if (!input) return null;
        var wrapper = input.closest ? input.closest(".cx-field") : null;
        if (wrapper && wrapper.hidden) return null;
        if (input.type === "checkbox") return input.checked ? "true" : "false";
        return input.value;
      };
      var refresh = function () {
        // two passes: a field can depend on one that another choice just hid
        for (var pass = 0; pass < 3; pass += 1) {
          dependents.forEach(function (wrapper) {
            var conditions = JSON.parse(wrapper.getAttribute("data-shown-when"));
            wrapper.hidden = !conditions.every(function (c) {
              return (c[2].indexOf(valueOf(c[0])) !== -1) !== c[1];
            });
          });
        }
      };
      form.addEventListener("change", refresh);
      refresh();
    });

    // Certificates and keys: the chosen file goes into the field as base64, as Kibana's form does.
    document.querySelectorAll("input[type=file][data-base64-for]").forEach(function (picker) {
      var target = document.getElementById(picker.getAttribute("data-base64-for"));
      var note = document.querySelector("[data-file-note-for='" + picker.getAttribute("data-base64-for") + "']");
      picker.addEventListener("change", function () {
        var file = picker.files && picker.files[0];
        if (!file || !target) return;
        var reader = new FileReader();
        reader.onload = function () {
          var bytes = new Uint8Array(reader.result);
          var binary = "";
          for (var i = 0; i < bytes.length; i += 0x8000) {
            binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
          }
          target.value = btoa(binary);
          if (note) note.textContent = file.name + " loaded.";
        };
        reader.readAsArrayBuffer(file);
      });
    });

    // Lists of small objects (`data-rows`: Slack's channels, PagerDuty's links, comments): "Add row"
    // copies the last row blank, "Remove" drops one. Inputs are named `<name>__<row>__<key>`; gaps
    // in the row numbers do not matter, the server reads the rows in order.
    document.querySelectorAll("[data-rows]").forEach(function (box) {
      var body = box.querySelector("tbody");
      var add = box.querySelector("[data-add-row]");
      if (!body || !add) return;
      var next = body.querySelectorAll("tr").length;
      // Remove buttons when there are two rows or more; labels say each row's place ("row 2").
      var showRemove = function () {
        var rows = body.querySelectorAll("tr");
        rows.forEach(function (row, position) {
          row.querySelectorAll("[aria-label]").forEach(function (input) {
            input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/row \d+$/, "row " + (position + 1)));
          });
          var button = row.querySelector("[data-remove-row]");
          if (button) button.hidden = rows.length < 2;
        });
      };
      add.hidden = false;
      add.addEventListener("click", function () {
        var rows = body.querySelectorAll("tr");
        var row = rows[rows.length - 1].cloneNode(true);
        var name = box.getAttribute("data-rows");
        var index = next;
        next += 1;
        row.setAttribute("data-row", String(index));
        row.querySelectorAll("[data-col]").forEach(function (input) {
          var key = input.getAttribute("data-col");
          input.name = name + "__" + index + "__" + key;
          if (input.id) input.id = box.id + "__" + index + "__" + key;
          input.value = "";
        });
        body.appendChild(row);
        showRemove();
        var first = row.querySelector("input:not([type=hidden]), textarea");
        if (first) first.focus();
      });
      body.addEventListener("click", function (event) {
        var button = event.target.closest ? event.target.closest("[data-remove-row]") : null;
        if (!button) return;
        button.closest("tr").remove();
        showRemove();
        add.focus();
      });
      showRemove();
    });

    // Copy buttons (`data-copy` names the element whose text is copied).
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) return;
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      });
    });

    // Secrets typed before a rejected submit: the server never puts a secret into a page, so the tab
    // keeps them (sessionStorage) for that one navigation and puts them back into the same form.
    var SECRETS_KEY = "cx-typed-secrets";
    var typed = null;
    try {
      typed = JSON.parse(window.sessionStorage.getItem(SECRETS_KEY) || "null");
      window.sessionStorage.removeItem(SECRETS_KEY);
    } catch (e) {
      typed = null;
    }
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-secret]")) return;
      if (typed && typed.action === form.action && form.querySelector(".cx-field--error, #cx-form-errors")) {
        Object.keys(typed.values).forEach(function (name) {
          var input = form.elements[name];
          if (input && input.hasAttribute && input.hasAttribute("data-secret") && !input.value) {
            input.value = typed.values[name];
          }
        });
      }
      form.addEventListener("submit", function () {
        var values = {};
        form.querySelectorAll("[data-secret]").forEach(function (input) {
          if (input.value) values[input.name] = input.value;
        });
        try {
          if (Object.keys(values).length) {
            window.sessionStorage.setItem(SECRETS_KEY, JSON.stringify({ action: form.action, values: values }));
          }
        } catch (e) { /* storage full or disabled: the secrets are typed again */ }
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
