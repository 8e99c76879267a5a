/* The form workbench: after each pause in typing, send both texts to the server, which checks the
 * schema as publishing does and renders the form with the same macros staff see; show its HTML
 * (already escaped by those macros) or the problems it names. */
(function () {
  "use strict";

  var bench = document.querySelector("[data-workbench]");
  if (!bench) {
    return;
  }
  var schema = bench.querySelector("[data-schema]");
  var ui = bench.querySelector("[data-ui-schema]");
  var problems = bench.querySelector("[data-problems]");
  var timer = null;
  var sent = 0;

  function show(result) {
    problems.textContent = "";
    problems.hidden = result.problems.length === 0;
    result.problems.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      problems.appendChild(item);
    });
    Object.keys(result.html).forEach(function (locale) {
      var target = bench.querySelector('[data-preview="' + locale + '"]');
      if (target) {
        target.innerHTML = result.html[locale];
      }
    });
    bench.setAttribute("data-rendered", String(sent));
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": bench.getAttribute("data-csrf")},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (result) {
        return {ok: response.ok, result: result};
      });
    });
  }

  function refresh() {
    var mine = ++sent;
    post(bench.getAttribute("data-preview-url"),
         {name: bench.getAttribute("data-name"), schema: schema.value, ui_schema: ui.value}).then(function (answer) {
      var result = answer.result;
      if (mine === sent) {
        show({problems: result.problems || [result.error || "?"], html: result.html || {}});
      }
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  /* Save both files into the draft, one after the other; list the model's problems after it. */
  function save() {
    var url = bench.getAttribute("data-save-url");
    var status = bench.querySelector("[data-save-status]");
    var list = bench.querySelector("[data-model-problems]");
    status.textContent = "…";
    post(url, {path: bench.getAttribute("data-schema-path"), content: schema.value}).then(function (first) {
      if (!first.ok) {
        return first;
      }
      return post(url, {path: bench.getAttribute("data-ui-schema-path"), content: ui.value});
    }).then(function (last) {
      var problems = last.ok ? last.result.problems : [{message: last.result.error}];
      list.textContent = "";
      list.hidden = problems.length === 0;
      problems.forEach(function (problem) {
        var item = document.createElement("li");
        item.textContent = (problem.file ? problem.file + ": " : "") + problem.message;
        list.appendChild(item);
      });
      status.textContent = last.ok ? bench.getAttribute("data-saved-text") : "";
      bench.setAttribute("data-saved", last.ok ? "yes" : "no");
    });
  }

  schema.addEventListener("input", later);
  ui.addEventListener("input", later);
  var saveButton = bench.querySelector("[data-save]");
  if (saveButton) {
    saveButton.addEventListener("click", save);
  }
  refresh();
}());
