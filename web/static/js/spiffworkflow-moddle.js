/*
 * The moddle extension of the `spiffworkflow` namespace, so that bpmn-js reads ServiceFlow's
 * extension elements as typed objects the properties panel can edit, and writes them back in
 * SpiffWorkflow's own form. Elements of other namespaces (camunda:, spiffarena's own) stay
 * untyped: bpmn-moddle keeps them as generic elements and writes them back unchanged.
 */
(function () {
  "use strict";

  function body(name, property) {
    return {
      name: name,
      superClass: ["Element"],
      properties: [{ name: property, isBody: true, type: "String" }],
    };
  }

  function attrs(name, names) {
    return {
      name: name,
      superClass: ["Element"],
      properties: names.map(function (attr) { return { name: attr, isAttr: true, type: "String" }; }),
    };
  }

  var descriptor = {
    name: "SpiffWorkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    associations: [],
    types: [
      body("preScript", "script"),
      body("postScript", "script"),
      body("instructionsForEndUser", "text"),
      body("calledDecisionId", "decisionId"),
      body("messageVariable", "variable"),
      body("messagePayload", "payload"),
      {
        name: "properties",
        superClass: ["Element"],
        properties: [{ name: "values", type: "property", isMany: true }],
      },
      attrs("property", ["name", "value"]),
      {
        name: "serviceTaskOperator",
        superClass: ["Element"],
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "resultVariable", isAttr: true, type: "String" },
          { name: "parameterList", type: "parameters" },
        ],
      },
      {
        name: "parameters",
        superClass: ["Element"],
        properties: [{ name: "values", type: "parameter", isMany: true }],
      },
      attrs("parameter", ["id", "type", "value"]),
    ],
  };

  var URI = descriptor.uri;

  /* A type for an element of the namespace that ServiceFlow does not use (spiff-arena's unit tests,
     guest forms...): moddle drops an element of a registered namespace whose type it does not know,
     so each such name found in the file gets a type that keeps its text and its children. Its
     attributes need no declaration: moddle keeps unknown ones. */
  function passthrough(name) {
    return {
      name: name,
      superClass: ["Element"],
      properties: [
        { name: "text", isBody: true, type: "String" },
        { name: "children", type: "Element", isMany: true },
      ],
    };
  }

  /* The descriptor for one BPMN file: the types above plus a pass-through type for every other
     element of the namespace that the file holds. */
  function forXml(xml) {
    var known = {};
    descriptor.types.forEach(function (type) { known[type.name] = true; });
    var extra = [];
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    Array.prototype.forEach.call(doc.getElementsByTagNameNS(URI, "*"), function (node) {
      if (!known[node.localName]) {
        known[node.localName] = true;
        extra.push(passthrough(node.localName));
      }
    });
    return Object.assign({}, descriptor, { types: descriptor.types.concat(extra) });
  }

  /* SpiffWorkflow names a multi-instance's collections by variable (<loopDataInputRef>items<...>),
     where BPMN expects the id of an element: bpmn-moddle drops such a reference at import, with a
     warning. Each is put back as a stand-in element with that id, which saveXML writes as it was. */
  function keepUnresolvedReferences(moddle, warnings) {
    (warnings || []).forEach(function (warning) {
      if (!warning.element || !warning.property || !/^unresolved reference/.test(warning.message || "")) {
        return;
      }
      var property = warning.element.$descriptor.propertiesByName[warning.property];
      var standIn = moddle.create(property.type, { id: warning.value });
      if (property.isMany) {
        warning.element.get(property.name).push(standIn);
      } else {
        warning.element.set(property.name, standIn);
      }
    });
  }

  window.ServiceFlowModdle = {
    descriptor: descriptor, forXml: forXml, keepUnresolvedReferences: keepUnresolvedReferences,
  };
}());
