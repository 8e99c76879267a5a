/*
 * The read-only decision table view: dmn-js's viewer (served from /vendor) shows one DMN file of a
 * model version, opened at its first decision table; the tests and problems are the page's HTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("decision-viewer");
  if (!root || !window.DmnJS) {
    return;
  }
  var viewer = new window.DmnJS({ container: document.getElementById("decision-canvas") });

  viewer.importXML(document.getElementById("decision-source").value)
    .then(function () {
      var table = viewer.getViews().filter(function (view) { return view.type === "decisionTable"; })[0];
      return table ? viewer.open(table) : null;
    })
    .then(function () {
      var active = viewer.getActiveView();
      root.setAttribute("data-view", active && active.element ? active.element.id : "");
      root.setAttribute("data-ready", "true");
    })
    .catch(function (error) {
      var status = document.getElementById("decision-status");
      status.setAttribute("data-state", "failed");
      status.textContent = root.getAttribute("data-text-failed") + " " + error.message;
    });
}());
