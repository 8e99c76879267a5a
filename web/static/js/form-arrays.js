/* Add/remove rows of array fields rendered by templates/forms/_macros.html.
 *
 * Each array is a <fieldset data-array data-array-name="actions" data-array-id="f-actions">
 * holding [data-array-rows], a <template data-array-template> row numbered "__i__", and an
 * [data-array-add] button. After every change the rows are renumbered 0..n-1 so the posted
 * names ("actions[0][owner]"), ids and data-field paths stay in step with what the server
 * re-indexes. No framework: the form also works (with the rows it was given) without it.
 */
(function () {
  "use strict";

  function escapeRe(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /* Rewrite the index this array owns in every attribute of one row (and nested templates). */
  function renumberTree(root, array, index) {
    var name = array.getAttribute("data-array-name");
    var id = array.getAttribute("data-array-id");
    var path = array.getAttribute("data-field");
    var nameRe = new RegExp("^" + escapeRe(name) + "\\[(\\d+|__i__)\\]");
    var idRe = new RegExp("^" + escapeRe(id) + "-(\\d+|__i__)(?=-|$)");
    var pathRe = new RegExp("^" + escapeRe(path) + "\\.(\\d+|__i__)(?=\\.|$)");
    var rules = [
      ["name", nameRe, name + "[" + index + "]"],
      ["data-array-name", nameRe, name + "[" + index + "]"],
      ["id", idRe, id + "-" + index],
      ["for", idRe, id + "-" + index],
      ["data-array-id", idRe, id + "-" + index],
      ["aria-describedby", idRe, id + "-" + index],
      ["aria-labelledby", idRe, id + "-" + index],
      ["data-field", pathRe, path + "." + index]
    ];
    var nodes = [root].concat(Array.prototype.slice.call(root.querySelectorAll("*")));
    nodes.forEach(function (node) {
      if (!node.getAttribute) { return; }
      rules.forEach(function (rule) {
        var value = node.getAttribute(rule[0]);
        if (value === null) { return; }
        var parts = value.split(" ").map(function (part) { return part.replace(rule[1], rule[2]); });
        node.setAttribute(rule[0], parts.join(" "));
      });
      if (node.tagName === "TEMPLATE") { renumberTree(node.content, array, index); }
    });
  }

  function rowsOf(array) {
    var container = array.querySelector("[data-array-rows]");
    return Array.prototype.filter.call(container.children, function (el) {
      return el.hasAttribute("data-array-row");
    });
  }

  function refresh(array) {
    var rows = rowsOf(array);
    var min = parseInt(array.getAttribute("data-min-items") || "0", 10);
    var max = parseInt(array.getAttribute("data-max-items") || "0", 10);
    rows.forEach(function (row, index) {
      renumberTree(row, array, index);
      var remove = row.querySelector(":scope > [data-array-remove]");
      if (remove) { remove.disabled = rows.length <= min; }
    });
    var add = array.querySelector(":scope > [data-array-add]");
    if (add) { add.disabled = max > 0 && rows.length >= max; }
  }

  function addRow(array) {
    var template = array.querySelector(":scope > template[data-array-template]");
    var fragment = template.content.cloneNode(true);
    var row = fragment.querySelector("[data-array-row]");
    array.querySelector("[data-array-rows]").appendChild(fragment);
    refresh(array);
    var first = row.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-array-add], [data-array-remove]");
    if (!button) { return; }
    var array = button.closest("[data-array]");
    if (!array) { return; }
    event.preventDefault();
    if (button.hasAttribute("data-array-add")) {
      addRow(array);
    } else {
      button.closest("[data-array-row]").remove();
      refresh(array);
      var add = array.querySelector(":scope > [data-array-add]");
      if (add) { add.focus(); }
    }
  });

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-array]"), refresh);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
