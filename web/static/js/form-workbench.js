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

  function refresh() {
    var mine = ++sent;
    fetch(bench.getAttribute("data-preview-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": bench.getAttribute("data-csrf")},
      body: JSON.stringify({name: bench.getAttribute("data-name"), schema: schema.value, ui_schema: ui.value})
    }).then(function (response) {
      return response.json();
    }).then(function (result) {
      if (mine === sent) {
        show({problems: result.problems || [result.error || "?"], html: result.html || {}});
      }
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  schema.addEventListener("input", later);
  ui.addEventListener("input", later);
  refresh();
}());
