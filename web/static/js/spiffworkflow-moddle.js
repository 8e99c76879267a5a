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

  window.ServiceFlowModdle = {
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
      {
        name: "MultiInstanceScripts",
        extends: ["bpmn:MultiInstanceLoopCharacteristics"],
        properties: [{ name: "scriptsOnInstances", isAttr: true, type: "Boolean" }],
      },
    ],
  };
}());
