/// The MazeNET pages' script, served after the dashboard's own in /static/app.js: the create form, and the
/// canvas drawn in SVG from `GET /api/v1/topology/{id}` (read again every two seconds for live states, paths and
/// the latest mutation). Every text from the API goes in with `textContent` or as an attribute value, never as
/// markup.
extension DashboardAssets {
    static let topologyJavascript = #"""
        "use strict";
        (function () {
          const page = document.body.dataset.page;
          if (page !== "topology" && page !== "topologies") return;
          const call = window.decnetCall;

          if (page === "topologies") {
            const form = document.getElementById("topology-form");
            if (form) form.addEventListener("submit", async function (event) {
              event.preventDefault();
              const error = document.getElementById("topology-error");
              error.textContent = "";
              try {
                const created = await call("POST", "/api/v1/topology", {
                  name: document.getElementById("topology-name").value,
                  config: document.getElementById("topology-config").value });
                location.href = "/topology/" + encodeURIComponent(created.id);
              } catch (e) { error.textContent = e.message; }
            });
            return;
          }

          const ns = "http://www.w3.org/2000/svg";
          const svg = document.getElementById("canvas");
          const id = svg.dataset.topology;
          const editable = svg.dataset.editable === "true";
          const error = document.getElementById("topology-error");
          let topology = null;
          const positions = {};   // node -> {x, y}: the kept ones, then the defaults
          let dragging = null;

          function element(name, attributes, parent) {
            const node = document.createElementNS(ns, name);
            for (const key in attributes) node.setAttribute(key, String(attributes[key]));
            if (parent) parent.appendChild(node);
            return node;
          }

          // Defaults: segments side by side, their deckies in a column inside, routers between their segments,
          // the attacker above its segment.
          function layout() {
            const columns = {};
            topology.segments.forEach(function (segment, index) {
              const key = "segment:" + segment.name;
              if (!positions[key]) positions[key] = { x: 30 + index * 290, y: 110 };
              columns[segment.name] = 0;
            });
            topology.deckies.forEach(function (node) {
              if (positions[node.name]) return;
              if (node.router) {
                const xs = node.legs.map(function (leg) { return positions["segment:" + leg.segment].x + 125; });
                positions[node.name] = { x: xs.reduce(function (a, b) { return a + b; }, 0) / xs.length + 70, y: 60 };
              } else {
                const box = positions["segment:" + node.segment];
                columns[node.segment] += 1;
                positions[node.name] = { x: box.x + 40, y: box.y + 30 + columns[node.segment] * 56 };
              }
            });
            if (!positions.attacker) {
              const box = positions["segment:" + topology.attacker.segment];
              positions.attacker = { x: box.x + 20, y: 40 };
            }
          }

          function center(node) {
            const p = positions[node];
            if (node.startsWith("segment:")) return { x: p.x + 125, y: p.y + 20 };
            return { x: p.x, y: p.y };
          }

          function draw() {
            while (svg.firstChild) svg.removeChild(svg.firstChild);
            const links = element("g", { class: "links" }, svg);
            const paths = element("g", { class: "paths" }, svg);
            const nodes = element("g", { class: "nodes" }, svg);
            const counts = {};
            topology.deckies.forEach(function (node) { if (!node.router) counts[node.segment] = (counts[node.segment] || 0) + 1; });
            topology.segments.forEach(function (segment) {
              const key = "segment:" + segment.name;
              const p = positions[key];
              const group = element("g", { class: "node segment", "data-node": key, transform: "translate(" + p.x + "," + p.y + ")" }, nodes);
              element("rect", { width: 250, height: 60 + (counts[segment.name] || 0) * 56, rx: 10 }, group);
              const label = element("text", { x: 10, y: 22 }, group);
              label.textContent = segment.name + "  " + segment.subnet;
            });
            function link(from, to) {
              const a = center(from), b = center(to);
              element("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "link" }, links);
            }
            topology.deckies.forEach(function (node) {
              node.legs.forEach(function (leg) { link(node.name, "segment:" + leg.segment); });
              const p = positions[node.name];
              const state = node.state || "planned";
              const group = element("g", {
                class: "node decky " + (node.router ? "router " : "") + "state-" + state,
                "data-node": node.name, "data-state": state, transform: "translate(" + p.x + "," + p.y + ")" }, nodes);
              if (node.router) element("polygon", { points: "0,-16 16,0 0,16 -16,0" }, group);
              else element("circle", { r: 14 }, group);
              const label = element("text", { x: 20, y: 5 }, group);
              label.textContent = node.name + " " + node.ip;
              const title = element("title", {}, group);
              title.textContent = node.name + " (" + state + "): " + node.services.join(", ");
            });
            link("attacker", "segment:" + topology.attacker.segment);
            const ap = positions.attacker;
            const attacker = element("g", { class: "node attacker", "data-node": "attacker", transform: "translate(" + ap.x + "," + ap.y + ")" }, nodes);
            element("rect", { x: -12, y: -12, width: 24, height: 24 }, attacker);
            const attackerLabel = element("text", { x: 18, y: 5 }, attacker);
            attackerLabel.textContent = "attacker " + topology.attacker.ip;
            topology.paths.forEach(function (path, index) {
              const points = path.route.map(function (node) {
                const c = center(node);
                return (c.x + index * 3) + "," + (c.y + index * 3);
              }).join(" ");
              const line = element("polyline", { points: points, class: "attack-path",
                "data-attacker": path.attacker_ip, "data-route": path.route.join(" ") }, paths);
              const title = element("title", {}, line);
              title.textContent = path.attacker_ip + ": " + path.segments.join(" → ");
            });
            svg.dataset.nodes = String(nodes.childNodes.length);
          }

          function table() {
            const body = document.querySelector("#topology-paths tbody");
            while (body.firstChild) body.removeChild(body.firstChild);
            topology.paths.forEach(function (path) {
              const row = document.createElement("tr");
              row.dataset.attacker = path.attacker_ip;
              [path.attacker_ip, path.segments.join(" → "),
               path.crossings.map(function (c) { return c.join(", "); }).join(" | "),
               path.deckies.join(", "), String(path.last_seen).slice(0, 19).replace("T", " ")].forEach(function (text) {
                const td = document.createElement("td");
                td.textContent = text;
                row.appendChild(td);
              });
              body.appendChild(row);
            });
            const mutation = topology.mutations[topology.mutations.length - 1];
            const status = document.getElementById("topology-mutation");
            status.textContent = mutation ? mutation.operation + " " + mutation.state + (mutation.message ? ": " + mutation.message : "") : "";
            status.dataset.state = mutation ? mutation.operation + ":" + mutation.state : "";
          }

          async function load() {
            try { topology = await call("GET", "/api/v1/topology/" + encodeURIComponent(id)); }
            catch (e) { error.textContent = e.message; return; }
            for (const key in topology.positions) {
              if (!(dragging && dragging.node === key)) positions[key] = topology.positions[key];
            }
            layout();
            if (!dragging) draw();
            table();
          }

          function point(event) {
            const box = svg.getBoundingClientRect();
            return { x: (event.clientX - box.left) * 1200 / box.width, y: (event.clientY - box.top) * 560 / box.height };
          }
          if (editable) {
            svg.addEventListener("pointerdown", function (event) {
              const group = event.target.closest("g.node");
              if (!group) return;
              const node = group.dataset.node;
              const at = point(event);
              dragging = { node: node, group: group, dx: at.x - positions[node].x, dy: at.y - positions[node].y };
              svg.setPointerCapture(event.pointerId);
              event.preventDefault();
            });
            svg.addEventListener("pointermove", function (event) {
              if (!dragging) return;
              const at = point(event);
              positions[dragging.node] = { x: Math.round(at.x - dragging.dx), y: Math.round(at.y - dragging.dy) };
              draw();
            });
            svg.addEventListener("pointerup", async function () {
              if (!dragging) return;
              const node = dragging.node;
              dragging = null;
              const kept = {};
              kept[node] = positions[node];
              try { await call("PUT", "/api/v1/topology/" + encodeURIComponent(id) + "/positions", { positions: kept }); svg.dataset.saved = node; }
              catch (e) { error.textContent = e.message; }
            });
          }
          ["deploy", "teardown"].forEach(function (operation) {
            const button = document.getElementById("topology-" + operation);
            if (button) button.addEventListener("click", async function () {
              error.textContent = "";
              try { await call("POST", "/api/v1/topology/" + encodeURIComponent(id) + "/" + operation); await load(); }
              catch (e) { error.textContent = e.message; }
            });
          });
          load();
          setInterval(load, 2000);
        })();
        """#
}
