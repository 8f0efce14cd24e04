// The explorer page: steps through DATA (written by tinygrad_edu/tools/explorer.py).
//
// DATA.tensors[i]  {label, node (the picture's node name or null), kind, requires_grad, value}
// DATA.ops[j]      {name, node, attrs, module, math, forward, rule, inputs: [{arg, tensor | constant}], output}
// DATA.forward     op indices in forward order
// DATA.backward    steps: {op, output, upstream, passed: [{arg, grad_name, target, grad, why}],
//                  totals: [[tensor, gradient so far]]}, the engine's order
// A value (value, upstream, grad, totals) is {shape, dtype, size, mean, std, min, max, norm, values?, exact?}.
//
// The page keeps one state, (mode, k): k steps of the mode's pass are done. Everything
// shown is drawn again from it by render(), so Previous is as easy as Next.
"use strict";
(function () {
  const D = DATA;
  const $ = (id) => document.getElementById(id);
  const graph = $("graph");
  const state = { mode: "backward", k: 0 };
  const steps = () => (state.mode === "backward" ? D.backward : D.forward);

  // ------------------------------------------------------------------ small builders

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function statsText(v) {
    if (!v.size) return `${v.shape} ${v.dtype}, empty`;
    return `${v.shape} ${v.dtype}  mean ${v.mean}  std ${v.std}  min ${v.min}  max ${v.max}  norm ${v.norm}`;
  }

  // A value as the page shows it: every element when small, else its statistics.
  // data-exact carries the elements as numbers, for anything that reads the page.
  function valueBlock(v, tensorKey) {
    const box = el("div", { class: "value", "data-tensor": tensorKey });
    if (v.exact) box.setAttribute("data-exact", JSON.stringify(v.exact));
    box.append(el("div", { class: "stats" }, statsText(v)));
    if (v.values !== undefined) box.append(el("pre", { class: "values" }, v.values));
    return box;
  }

  function tensorLabel(key) {
    return el("span", { class: "tensor-label" }, D.tensors[key].label);
  }

  function ordinal(n) {
    const tail = n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th";
    return `${n}${tail}`;
  }

  // ------------------------------------------------------------------ the picture

  const svgNode = (name) => (name ? document.getElementById(`n-${name}`) : null);
  const summaryNode = svgNode("summary");
  const badges = new Map(); // tensor key -> <text> next to its node

  function makeBadges() {
    const ns = "http://www.w3.org/2000/svg";
    D.tensors.forEach((t, key) => {
      const node = svgNode(t.node);
      if (!node) return;
      const box = node.getBBox();
      const text = document.createElementNS(ns, "text");
      text.setAttribute("x", box.x + box.width + 3);
      text.setAttribute("y", box.y + 10);
      text.setAttribute("class", "badge");
      node.append(text);
      badges.set(key, text);
    });
  }

  function clearPicture() {
    for (const node of graph.querySelectorAll("g.node, g.edge")) {
      node.classList.remove("done", "current", "has-grad", "computed", "receiving", "current-output", "reading",
                            "flow", "flow-back", "flow-forward");
    }
    for (const badge of badges.values()) badge.textContent = "";
  }

  function mark(name, ...classes) {
    const node = svgNode(name);
    if (node) node.classList.add(...classes);
    return node;
  }

  function markEdge(op, position, ...classes) {
    const edge = document.getElementById(`e_${op.node}_in${position}`);
    if (edge) edge.classList.add(...classes);
  }

  // Scroll the graph pane (only it: the page may sit in a notebook) so ``node`` is in view.
  function reveal(node) {
    if (!node) return;
    const r = node.getBoundingClientRect();
    const pane = graph.getBoundingClientRect();
    if (r.top < pane.top || r.bottom > pane.bottom) graph.scrollTop += (r.top + r.bottom - pane.top - pane.bottom) / 2;
    if (r.left < pane.left || r.right > pane.right) graph.scrollLeft += (r.left + r.right - pane.left - pane.right) / 2;
  }

  // ------------------------------------------------------------------ the backward pass

  // After k steps: each tensor's gradient so far, and the contributions that made it.
  function replay(k) {
    const totals = new Map([[D.loss, D.seed]]);
    const contributions = new Map();
    const firstSeen = [D.loss];
    for (let i = 0; i < k; i++) {
      const step = D.backward[i];
      for (const p of step.passed) {
        if (!p.grad) continue;
        if (!contributions.has(p.target)) contributions.set(p.target, []);
        contributions.get(p.target).push({ step: i + 1, op: D.ops[step.op].name, gradName: p.grad_name, grad: p.grad });
      }
      for (const [key, total] of step.totals) {
        if (!totals.has(key)) firstSeen.push(key);
        totals.set(key, total);
      }
    }
    return { totals, contributions, order: firstSeen };
  }

  function renderBackward() {
    const k = state.k;
    const { totals, contributions, order } = replay(k);
    for (const key of totals.keys()) {
      mark(D.tensors[key].node, "has-grad");
      const badge = badges.get(key);
      const count = (contributions.get(key) || []).length;
      if (badge && count) {
        badge.textContent = count === 1 ? "+g" : count === 2 ? "+g +g" : `+g \u00d7${count}`;
        badge.classList.toggle("twice", count > 1);
      }
    }
    const panel = $("step");
    panel.className = "backward";
    panel.replaceChildren();
    let current = null;
    if (k === 0) {
      panel.append(
        el("h2", {}, "Before the backward pass"),
        el("p", {}, "The sweep starts at ", tensorLabel(D.loss), " with its own gradient, the seed g (d loss / d loss):"),
        valueBlock(D.seed, D.loss),
        el("p", { class: "note" }, "Next \u2192 applies the rule of the op that made it. Each step takes the complete " +
           "gradient g of one op's output and passes a share back to each input."));
      current = svgNode(D.tensors[D.loss].node);
      mark(D.tensors[D.loss].node, "current-output");
    } else {
      const step = D.backward[k - 1];
      const op = D.ops[step.op];
      for (let i = 0; i < k - 1; i++) mark(D.ops[D.backward[i].op].node, "done");
      current = mark(op.node, "current") || (summaryNode && summaryNode.classList.add("current"), summaryNode);
      mark(D.tensors[step.output].node, "current-output");
      panel.append(el("h2", {}, `Backward step ${k} of ${D.backward.length}`), opHeading(op));
      panel.append(el("div", { class: "rule", title: op.math }, op.rule));
      panel.append(el("p", {}, "Upstream g, the whole gradient of ", tensorLabel(step.output), ":"),
                   valueBlock(step.upstream, step.output));
      panel.append(el("h2", {}, "Passes back"));
      const table = el("table", { id: "passed" });
      step.passed.forEach((p, position) => {
        const cell = el("td", {});
        if (p.grad) {
          mark(D.tensors[p.target].node, "receiving");
          markEdge(op, position, "flow", "flow-back");
          cell.append(el("div", {}, el("span", { class: "arg" }, p.grad_name), " \u2192 ", tensorLabel(p.target)),
                      valueBlock(p.grad, p.target));
          const count = contributions.get(p.target).length;
          if (count > 1) {
            cell.append(el("div", { class: "contribution" },
              `its ${ordinal(count)} contribution; added up, the gradient so far:`),
              valueBlock(totals.get(p.target), p.target));
          }
        } else {
          const to = p.target === null ? "" : ` \u2192 ${D.tensors[p.target].label}`;
          cell.append(el("div", {}, el("span", { class: "arg" }, p.grad_name), `${to}: nothing (${p.why})`));
        }
        table.append(el("tr", { class: "passed", "data-position": position }, cell));
      });
      panel.append(table);
    }
    renderSoFar(totals, contributions, order, k ? D.backward[k - 1] : null);
    return current;
  }

  function renderSoFar(totals, contributions, order, step) {
    const fresh = new Set(step ? step.totals.map(([key]) => key) : [D.loss]);
    const rows = order.map((key) => {
      const count = (contributions.get(key) || []).length;
      const from = count ? `${count} contribution${count > 1 ? "s" : ""}` : "the seed";
      return el("tr", { class: fresh.has(key) ? "fresh" : null, "data-tensor": key },
                el("td", {}, tensorLabel(key), el("div", { class: "count" }, from)),
                el("td", {}, valueBlock(totals.get(key), key)));
    });
    $("so-far").replaceChildren(el("h2", {}, "Gradients received so far"), el("table", { id: "totals" }, ...rows));
  }

  function opHeading(op) {
    return el("div", {},
      el("span", { class: "op-name" }, op.name), op.attrs ? el("span", { class: "mono" }, `  ${op.attrs}`) : null,
      op.module ? el("div", { class: "module" }, `in ${op.module}`) : null,
      op.node ? null : el("div", { class: "note" }, "Not drawn (the graph is summarised): raise max_nodes to see it."));
  }

  // ------------------------------------------------------------------ the forward pass

  const produced = new Set(D.ops.map((op) => op.output));
  const leaves = D.tensors.map((t, key) => key).filter((key) => !produced.has(key));

  function renderForward() {
    const k = state.k;
    const computed = new Set(leaves);
    for (let i = 0; i < k; i++) computed.add(D.ops[D.forward[i]].output);
    for (const key of computed) mark(D.tensors[key].node, "computed");
    const panel = $("step");
    panel.className = "forward";
    panel.replaceChildren();
    $("so-far").replaceChildren();
    if (k === 0) {
      panel.append(el("h2", {}, "Before the forward pass"),
        el("p", {}, "Only the leaves have values: the inputs, the parameters and the data (green). " +
                    "Next \u2192 runs the first op."));
      return null;
    }
    const op = D.ops[D.forward[k - 1]];
    for (let i = 0; i < k - 1; i++) mark(D.ops[D.forward[i]].node, "done");
    const current = mark(op.node, "current") || (summaryNode && summaryNode.classList.add("current"), summaryNode);
    mark(D.tensors[op.output].node, "current-output");
    panel.append(el("h2", {}, `Forward step ${k} of ${D.forward.length}`), opHeading(op),
                 el("div", { class: "rule", title: op.math }, op.forward), el("h2", {}, "Inputs"));
    const table = el("table", { id: "inputs" });
    op.inputs.forEach((input, position) => {
      const cell = el("td", {});
      if (input.tensor === null) {
        cell.append(el("div", {}, el("span", { class: "arg" }, input.arg), ` = constant ${input.constant}`));
      } else {
        mark(D.tensors[input.tensor].node, "reading");
        markEdge(op, position, "flow", "flow-forward");
        cell.append(el("div", {}, el("span", { class: "arg" }, input.arg), " \u2190 ", tensorLabel(input.tensor)),
                    valueBlock(D.tensors[input.tensor].value, input.tensor));
      }
      table.append(el("tr", {}, cell));
    });
    panel.append(table, el("h2", {}, "Output"), el("div", {}, el("span", { class: "arg" }, "out"), " = ",
                 tensorLabel(op.output)), valueBlock(D.tensors[op.output].value, op.output));
    return current;
  }

  // ------------------------------------------------------------------ the step list and controls

  function stepList() {
    const list = $("steps");
    const names = state.mode === "backward"
      ? ["seed the loss's gradient", ...D.backward.map((s) => D.ops[s.op].name)]
      : ["the leaves", ...D.forward.map((j) => D.ops[j].name)];
    list.replaceChildren(...names.map((name, i) => {
      const item = el("li", { "data-step": i }, name);
      item.addEventListener("click", () => go(i));
      return item;
    }));
    $("steps-heading").textContent = state.mode === "backward" ? "Backward steps" : "Forward steps";
  }

  // What the colours mean, for the pass on show: [fill, border, words].
  const KEYS = {
    backward: [["var(--current-fill)", "var(--current-border)", "op of this step"],
               ["var(--done-fill)", "#6d28d9", "op already applied"],
               ["var(--received-fill)", "#374151", "has received gradient"],
               ["#fff", "var(--receiving-border)", "receives a share now"],
               ["#fff", "var(--current-border)", "output whose whole g is used now"]],
    forward: [["var(--current-fill)", "var(--current-border)", "op of this step"],
              ["var(--done-fill)", "#6d28d9", "op already run"],
              ["var(--computed-fill)", "#374151", "has its value"],
              ["#fff", "#15803d", "read by this op"]],
  };

  function key() {
    const items = KEYS[state.mode].map(([fill, border, words]) => {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = fill;
      swatch.style.borderColor = border;
      return el("span", {}, swatch, words);
    });
    if (state.mode === "backward") items.push(el("span", {}, el("b", {}, "+g +g"), " two contributions received"));
    $("key").replaceChildren(...items);
  }

  function render() {
    clearPicture();
    key();
    const current = state.mode === "backward" ? renderBackward() : renderForward();
    const n = steps().length;
    $("counter").textContent = `step ${state.k} of ${n}`;
    $("prev").disabled = state.k === 0;
    $("next").disabled = state.k === n;
    $("mode-backward").setAttribute("aria-pressed", String(state.mode === "backward"));
    $("mode-forward").setAttribute("aria-pressed", String(state.mode === "forward"));
    for (const item of $("steps").children) {
      item.classList.toggle("current", Number(item.dataset.step) === state.k);
    }
    reveal(current);
  }

  function go(k) {
    state.k = Math.max(0, Math.min(steps().length, k));
    render();
  }

  function setMode(mode) {
    if (state.mode === mode) return;
    state.mode = mode;
    state.k = 0;
    stepList();
    render();
  }

  // ------------------------------------------------------------------ hovering

  const tooltip = $("tooltip");
  const byNode = new Map();
  D.tensors.forEach((t, key) => { if (t.node) byNode.set(t.node, { tensor: key }); });
  D.ops.forEach((op, j) => { if (op.node) byNode.set(op.node, { op: j }); });

  function tooltipFor(what) {
    if (what.op !== undefined) {
      const op = D.ops[what.op];
      return [el("div", { class: "op-name" }, op.name), op.module ? el("div", {}, `in ${op.module}`) : null,
              el("pre", {}, op.math)];
    }
    const key = what.tensor;
    const t = D.tensors[key];
    const parts = [el("div", { class: "tensor-label" }, t.label),
                   el("div", { class: "note" }, `${t.kind || ""}${t.requires_grad ? ", requires grad" : ", no grad"}`),
                   valueBlock(t.value, key)];
    if (state.mode === "backward") {
      const { totals, contributions } = replay(state.k);
      if (totals.has(key)) {
        for (const c of contributions.get(key) || []) {
          parts.push(el("div", { class: "contribution" }, `step ${c.step} (${c.op}) passed ${c.gradName}: ${c.grad.values || statsText(c.grad)}`));
        }
        parts.push(el("div", {}, "gradient so far:"), valueBlock(totals.get(key), key));
      } else if (t.requires_grad) {
        parts.push(el("div", { class: "note" }, "no gradient received yet"));
      }
    }
    return parts;
  }

  graph.addEventListener("mouseover", (event) => {
    const node = event.target.closest("g.node");
    const what = node && byNode.get(node.id.slice(2));
    if (!what) { tooltip.hidden = true; return; }
    tooltip.replaceChildren(...tooltipFor(what).filter(Boolean));
    tooltip.hidden = false;
  });
  graph.addEventListener("mousemove", (event) => {
    if (tooltip.hidden) return;
    const x = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 4);
    const y = Math.min(event.clientY + 14, window.innerHeight - tooltip.offsetHeight - 4);
    tooltip.style.left = `${Math.max(4, x)}px`;
    tooltip.style.top = `${Math.max(4, y)}px`;
  });
  graph.addEventListener("mouseleave", () => { tooltip.hidden = true; });

  // ------------------------------------------------------------------ wiring

  $("next").addEventListener("click", () => go(state.k + 1));
  $("prev").addEventListener("click", () => go(state.k - 1));
  $("mode-backward").addEventListener("click", () => setMode("backward"));
  $("mode-forward").addEventListener("click", () => setMode("forward"));
  $("fit").addEventListener("click", () => {
    const on = graph.classList.toggle("fit");
    $("fit").setAttribute("aria-pressed", String(on));
  });
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1 };
    if (event.key in moves) {
      event.preventDefault();
      go(state.k + moves[event.key]);
    } else if (event.key === "Home") {
      go(0);
    } else if (event.key === "End") {
      go(steps().length);
    }
  });

  // #backward-3 or #forward-2 opens the page at that step.
  const start = /^#(backward|forward)-(\d+)$/.exec(window.location.hash);
  if (start) {
    state.mode = start[1];
    state.k = Math.min(Number(start[2]), steps().length);
  }
  makeBadges();
  stepList();
  render();
})();
