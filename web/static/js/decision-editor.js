/*
 * The decision table editor: dmn-js (served from /vendor) edits one DMN file of a draft model, and
 * a plain table edits the decision tests kept beside it (<name>.tests.json, a JSON list of
 * {decision, description, inputs, expected}). Save posts each file as JSON {path, content} with the
 * CSRF token to the modeler's save endpoint; the server validates the draft, running the tests,
 * and answers its problems, of which those of these two files are listed.
 */
(function () {
  "use strict";

  var root = document.getElementById("decision-editor");
  if (!root || !window.DmnJS) {
    return;
  }
  var file = root.getAttribute("data-path");
  var testsFile = root.getAttribute("data-tests-path");
  var status = document.getElementById("decision-status");
  var problemList = document.getElementById("decision-problems");
  var testRows = document.getElementById("decision-tests");
  var rowTemplate = document.getElementById("decision-test-row");
  var viewNav = document.getElementById("decision-views");
  var csrf = document.querySelector("meta[name='csrf-token']").getAttribute("content");
  var modeler = new window.DmnJS({ container: document.getElementById("decision-canvas") });
  var FIELDS = ["decision", "description", "inputs", "expected"];

  function text(name) {
    return root.getAttribute("data-text-" + name) || "";
  }

  function setStatus(state, message) {
    status.setAttribute("data-state", state);
    status.textContent = message;
  }

  /* --- problems ---------------------------------------------------------------------------- */

  function showProblems(problems) {
    var mine = problems.filter(function (p) { return p.file === file || p.file === testsFile; });
    problemList.textContent = "";
    mine.forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "problem problem-" + problem.severity;
      item.setAttribute("data-element-id", problem.element_id || "");
      var where = document.createElement("span");
      where.className = "problem-element";
      where.textContent = [problem.file, problem.element_id].filter(Boolean).join(" · ");
      var message = document.createElement("span");
      message.textContent = problem.message;
      item.appendChild(where);
      item.appendChild(message);
      problemList.appendChild(item);
    });
    problemList.hidden = mine.length === 0;
    return mine;
  }

  /* --- decision views ---------------------------------------------------------------------- */

  function showViews() {
    var tables = modeler.getViews().filter(function (view) { return view.type === "decisionTable"; });
    viewNav.textContent = "";
    (tables.length > 1 ? tables : []).forEach(function (view) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-secondary";
      button.textContent = view.element.name || view.element.id;
      button.setAttribute("data-decision", view.element.id);
      button.addEventListener("click", function () { modeler.open(view); });
      viewNav.appendChild(button);
    });
    if (tables.length) {
      return modeler.open(tables[0]);
    }
    return Promise.resolve();
  }

  /* --- test cases -------------------------------------------------------------------------- */

  function addRow(test) {
    var row = rowTemplate.content.firstElementChild.cloneNode(true);
    FIELDS.forEach(function (field) {
      var value = test[field];
      if (field === "inputs" || field === "expected") {
        value = JSON.stringify(value || {});
      }
      row.querySelector("[data-field='" + field + "']").value = value || "";
    });
    row.querySelector("[data-action='remove']").addEventListener("click", function () {
      row.remove();
      setStatus("dirty", text("unsaved"));
    });
    testRows.appendChild(row);
    return row;
  }

  function loadTests(source) {
    var tests;
    try {
      tests = JSON.parse(source || "[]");
    } catch (error) {
      tests = [];
    }
    (Array.isArray(tests) ? tests : []).forEach(function (test) {
      addRow(test && typeof test === "object" ? test : {});
    });
  }

  function jsonObject(value, number, field) {
    var parsed;
    try {
      parsed = JSON.parse(value || "{}");
    } catch (error) {
      parsed = null;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error(text("bad-json").replace("{number}", number).replace("{field}", field));
    }
    return parsed;
  }

  function collectTests() {
    return Array.prototype.map.call(testRows.querySelectorAll("tr"), function (row, index) {
      function value(field) { return row.querySelector("[data-field='" + field + "']").value.trim(); }
      var test = { decision: value("decision") };
      if (value("description")) {
        test.description = value("description");
      }
      test.inputs = jsonObject(value("inputs"), index + 1, "inputs");
      test.expected = jsonObject(value("expected"), index + 1, "expected");
      return test;
    });
  }

  function currentDecision() {
    var active = modeler.getActiveView();
    return active && active.element ? active.element.id : "";
  }

  /* --- saving ------------------------------------------------------------------------------ */

  function post(path, content) {
    return fetch(root.getAttribute("data-save-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ path: path, content: content }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          throw new Error(body.error || response.statusText);
        }
        return body;
      });
    });
  }

  function save() {
    var tests;
    try {
      tests = collectTests();
    } catch (error) {
      setStatus("failed", text("failed") + " " + error.message);
      return Promise.resolve();
    }
    setStatus("saving", text("saving"));
    return modeler.saveXML({ format: true })
      .then(function (result) { return post(file, result.xml); })
      .then(function () { return post(testsFile, JSON.stringify(tests, null, 2) + "\n"); })
      .then(function (body) {
        var mine = showProblems(body.problems || []);
        setStatus(mine.length ? "problems" : "saved", mine.length ? text("problems") : text("saved"));
      })
      .catch(function (error) {
        setStatus("failed", text("failed") + " " + error.message);
      });
  }

  document.getElementById("decision-save").addEventListener("click", save);
  document.getElementById("decision-test-add").addEventListener("click", function () {
    addRow({ decision: currentDecision() }).querySelector("[data-field='inputs']").focus();
    setStatus("dirty", text("unsaved"));
  });
  testRows.addEventListener("input", function () { setStatus("dirty", text("unsaved")); });

  loadTests(document.getElementById("decision-tests-source").value);
  showProblems(JSON.parse(root.getAttribute("data-problems") || "[]"));
  modeler.importXML(document.getElementById("decision-source").value)
    .then(showViews)
    .then(function () {
      modeler.on("views.changed", function () { root.setAttribute("data-view", currentDecision()); });
      root.setAttribute("data-view", currentDecision());
      var active = modeler.getActiveViewer();
      if (active) {
        active.on("elements.changed", function () { setStatus("dirty", text("unsaved")); });
      }
      setStatus("loaded", text("loaded"));
      root.setAttribute("data-ready", "true");
    })
    .catch(function (error) {
      setStatus("failed", text("failed") + " " + error.message);
    });
}());
