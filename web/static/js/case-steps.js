/*
 * Stepping through a case's history on its diagrams (bpmn-js navigated viewer from /vendor): the
 * path taken so far is marked on the elements (CSS classes), with a count on elements done more
 * than once (loop iterations); the open tasks, the waits and the case data of the chosen step are
 * listed beside it. Buttons, the timeline and the keyboard (← → Home End) move between steps; a
 * call activity opens the diagram of the process it calls.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-case-steps]");
  if (!root || !window.BpmnJS) {
    return;
  }
  var steps = JSON.parse(root.getAttribute("data-steps"));
  var processes = JSON.parse(root.getAttribute("data-processes"));
  var texts = JSON.parse(root.getAttribute("data-texts"));
  var names = JSON.parse(root.getAttribute("data-names"));
  var MARKERS = ["step-done", "step-now", "step-open", "step-waiting"];
  var OVERLAY = "case-steps-count";
  var viewers = {};
  var marked = {};
  var current = steps.length - 1;

  function panel(file) {
    return root.querySelector('.case-steps-diagram[data-file="' + CSS.escape(file) + '"]');
  }

  function load(file) {
    if (viewers[file]) {
      return viewers[file].ready;
    }
    var section = panel(file);
    var xml = section.querySelector(".diagram-source").value;
    var viewer = new window.BpmnJS({
      container: section.querySelector(".diagram-canvas"),
      moddleExtensions: { spiffworkflow: window.ServiceFlowModdle.forXml(xml) },
    });
    viewer.on("element.click", function (event) {
      var called = event.element.businessObject && event.element.businessObject.calledElement;
      if (event.element.type === "bpmn:CallActivity" && called && processes[called]) {
        show(processes[called]);
      }
    });
    viewers[file] = { viewer: viewer, ready: viewer.importXML(xml).then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      section.setAttribute("data-ready", "true");
    }).catch(function (error) {
      section.setAttribute("data-ready", "failed");
      section.querySelector(".diagram-error").hidden = false;
      section.querySelector(".diagram-error").textContent += " " + error.message;
    }) };
    return viewers[file].ready;
  }

  function show(file) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-tab]"), function (tab) {
      tab.setAttribute("aria-selected", tab.getAttribute("data-tab") === file ? "true" : "false");
    });
    Array.prototype.forEach.call(root.querySelectorAll(".case-steps-diagram"), function (section) {
      section.hidden = section.getAttribute("data-file") !== file;
    });
    load(file).then(function () { mark(file); });
  }

  function inFile(pairs, file) {
    return pairs.filter(function (pair) { return pair[0] === file; }).map(function (pair) { return pair[1]; });
  }

  function mark(file) {
    var entry = viewers[file];
    if (!entry) {
      return;
    }
    var canvas = entry.viewer.get("canvas");
    var registry = entry.viewer.get("elementRegistry");
    var overlays = entry.viewer.get("overlays");
    (marked[file] || []).forEach(function (pair) { canvas.removeMarker(pair[0], pair[1]); });
    overlays.remove({ type: OVERLAY });
    marked[file] = [];
    var step = steps[current];
    var done = {};
    step.done.forEach(function (row) {
      if (row[0] === file) {
        done[row[1]] = row[2];
      }
    });
    function add(id, marker) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
        marked[file].push([id, marker]);
      }
    }
    Object.keys(done).forEach(function (id) {
      add(id, "step-done");
      if (done[id] > 1 && registry.get(id)) {
        var badge = document.createElement("div");
        badge.className = "case-steps-count";
        badge.setAttribute("data-element-id", id);
        badge.textContent = texts.times.replace("{n}", String(done[id]));
        overlays.add(id, OVERLAY, { position: { bottom: 12, right: 12 }, html: badge });
      }
    });
    registry.filter(function (element) { return element.waypoints; }).forEach(function (flow) {
      if (flow.source && flow.target && done[flow.source.id] && (done[flow.target.id] ||
          step.open.some(function (t) { return t.file === file && t.element === flow.target.id; }))) {
        add(flow.id, "step-done");
      }
    });
    inFile(step.done_now, file).forEach(function (id) { add(id, "step-now"); });
    step.open.filter(function (t) { return t.file === file; }).forEach(function (t) { add(t.element, "step-open"); });
    inFile(step.waiting, file).forEach(function (id) { add(id, "step-waiting"); });
  }

  function nameOf(file, id) {
    return (names[file] && names[file][id]) || id;
  }

  function fill(list, items, render) {
    list.textContent = "";
    if (!items.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = texts.none;
      list.appendChild(none);
    }
    items.forEach(function (item) {
      var li = document.createElement("li");
      render(li, item);
      list.appendChild(li);
    });
  }

  function opener(li, file, text) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link-button";
    button.textContent = text;
    button.addEventListener("click", function () { show(file); });
    li.appendChild(button);
  }

  function render() {
    var step = steps[current];
    root.querySelector("[data-step-number]").textContent = String(step.step);
    root.querySelector("[data-step-label]").textContent = step.label + (step.element ? ": " + step.element : "");
    root.querySelector("[data-step-at]").textContent = step.at;
    root.querySelector("[data-step-status]").textContent = texts.statuses[step.status] || step.status;
    fill(root.querySelector("[data-step-open]"), step.open, function (li, task) {
      li.setAttribute("data-element-id", task.element);
      opener(li, task.file, task.title + (task.department ? " — " + task.department : ""));
    });
    fill(root.querySelector("[data-step-waiting]"), step.waiting, function (li, pair) {
      li.setAttribute("data-element-id", pair[1]);
      opener(li, pair[0], nameOf(pair[0], pair[1]));
    });
    fill(root.querySelector("[data-step-done]"), step.done, function (li, row) {
      li.setAttribute("data-element-id", row[1]);
      opener(li, row[0], nameOf(row[0], row[1]) + (row[2] > 1 ? " " + texts.times.replace("{n}", String(row[2])) : ""));
    });
    root.querySelector("[data-step-data]").textContent = JSON.stringify(step.data, null, 2);
    root.querySelector("[data-step-submitted]").textContent = JSON.stringify(step.submitted, null, 2);
    Array.prototype.forEach.call(root.querySelectorAll("[data-goto]"), function (button) {
      var here = Number(button.getAttribute("data-goto")) === current;
      button.classList.toggle("is-current", here);
      if (here) {
        button.setAttribute("aria-current", "step");
      } else {
        button.removeAttribute("aria-current");
      }
    });
    root.querySelector("[data-step-prev]").disabled = current === 0;
    root.querySelector("[data-step-next]").disabled = current === steps.length - 1;
    root.setAttribute("data-current-step", String(step.step));
    Object.keys(viewers).forEach(mark);
  }

  function go(index) {
    current = Math.max(0, Math.min(steps.length - 1, index));
    render();
  }

  root.querySelector("[data-step-prev]").addEventListener("click", function () { go(current - 1); });
  root.querySelector("[data-step-next]").addEventListener("click", function () { go(current + 1); });
  Array.prototype.forEach.call(root.querySelectorAll("[data-goto]"), function (button) {
    button.addEventListener("click", function () { go(Number(button.getAttribute("data-goto"))); });
  });
  Array.prototype.forEach.call(root.querySelectorAll("[data-tab]"), function (tab) {
    tab.addEventListener("click", function () { show(tab.getAttribute("data-tab")); });
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    var moves = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: steps.length - 1 };
    if (Object.prototype.hasOwnProperty.call(moves, event.key)) {
      event.preventDefault();
      go(moves[event.key]);
    }
  });
  render();
  show(root.getAttribute("data-main"));
}());
