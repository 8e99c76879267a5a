/*
 * The BPMN modeler page: bpmn-js (served from /vendor) edits one BPMN file of a draft model, a
 * plain HTML properties panel (in the page's template, so its labels are translated there) edits
 * what ServiceFlow executes, and Save posts the XML as JSON {path, content} with the CSRF token.
 * The server answers with the model's validation problems, shown on the diagram and in a list.
 *
 * Every edit goes through bpmn-js's modeling commands, so it can be undone like a drawing edit.
 * ServiceFlow's extension elements are typed by the spiffworkflow moddle descriptor; the panel
 * touches only the elements it edits, so other extension elements survive load and save.
 */
(function () {
  "use strict";

  var root = document.getElementById("modeler");
  if (!root || !window.BpmnJS) {
    return;
  }
  var panel = document.getElementById("modeler-panel");
  var status = document.getElementById("modeler-status");
  var problemList = document.getElementById("modeler-problems");
  var file = root.getAttribute("data-path");
  var source = document.getElementById("modeler-source");
  var modeler = new window.BpmnJS({
    container: document.getElementById("modeler-canvas"),
    moddleExtensions: { spiffworkflow: window.ServiceFlowModdle.forXml(source.value) },
  });
  var modeling = modeler.get("modeling");
  var moddle = modeler.get("moddle");
  var selected = null;

  function is(bo, type) {
    return Boolean(bo && bo.$instanceOf && bo.$instanceOf(type));
  }

  function definitionOf(bo, type) {
    return (bo.eventDefinitions || []).filter(function (def) { return is(def, type); })[0];
  }

  /* --- extension elements ------------------------------------------------------------------ */

  function extensions(bo) {
    return bo.extensionElements ? bo.extensionElements.values || [] : [];
  }

  function extension(bo, type) {
    return extensions(bo).filter(function (value) { return value.$type === type; })[0];
  }

  /* The process an element stands for: the process itself (a diagram without pools), a pool's
     process, or the executable process of a collaboration (the canvas's root with pools). */
  function processOf(bo) {
    if (is(bo, "bpmn:Process")) {
      return bo;
    }
    if (is(bo, "bpmn:Participant")) {
      return bo.processRef || null;
    }
    if (is(bo, "bpmn:Collaboration")) {
      var processes = (bo.participants || []).map(function (p) { return p.processRef; }).filter(Boolean);
      return processes.filter(function (p) { return p.isExecutable; })[0] || processes[0] || null;
    }
    return null;
  }

  function itself(bo) {
    return bo;
  }

  function ensureExtensions(element, bo) {
    if (!bo.extensionElements) {
      modeling.updateModdleProperties(element, bo, {
        extensionElements: moddle.create("bpmn:ExtensionElements", { values: [] }),
      });
    }
    return bo.extensionElements;
  }

  function setExtensions(element, bo, values) {
    modeling.updateModdleProperties(element, ensureExtensions(element, bo), { values: values });
  }

  /* A spiffworkflow element whose text body is the value (preScript, calledDecisionId...). */
  function bodyField(type, property) {
    return {
      get: function (bo) {
        var found = extension(bo, type);
        return found ? found[property] || "" : "";
      },
      set: function (element, value) {
        var bo = element.businessObject;
        var found = extension(bo, type);
        if (found && value) {
          var change = {};
          change[property] = value;
          modeling.updateModdleProperties(element, found, change);
        } else if (found) {
          setExtensions(element, bo, extensions(bo).filter(function (v) { return v !== found; }));
        } else if (value) {
          var attrs = {};
          attrs[property] = value;
          setExtensions(element, bo, extensions(bo).concat([moddle.create(type, attrs)]));
        }
      },
    };
  }

  /* One <spiffworkflow:property name=... value=...> of the <spiffworkflow:properties> of the
     element (or of what ``target`` finds for it: the process of a pool). */
  function propertyField(name, target) {
    var of = target || itself;
    function find(bo) {
      var holder = bo && extension(bo, "spiffworkflow:properties");
      var property = holder && (holder.values || []).filter(function (p) { return p.name === name; })[0];
      return { holder: holder, property: property };
    }
    return {
      get: function (bo) {
        var found = find(of(bo));
        return found.property ? found.property.value || "" : "";
      },
      set: function (element, value) {
        var bo = of(element.businessObject);
        var found = find(bo);
        if (found.property && value) {
          modeling.updateModdleProperties(element, found.property, { value: value });
        } else if (found.property) {
          modeling.updateModdleProperties(element, found.holder, {
            values: found.holder.values.filter(function (p) { return p !== found.property; }),
          });
        } else if (value) {
          var property = moddle.create("spiffworkflow:property", { name: name, value: value });
          if (found.holder) {
            modeling.updateModdleProperties(element, found.holder, {
              values: (found.holder.values || []).concat([property]),
            });
          } else {
            var holder = moddle.create("spiffworkflow:properties", { values: [property] });
            setExtensions(element, bo, extensions(bo).concat([holder]));
          }
        }
      },
    };
  }

  /* --- standard BPMN properties ------------------------------------------------------------ */

  function attributeField(name) {
    return {
      get: function (bo) { return bo[name] || ""; },
      set: function (element, value) {
        var change = {};
        change[name] = value || undefined;
        modeling.updateProperties(element, change);
      },
    };
  }

  /* The name of the process an element stands for (processOf): the name a version carries. */
  var processName = {
    get: function (bo) {
      var process = processOf(bo);
      return process ? process.name || "" : "";
    },
    set: function (element, value) {
      modeling.updateModdleProperties(element, processOf(element.businessObject), { name: value || undefined });
    },
  };

  function expression(body) {
    return moddle.create("bpmn:FormalExpression", { body: body });
  }

  var TIMER_TYPES = ["timeDate", "timeDuration", "timeCycle"];

  function timerType(def) {
    return TIMER_TYPES.filter(function (type) { return def && def[type]; })[0] || "timeDuration";
  }

  function setTimer(element, type, value) {
    var def = definitionOf(element.businessObject, "bpmn:TimerEventDefinition");
    var change = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
    if (value) {
      change[type] = expression(value);
    }
    modeling.updateModdleProperties(element, def, change);
  }

  function messageHolder(bo) {
    return definitionOf(bo, "bpmn:MessageEventDefinition") || (is(bo, "bpmn:ReceiveTask") || is(bo, "bpmn:SendTask") ? bo : null);
  }

  function definitions() {
    return modeler.getDefinitions();
  }

  function messageNamed(element, name) {
    var defs = definitions();
    var existing = (defs.rootElements || []).filter(function (e) { return is(e, "bpmn:Message") && e.name === name; })[0];
    if (existing) {
      return existing;
    }
    var message = moddle.create("bpmn:Message", {
      id: "Message_" + name.replace(/[^A-Za-z0-9_]/g, "_"),
      name: name,
    });
    message.$parent = defs;
    modeling.updateModdleProperties(element, defs, { rootElements: (defs.rootElements || []).concat([message]) });
    return message;
  }

  /* --- loops and multi-instance ------------------------------------------------------------ */

  function loopOf(bo, type) {
    return is(bo.loopCharacteristics, type) ? bo.loopCharacteristics : null;
  }

  function multiInstance(bo) {
    return loopOf(bo, "bpmn:MultiInstanceLoopCharacteristics");
  }

  function standardLoop(bo) {
    return loopOf(bo, "bpmn:StandardLoopCharacteristics");
  }

  /* A property of the element's loop characteristics: ``read`` and ``write`` convert between the
     moddle value and the text of the panel's input ("" for none). */
  function loopField(find, property, read, write) {
    return {
      get: function (bo) {
        var loop = find(bo);
        return loop && loop.get(property) !== undefined ? read(loop.get(property)) : "";
      },
      set: function (element, value) {
        var loop = find(element.businessObject);
        if (loop) {
          var change = {};
          change[property] = value ? write(value) : undefined;
          modeling.updateModdleProperties(element, loop, change);
        }
      },
    };
  }

  function expressionBody(value) { return value ? value.body || "" : ""; }
  function text(value) { return value === null ? "" : String(value); }
  /* A boolean of BPMN's (a moddle Boolean) or a foreign attribute such as
     spiffworkflow:scriptsOnInstances (kept by moddle as the text "true"). */
  function flag(value) { return value === true || value === "true" ? "true" : ""; }
  function isTrue() { return true; }
  function trueText() { return "true"; }

  /* SpiffWorkflow names a multi-instance's collections by variable, where BPMN has a reference to
     an element: the stand-in element carries the variable's name as its id (see
     ServiceFlowModdle.keepUnresolvedReferences), and saveXML writes just that. */
  function variableReference(value) { return value ? value.id || "" : ""; }
  function newReference(name) { return moddle.create("bpmn:ItemAwareElement", { id: name }); }
  function variableItem(value) { return value ? value.name || value.id || "" : ""; }
  function newItem(type) {
    return function (name) { return moddle.create(type, { id: name, name: name }); };
  }

  var LOOP_TYPES = {
    parallel: "bpmn:MultiInstanceLoopCharacteristics",
    sequential: "bpmn:MultiInstanceLoopCharacteristics",
    standard: "bpmn:StandardLoopCharacteristics",
  };

  var loopType = {
    get: function (bo) {
      var mi = multiInstance(bo);
      if (mi) {
        return mi.isSequential ? "sequential" : "parallel";
      }
      return standardLoop(bo) ? "standard" : "";
    },
    set: function (element, value) {
      var bo = element.businessObject;
      var type = LOOP_TYPES[value];
      if (type && is(bo.loopCharacteristics, type)) {
        if (type === LOOP_TYPES.parallel) {
          modeling.updateModdleProperties(element, bo.loopCharacteristics, { isSequential: value === "sequential" });
        }
        return;
      }
      var attrs = type === LOOP_TYPES.parallel ? { isSequential: value === "sequential" } : {};
      modeling.updateProperties(element, { loopCharacteristics: type ? moddle.create(type, attrs) : undefined });
    },
  };

  var FIELDS = {
    name: attributeField("name"),
    nameZh: propertyField("name:zh"),
    processName: processName,
    processNameZh: propertyField("name:zh", processOf),
    department: attributeField("name"),
    form: propertyField("formJsonSchemaFilename"),
    uiForm: propertyField("formUiSchemaFilename"),
    departmentExpression: propertyField("departmentExpression"),
    dueDate: propertyField("dueDate"),
    instructions: bodyField("spiffworkflow:instructionsForEndUser", "text"),
    script: {
      get: function (bo) { return bo.script || ""; },
      set: function (element, value) {
        modeling.updateProperties(element, { scriptFormat: "python", script: value || undefined });
      },
    },
    preScript: bodyField("spiffworkflow:preScript", "script"),
    postScript: bodyField("spiffworkflow:postScript", "script"),
    condition: {
      get: function (bo) { return bo.conditionExpression ? bo.conditionExpression.body || "" : ""; },
      set: function (element, value) {
        modeling.updateProperties(element, { conditionExpression: value ? expression(value) : undefined });
      },
    },
    timerType: {
      get: function (bo) { return timerType(definitionOf(bo, "bpmn:TimerEventDefinition")); },
      set: function (element, type) {
        var def = definitionOf(element.businessObject, "bpmn:TimerEventDefinition");
        var current = def[timerType(def)];
        setTimer(element, type, current ? current.body : "");
      },
    },
    timerValue: {
      get: function (bo) {
        var def = definitionOf(bo, "bpmn:TimerEventDefinition");
        var current = def && def[timerType(def)];
        return current ? current.body || "" : "";
      },
      set: function (element, value) {
        setTimer(element, timerType(definitionOf(element.businessObject, "bpmn:TimerEventDefinition")), value);
      },
    },
    messageName: {
      get: function (bo) {
        var holder = messageHolder(bo);
        return holder && holder.messageRef ? holder.messageRef.name || "" : "";
      },
      set: function (element, value) {
        var holder = messageHolder(element.businessObject);
        modeling.updateModdleProperties(element, holder, { messageRef: value ? messageNamed(element, value) : undefined });
      },
    },
    allowedSenders: propertyField("allowedSenders"),
    calledElement: attributeField("calledElement"),
    calledDecision: bodyField("spiffworkflow:calledDecisionId", "decisionId"),
    loopType: loopType,
    loopCollection: loopField(multiInstance, "loopDataInputRef", variableReference, newReference),
    loopInputItem: loopField(multiInstance, "inputDataItem", variableItem, newItem("bpmn:DataInput")),
    loopOutputCollection: loopField(multiInstance, "loopDataOutputRef", variableReference, newReference),
    loopOutputItem: loopField(multiInstance, "outputDataItem", variableItem, newItem("bpmn:DataOutput")),
    loopCardinality: loopField(multiInstance, "loopCardinality", expressionBody, expression),
    completionCondition: loopField(multiInstance, "completionCondition", expressionBody, expression),
    scriptsOnInstances: loopField(multiInstance, "spiffworkflow:scriptsOnInstances", flag, trueText),
    loopCondition: loopField(standardLoop, "loopCondition", expressionBody, expression),
    loopMaximum: loopField(standardLoop, "loopMaximum", text, Number),
    testBefore: loopField(standardLoop, "testBefore", flag, isTrue),
  };

  /* The panel sections that apply to an element (data-kinds in the template). */
  function kinds(element) {
    var bo = element.businessObject;
    var found = ["any"];
    function add(kind, when) {
      if (when) {
        found.push(kind);
      }
    }
    add("lane", is(bo, "bpmn:Lane"));
    add("named", !is(bo, "bpmn:Lane") && !is(bo, "bpmn:Process") && !is(bo, "bpmn:Collaboration"));
    add("process", Boolean(processOf(bo)));
    add("userTask", is(bo, "bpmn:UserTask"));
    add("scriptTask", is(bo, "bpmn:ScriptTask"));
    add("activity", is(bo, "bpmn:Activity"));
    add("flow", is(bo, "bpmn:SequenceFlow"));
    add("timer", Boolean(definitionOf(bo, "bpmn:TimerEventDefinition")));
    add("message", Boolean(messageHolder(bo)));
    add("messageCatch", Boolean(messageHolder(bo)) && (is(bo, "bpmn:CatchEvent") || is(bo, "bpmn:ReceiveTask")));
    add("callActivity", is(bo, "bpmn:CallActivity"));
    add("businessRuleTask", is(bo, "bpmn:BusinessRuleTask"));
    add("multiInstance", Boolean(multiInstance(bo)));
    add("standardLoop", Boolean(standardLoop(bo)));
    return found;
  }

  /* With nothing selected the panel shows the process (the canvas's root element). */
  function render() {
    var element = selected || modeler.get("canvas").getRootElement();
    panel.hidden = !element || !element.businessObject;
    if (panel.hidden) {
      return;
    }
    var bo = element.businessObject;
    var applies = kinds(element);
    panel.querySelector("[data-show='id']").textContent = bo.id;
    panel.querySelector("[data-show='type']").textContent = bo.$type.replace("bpmn:", "");
    Array.prototype.forEach.call(panel.querySelectorAll("[data-kinds]"), function (section) {
      section.hidden = !section.getAttribute("data-kinds").split(" ").some(function (k) { return applies.indexOf(k) >= 0; });
    });
    Array.prototype.forEach.call(panel.querySelectorAll("[data-field]"), function (input) {
      var section = input.closest("[data-kinds]");
      if (section && section.hidden) {
        return;
      }
      var value = FIELDS[input.getAttribute("data-field")].get(bo);
      if (input.tagName === "SELECT" && value && !input.querySelector("option[value='" + CSS.escape(value) + "']")) {
        var option = document.createElement("option");
        option.value = value;
        option.textContent = value;
        input.appendChild(option);
      }
      if (input.type === "checkbox") {
        input.checked = value === "true";
      } else {
        input.value = value;
      }
    });
  }

  panel.addEventListener("change", function (event) {
    var input = event.target.closest("[data-field]");
    var element = selected || modeler.get("canvas").getRootElement();
    if (input && element) {
      var value = input.type === "checkbox" ? (input.checked ? "true" : "") : input.value;
      FIELDS[input.getAttribute("data-field")].set(element, value.trim() ? value : "");
      setStatus("unsaved");
      if (input.hasAttribute("data-shapes-panel")) {
        render();
      }
    }
  });

  modeler.on("selection.changed", function (event) {
    var element = event.newSelection.length === 1 ? event.newSelection[0] : null;
    selected = element && element.labelTarget ? element.labelTarget : element;
    render();
  });

  modeler.on("elements.changed", function (event) {
    if (selected && event.elements.indexOf(selected) >= 0 && !document.activeElement.closest("#modeler-panel")) {
      render();
    }
  });

  modeler.on("commandStack.changed", function () {
    setStatus("unsaved");
  });

  /* --- save -------------------------------------------------------------------------------- */

  function setStatus(state, detail) {
    status.setAttribute("data-state", state);
    status.textContent = (root.getAttribute("data-text-" + state) || state) + (detail ? " " + detail : "");
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name='csrf-token']");
    return meta ? meta.getAttribute("content") : "";
  }

  function save() {
    setStatus("saving");
    modeler.saveXML({ format: true }).then(function (result) {
      return fetch(root.getAttribute("data-save-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: JSON.stringify({ path: file, content: result.xml }),
      });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          setStatus("failed", data.error || data.message || String(response.status));
          return;
        }
        var problems = data.problems || [];
        window.ServiceFlowProblems.show(modeler, problems, file, problemList);
        setStatus(problems.length ? "problems" : "saved", problems.length ? "(" + problems.length + ")" : "");
      });
    }).catch(function (error) {
      setStatus("failed", error.message);
    });
  }

  document.getElementById("modeler-save").addEventListener("click", save);

  modeler.importXML(source.value).then(function (result) {
    window.ServiceFlowModdle.keepUnresolvedReferences(moddle, result.warnings);
    modeler.get("canvas").zoom("fit-viewport");
    render();
    var initial = JSON.parse(root.getAttribute("data-problems") || "[]");
    window.ServiceFlowProblems.show(modeler, initial, file, problemList);
    setStatus("loaded");
    root.setAttribute("data-ready", "true");
  }).catch(function (error) {
    setStatus("failed", error.message);
  });
}());
