// The rule editor (actions/admin_rule_editor.py): progressive enhancements. Without JavaScript
// every control still works (adding/removing actions and refreshing previews submit the form).
// Params that follow other params' choices (`shown_when` on the params schema) are admin.js's, as on
// the connector form.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function byName(form, name) {
    return form.querySelector("[name='" + name + "']");
  }

  // The throttle inputs only for "On custom action intervals"; variables for alerts or summaries.
  function actionFrequency(action) {
    var prefix = "action-" + action.getAttribute("data-action-index") + "-";
    var notify = action.querySelector("[name='" + prefix + "notify_when']");
    var summary = action.querySelector("[name='" + prefix + "summary']");
    var throttle = action.querySelector("[data-throttle]");
    var update = function () {
      var mode = summary && summary.value === "true" ? "summary" : "alert";
      if (notify) {
        // Kibana offers "On status changes" to per-alert actions only (a summary has no one status).
        var change = notify.querySelector("option[value='onActionGroupChange']");
        if (change) change.disabled = mode === "summary";
        if (mode === "summary" && notify.value === "onActionGroupChange") notify.value = "onActiveAlert";
      }
      if (throttle && notify) throttle.hidden = notify.value !== "onThrottleInterval";
      action.querySelectorAll(".rx-variable-list li[data-only]").forEach(function (li) {
        var only = li.getAttribute("data-only");
        li.hidden = only !== "" && only !== mode;
      });
    };
    action.addEventListener("change", update);
    update();
  }

  // "Add variable": insert {{name}} at the cursor of the last text input of the action's params.
  function variablesMenu(action) {
    var target = null;
    action.addEventListener("focusin", function (event) {
      var el = event.target;
      if ((el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && el.type === "text")) && /-params__/.test(el.name)) target = el;
    });
    action.querySelectorAll("[data-variable]").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = target || action.querySelector("textarea[name*='-params__'], input[type=text][name*='-params__']");
        if (!field) return;
        var text = "{{" + button.getAttribute("data-variable") + "}}";
        var start = field.selectionStart != null ? field.selectionStart : field.value.length;
        var end = field.selectionEnd != null ? field.selectionEnd : field.value.length;
        field.value = field.value.slice(0, start) + text + field.value.slice(end);
        field.focus();
        field.setSelectionRange(start + text.length, start + text.length);
        field.dispatchEvent(new Event("input", { bubbles: true }));
        var menu = button.closest("details");
        if (menu) menu.open = false;
      });
    });
  }

  // Live preview: the server renders the action's params with sample values (Mustache as runs do).
  function livePreview(form, action) {
    var out = action.querySelector("[data-preview]");
    var url = form.getAttribute("data-preview-url");
    if (!out || !url) return;
    var timer = null;
    var refresh = function () {
      var data = new FormData(form);
      data.append("preview", action.getAttribute("data-action-index"));
      fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) { if (body && typeof body.preview === "string") out.textContent = body.preview; })
        .catch(function () { /* the preview is a convenience; the save still validates */ });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 300); };
    action.addEventListener("input", later);
    action.addEventListener("change", later);
    var name = byName(form, "name");
    if (name) name.addEventListener("input", later);
  }

  // Tags as chips; the comma-separated text input stays the value that is posted.
  function tagInput(input) {
    var box = document.createElement("div");
    box.className = "rx-tags";
    var entry = document.createElement("input");
    entry.type = "text";
    entry.id = input.id;
    entry.setAttribute("autocomplete", "off");
    entry.setAttribute("aria-describedby", input.id + "_helptext");
    input.id = input.id + "_value";
    input.type = "hidden";
    input.parentNode.insertBefore(box, input.nextSibling);
    var tags = input.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    var render = function () {
      box.querySelectorAll(".rx-tag").forEach(function (chip) { chip.remove(); });
      tags.forEach(function (tag, index) {
        var chip = document.createElement("span");
        chip.className = "rx-tag";
        chip.textContent = tag;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "Remove tag " + tag);
        remove.addEventListener("click", function () { tags.splice(index, 1); render(); entry.focus(); });
        chip.appendChild(remove);
        box.insertBefore(chip, entry);
      });
      input.value = tags.join(", ");
    };
    var commit = function () {
      entry.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean).forEach(function (t) {
        if (tags.indexOf(t) === -1) tags.push(t);
      });
      entry.value = "";
      render();
    };
    entry.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === ",") { event.preventDefault(); commit(); }
      else if (event.key === "Backspace" && !entry.value && tags.length) { tags.pop(); render(); }
    });
    entry.addEventListener("blur", commit);
    box.appendChild(entry);
    if (input.form) input.form.addEventListener("submit", commit);
    render();
  }

  ready(function () {
    var form = document.getElementById("rx-rule-form");
    if (!form) return;
    form.querySelectorAll(".rx-action").forEach(function (action) {
      actionFrequency(action);
      variablesMenu(action);
      livePreview(form, action);
    });
    form.querySelectorAll("input[data-tag-input]").forEach(tagInput);
  });
})();
