/*
 * Stepping through a case's history on its diagrams (bpmn-js navigated viewer from /vendor): the
 * path taken so far is marked on the elements (CSS classes), with a count on elements done more
 * than once (loop iterations); the open tasks, the waits and the case data of the chosen step are
 * listed beside it. Buttons, the timeline and the keyboard (← → Home End) move between steps; a
 * call activity opens the diagram of the process it calls. A case moved to another version has the
 * diagrams of each version it was on: each step is shown (and marked) on those of its own version,
 * and the version switch shows the others unmarked.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-case-steps]");
  if (!root || !window.BpmnJS) {
    return;
  }
  var steps = JSON.parse(root.getAttribute("data-steps"));
  var versions = JSON.parse(root.getAttribute("data-versions"));
  var texts = JSON.parse(root.getAttribute("data-texts"));
  var OVERLAY = "case-steps-count";
  var viewers = {};
  var marked = {};
  var current = steps.length - 1;
  var shown = { version: root.getAttribute("data-version"), file: null };

  function versionOf(step) {
    var version = String(step.version);
    return versions[version] ? version : root.getAttribute("data-version");
  }

  function container(version) {
    return root.querySelector('.case-steps-version[data-version="' + CSS.escape(version) + '"]');
  }

  function panel(version, file) {
    return container(version).querySelector('.case-steps-diagram[data-file="' + CSS.escape(file) + '"]');
  }

  function key(version, file) {
    return version + "\n" + file;
  }

  function load(version, file) {
    var id = key(version, file);
    if (viewers[id]) {
      return viewers[id].ready;
    }
    var section = panel(version, file);
    var xml = section.querySelector(".diagram-source").value;
    var viewer = new window.BpmnJS({
      container: section.querySelector(".diagram-canvas"),
      moddleExtensions: { spiffworkflow: window.ServiceFlowModdle.forXml(xml) },
    });
    viewer.on("element.click", function (event) {
      var called = event.element.businessObject && event.element.businessObject.calledElement;
      var processes = versions[version].processes;
      if (event.element.type === "bpmn:CallActivity" && called && processes[called]) {
        show(version, processes[called]);
      }
    });
    viewers[id] = { version: version, file: file, viewer: viewer, ready: viewer.importXML(xml).then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      section.setAttribute("data-ready", "true");
    }).catch(function (error) {
      section.setAttribute("data-ready", "failed");
      section.querySelector(".diagram-error").hidden = false;
      section.querySelector(".diagram-error").textContent += " " + error.message;
    }) };
    return viewers[id].ready;
  }

  function show(version, file) {
    var diagrams = container(version);
    if (!file || !diagrams.querySelector('.case-steps-diagram[data-file="' + CSS.escape(file) + '"]')) {
      file = versions[version].main;
    }
    shown = { version: version, file: file };
    Array.prototype.forEach.call(root.querySelectorAll("[data-version-switch]"), function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-version-switch") === version ? "true" : "false");
    });
    Array.prototype.forEach.call(root.querySelectorAll(".case-steps-version"), function (each) {
      each.hidden = each !== diagrams;
    });
    Array.prototype.forEach.call(diagrams.querySelectorAll("[data-tab]"), function (tab) {
      tab.setAttribute("aria-selected", tab.getAttribute("data-tab") === file ? "true" : "false");
    });
    Array.prototype.forEach.call(diagrams.querySelectorAll(".case-steps-diagram"), function (section) {
      section.hidden = section.getAttribute("data-file") !== file;
    });
    load(version, file).then(function () { mark(key(version, file)); });
  }

  function inFile(pairs, file) {
    return pairs.filter(function (pair) { return pair[0] === file; }).map(function (pair) { return pair[1]; });
  }

  function mark(id) {
    var entry = viewers[id];
    if (!entry) {
      return;
    }
    var file = entry.file;
    var canvas = entry.viewer.get("canvas");
    var registry = entry.viewer.get("elementRegistry");
    var overlays = entry.viewer.get("overlays");
    (marked[id] || []).forEach(function (pair) { canvas.removeMarker(pair[0], pair[1]); });
    overlays.remove({ type: OVERLAY });
    marked[id] = [];
    var step = steps[current];
    if (entry.version !== versionOf(step)) {
      return; // the state after a step is marked on the diagrams of its own version only
    }
    var done = {};
    step.done.forEach(function (row) {
      if (row[0] === file) {
        done[row[1]] = row[2];
      }
    });
    function add(element, marker) {
      if (registry.get(element)) {
        canvas.addMarker(element, marker);
        marked[id].push([element, marker]);
      }
    }
    Object.keys(done).forEach(function (element) {
      add(element, "step-done");
      if (done[element] > 1 && registry.get(element)) {
        var badge = document.createElement("div");
        badge.className = "case-steps-count";
        badge.setAttribute("data-element-id", element);
        badge.textContent = texts.times.replace("{n}", String(done[element]));
        overlays.add(element, OVERLAY, { position: { bottom: 12, right: 12 }, html: badge });
      }
    });
    registry.filter(function (element) { return element.waypoints; }).forEach(function (flow) {
      if (flow.source && flow.target && done[flow.source.id] && (done[flow.target.id] ||
          step.open.some(function (t) { return t.file === file && t.element === flow.target.id; }))) {
        add(flow.id, "step-done");
      }
    });
    inFile(step.done_now, file).forEach(function (element) { add(element, "step-now"); });
    step.open.filter(function (t) { return t.file === file; }).forEach(function (t) { add(t.element, "step-open"); });
    inFile(step.waiting, file).forEach(function (element) { add(element, "step-waiting"); });
  }

  function nameOf(file, id) {
    var names = versions[versionOf(steps[current])].names;
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
    button.addEventListener("click", function () { show(versionOf(steps[current]), file); });
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
    if (shown.file !== null && versionOf(step) !== shown.version) {
      show(versionOf(step), shown.file);
    }
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
  Array.prototype.forEach.call(root.querySelectorAll(".case-steps-version"), function (diagrams) {
    Array.prototype.forEach.call(diagrams.querySelectorAll("[data-tab]"), function (tab) {
      tab.addEventListener("click", function () {
        show(diagrams.getAttribute("data-version"), tab.getAttribute("data-tab"));
      });
    });
  });
  Array.prototype.forEach.call(root.querySelectorAll("[data-version-switch]"), function (button) {
    button.addEventListener("click", function () { show(button.getAttribute("data-version-switch"), shown.file); });
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
  show(versionOf(steps[current]), null);
}());
