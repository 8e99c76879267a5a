/*
 * The read-only diagram of a model version (bpmn-js navigated viewer from /vendor): pan and zoom,
 * no editing, with the version's validation problems on their elements and in a list.
 */
(function () {
  "use strict";

  Array.prototype.forEach.call(document.querySelectorAll("[data-diagram]"), function (root) {
    if (!window.BpmnJS) {
      return;
    }
    var xml = root.querySelector(".diagram-source").value;
    var viewer = new window.BpmnJS({
      container: root.querySelector(".diagram-canvas"),
      moddleExtensions: { spiffworkflow: window.ServiceFlowModdle.forXml(xml) },
    });
    var file = root.getAttribute("data-path");
    viewer.importXML(xml).then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      var problems = JSON.parse(root.getAttribute("data-problems") || "[]");
      window.ServiceFlowProblems.show(viewer, problems, file, root.querySelector(".diagram-problems"));
      root.setAttribute("data-ready", "true");
    }).catch(function (error) {
      root.setAttribute("data-ready", "failed");
      root.querySelector(".diagram-error").hidden = false;
      root.querySelector(".diagram-error").textContent += " " + error.message;
    });
  });
}());
