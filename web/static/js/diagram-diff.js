/*
 * Two versions of a process side by side (bpmn-js navigated viewer from /vendor), each diagram with
 * the elements the server found added, removed or changed marked by a CSS class (diff-added,
 * diff-removed, diff-changed: colours in modeler.css, since the CSP allows no inline styles).
 */
(function () {
  "use strict";

  var viewers = [];

  Array.prototype.forEach.call(document.querySelectorAll("[data-diff-diagram]"), function (root) {
    var source = root.querySelector(".diagram-source");
    if (!window.BpmnJS || !source) {
      return;
    }
    var xml = source.value;
    var viewer = new window.BpmnJS({
      container: root.querySelector(".diagram-canvas"),
      moddleExtensions: { spiffworkflow: window.ServiceFlowModdle.forXml(xml) },
    });
    viewer.importXML(xml).then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      var marks = JSON.parse(root.getAttribute("data-marks") || "{}");
      Object.keys(marks).forEach(function (id) {
        if (registry.get(id)) {
          canvas.addMarker(id, "diff-" + marks[id]);
        }
      });
      viewers.push({ path: root.getAttribute("data-path"), viewer: viewer });
      root.setAttribute("data-ready", "true");
    }).catch(function (error) {
      root.setAttribute("data-ready", "failed");
      root.querySelector(".diagram-error").hidden = false;
      root.querySelector(".diagram-error").textContent += " " + error.message;
    });
  });

  // An element id in the list shows that element on both diagrams of its file, selected.
  Array.prototype.forEach.call(document.querySelectorAll(".diff-show"), function (button) {
    button.addEventListener("click", function () {
      var id = button.getAttribute("data-element-id");
      viewers.forEach(function (entry) {
        var element = entry.path === button.getAttribute("data-file") && entry.viewer.get("elementRegistry").get(id);
        var selection = entry.viewer.get("selection", false);
        if (element) {
          entry.viewer.get("canvas").scrollToElement(element);
          if (selection) {
            selection.select(element);
          }
        }
      });
    });
  });
}());
