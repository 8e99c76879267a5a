/*
 * Validation problems of a model shown where a process owner looks: as a badge on the diagram
 * element they are about (by element_id) and in a list beside the diagram, whose items select and
 * scroll to that element. Shared by the modeler and the read-only viewer; problems of other files
 * of the model, or of no element, appear in the list only.
 */
(function () {
  "use strict";

  var TYPE = "serviceflow-problems";

  function badge(problems) {
    var node = document.createElement("div");
    var worst = problems.some(function (p) { return p.severity === "error"; }) ? "error" : "warning";
    node.className = "diagram-problem diagram-problem-" + worst;
    node.setAttribute("role", "note");
    node.setAttribute("data-element-id", problems[0].element_id);
    node.textContent = String(problems.length);
    node.title = problems.map(function (p) { return p.message; }).join("\n");
    return node;
  }

  function show(viewer, problems, file, list) {
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    overlays.remove({ type: TYPE });
    var byElement = {};
    problems.forEach(function (problem) {
      var here = !problem.file || problem.file === file;
      if (here && problem.element_id && registry.get(problem.element_id)) {
        (byElement[problem.element_id] = byElement[problem.element_id] || []).push(problem);
      }
    });
    Object.keys(byElement).forEach(function (id) {
      overlays.add(id, TYPE, { position: { top: -10, right: 10 }, html: badge(byElement[id]) });
    });
    if (list) {
      fill(viewer, list, problems);
    }
  }

  function fill(viewer, list, problems) {
    var registry = viewer.get("elementRegistry");
    list.textContent = "";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "problem problem-" + problem.severity;
      item.setAttribute("data-element-id", problem.element_id || "");
      var where = document.createElement(problem.element_id && registry.get(problem.element_id) ? "button" : "span");
      where.className = "problem-element";
      where.textContent = [problem.file, problem.element_id].filter(Boolean).join(" · ");
      if (where.tagName === "BUTTON") {
        where.type = "button";
        where.addEventListener("click", function () {
          var element = registry.get(problem.element_id);
          viewer.get("canvas").scrollToElement(element);
          if (viewer.get("selection", false)) {
            viewer.get("selection").select(element);
          }
        });
      }
      var message = document.createElement("span");
      message.className = "problem-message";
      message.textContent = problem.message;
      item.appendChild(where);
      item.appendChild(message);
      list.appendChild(item);
    });
    list.hidden = problems.length === 0;
  }

  window.ServiceFlowProblems = { show: show };
}());
