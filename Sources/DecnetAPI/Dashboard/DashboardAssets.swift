/// The dashboard's stylesheet and script, served from memory (one binary, nothing to install beside it). No
/// build step, no framework: the pages are rendered by the server, the script only adds what has to move.
enum DashboardAssets {
    static let css = #"""
        :root { --bg: #0d1117; --panel: #161b22; --line: #30363d; --text: #e6edf3; --muted: #8b949e;
          --accent: #2f81f7; --red: #e5534b; --green: #3fb950; --amber: #d29922; }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, sans-serif; }
        header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; border-bottom: 1px solid var(--line);
          background: var(--panel); }
        header nav { display: flex; gap: 16px; flex: 1; }
        a { color: var(--accent); }
        header a { color: var(--text); text-decoration: none; }
        header a[aria-current] { color: var(--accent); font-weight: 600; }
        .brand { font-weight: 700; letter-spacing: .08em; color: var(--red) !important; }
        .who { color: var(--muted); }
        .role { border: 1px solid var(--line); border-radius: 10px; padding: 0 6px; font-size: 12px; }
        main { padding: 20px 24px; max-width: 1400px; }
        h1 { font-size: 22px; margin: 0 0 16px; } h2 { font-size: 16px; margin: 0 0 10px; }
        .muted { color: var(--muted); font-weight: normal; }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin: 0 0 16px; }
        .narrow { max-width: 380px; margin: 60px auto; display: flex; flex-direction: column; gap: 12px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 16px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px; }
        .card .value { font-size: 26px; font-weight: 600; } .card .label { color: var(--muted); }
        table { width: 100%; border-collapse: collapse; }
        th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { color: var(--muted); font-weight: 600; }
        tr.empty td { color: var(--muted); text-align: center; }
        tr.fresh { animation: fresh 2s ease-out; }
        @keyframes fresh { from { background: rgba(47, 129, 247, .35); } to { background: transparent; } }
        code { font: 12px ui-monospace, monospace; word-break: break-all; }
        label { display: flex; flex-direction: column; gap: 4px; color: var(--muted); }
        label.inline { flex-direction: row; align-items: center; }
        input { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 6px; padding: 7px 9px; }
        button, .button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: 7px 14px;
          cursor: pointer; text-decoration: none; font: inherit; }
        button.small { padding: 2px 8px; font-size: 12px; background: var(--line); }
        button.link { background: none; color: var(--muted); padding: 0; text-decoration: underline; }
        .filters { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 12px; align-items: center; }
        .error { color: var(--red); min-height: 1em; } .notice { color: var(--amber); }
        .state.running, .service.up { color: var(--green); } .state.stopped, .state.planned { color: var(--muted); }
        .state.failed { color: var(--red); } .state.starting { color: var(--amber); }
        .state.swarm-up { color: var(--green); } .state.swarm-down { color: var(--red); } .state.swarm-never-seen, .state.swarm-unknown { color: var(--amber); }
        .service { display: inline-block; border: 1px solid var(--line); border-radius: 10px; padding: 0 6px; margin: 1px;
          font-size: 12px; }
        .service.down { color: var(--muted); }
        .chart { width: 100%; height: 160px; } .chart rect { fill: var(--accent); } .chart text { fill: var(--muted); font-size: 10px; }
        .traversal { max-width: 100%; height: auto; } .traversal text { fill: var(--text); font-size: 13px; }
        .traversal .hop-number { fill: var(--red); font-size: 11px; }
        .terminal { background: #000; border-radius: 6px; padding: 10px; font: 12px ui-monospace, monospace; }
        .terminal .prompt { color: var(--green); }
        details.transcript { margin-bottom: 8px; } summary { cursor: pointer; color: var(--muted); }
        .paging a { color: var(--accent); margin-right: 12px; }
        select { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 6px; padding: 7px 9px; }
        .alert { background: rgba(229, 83, 75, .12); border: 2px solid var(--red); border-radius: 8px; padding: 16px;
          margin: 0 0 16px; }
        .alert h2 { color: var(--red); font-size: 18px; } .alert .count { font-weight: normal; }
        .state.active, .ok { color: var(--green); } .state.revoked { color: var(--muted); }
        #canvas { width: 100%; height: auto; background: var(--bg); border: 1px solid var(--line); border-radius: 8px;
          touch-action: none; user-select: none; }
        #canvas .segment rect { fill: rgba(120, 140, 170, .10); stroke: var(--line); }
        #canvas text { fill: var(--text); font-size: 12px; }
        #canvas .link { stroke: var(--muted); stroke-width: 1; }
        #canvas .node { cursor: grab; }
        #canvas .decky circle, #canvas .decky polygon { fill: var(--muted); stroke: var(--bg); stroke-width: 2; }
        #canvas .state-running circle, #canvas .state-running polygon { fill: var(--green); }
        #canvas .state-failed circle, #canvas .state-failed polygon, #canvas .state-absent circle { fill: var(--red); }
        #canvas .state-stopped circle, #canvas .state-stopped polygon { fill: var(--amber); }
        #canvas .attacker rect { fill: var(--red); }
        #canvas .attack-path { fill: none; stroke: var(--red); stroke-width: 3; stroke-opacity: .8; }
        textarea { width: 100%; background: var(--bg); color: var(--text); border: 1px solid var(--line);
          border-radius: 6px; font-family: monospace; }
        """#

    static let javascript = #"""
        "use strict";
        (function () {
          const page = document.body.dataset.page;
          const headers = { "Content-Type": "application/json", "X-Requested-With": "decnet" };

          async function call(method, path, body) {
            const response = await fetch(path, { method, headers, credentials: "same-origin",
              body: body === undefined ? undefined : JSON.stringify(body) });
            let data = null;
            try { data = await response.json(); } catch (e) { data = null; }
            if (!response.ok) { throw new Error((data && data.detail) || response.statusText); }
            return data;
          }
          // For the pages' own scripts served after this one (the topology canvas).
          window.decnetCall = call;

          function cell(row, text, className) {
            const td = document.createElement("td");
            td.textContent = text;
            if (className) td.className = className;
            row.appendChild(td);
            return td;
          }

          const logout = document.getElementById("logout");
          if (logout) logout.addEventListener("click", async function () {
            try { await call("POST", "/api/v1/auth/logout"); } catch (e) { /* the cookie may be gone already */ }
            location.href = "/login";
          });

          if (page === "login") {
            document.getElementById("login-form").addEventListener("submit", async function (event) {
              event.preventDefault();
              const error = document.getElementById("login-error");
              error.textContent = "";
              try {
                const answer = await call("POST", "/api/v1/auth/login", {
                  username: document.getElementById("username").value,
                  password: document.getElementById("password").value });
                location.href = answer.must_change_password ? "/password" : "/overview";
              } catch (e) { error.textContent = e.message; }
            });
          }

          if (page === "password") {
            document.getElementById("password-form").addEventListener("submit", async function (event) {
              event.preventDefault();
              const error = document.getElementById("password-error");
              error.textContent = "";
              try {
                await call("POST", "/api/v1/auth/change-password", {
                  old_password: document.getElementById("old-password").value,
                  new_password: document.getElementById("new-password").value });
                location.href = "/login";
              } catch (e) { error.textContent = e.message; }
            });
          }

          if (page === "deckies") {
            document.querySelectorAll("button[data-action]").forEach(function (button) {
              button.addEventListener("click", async function () {
                const error = document.getElementById("action-error");
                error.textContent = "";
                button.disabled = true;
                try {
                  await call("POST", "/api/v1/deckies/" + encodeURIComponent(button.dataset.decky) + "/" + button.dataset.action);
                  location.reload();
                } catch (e) { error.textContent = e.message; button.disabled = false; }
              });
            });
          }

          if (page === "canary") {
            const error = document.getElementById("canary-error");
            document.querySelectorAll("button[data-canary-revoke]").forEach(function (button) {
              button.addEventListener("click", async function () {
                const id = button.dataset.canaryRevoke;
                if (!confirm("Revoke canary token " + id + "? Its file leaves the decky and it stays silent from now on.")) return;
                error.textContent = "";
                button.disabled = true;
                try {
                  await call("DELETE", "/api/v1/canary/" + encodeURIComponent(id));
                  location.reload();
                } catch (e) { error.textContent = e.message; button.disabled = false; }
              });
            });
            const plant = document.getElementById("canary-plant");
            if (plant) plant.addEventListener("submit", async function (event) {
              event.preventDefault();
              error.textContent = "";
              const body = { type: document.getElementById("canary-type").value,
                label: document.getElementById("canary-label").value };
              const decky = document.getElementById("canary-decky").value;
              const path = document.getElementById("canary-path").value;
              if (decky) body.decky = decky;
              if (path) body.path = path;
              try {
                await call("POST", "/api/v1/canary", body);
                location.reload();
              } catch (e) { error.textContent = e.message; }
            });
          }

          if (page === "webhooks") {
            document.querySelectorAll("button[data-webhook-test]").forEach(function (button) {
              button.addEventListener("click", async function () {
                const uuid = button.dataset.webhookTest;
                const result = document.getElementById("test-result-" + uuid);
                result.className = "test-result";
                result.textContent = "sending…";
                button.disabled = true;
                try {
                  const answer = await call("POST", "/api/v1/webhooks/" + encodeURIComponent(uuid) + "/test");
                  const outcome = answer.delivered ? "delivered (HTTP " + answer.status + ")"
                    : "not delivered: " + (answer.status !== null ? "HTTP " + answer.status : (answer.error || "no answer"));
                  result.textContent = outcome;
                  result.className = "test-result " + (answer.delivered ? "ok" : "error");
                  const table = document.getElementById("deliveries-" + uuid);
                  const body = table ? table.tBodies[0] : null;
                  if (body) {
                    const empty = body.querySelector("tr.empty");
                    if (empty) empty.remove();
                    const row = document.createElement("tr");
                    row.className = "fresh";
                    cell(row, new Date().toISOString().slice(0, 19).replace("T", " "));
                    const code = document.createElement("code");
                    code.textContent = answer.id;
                    cell(row, "").appendChild(code);
                    cell(row, "system.webhook.test");
                    cell(row, "1");
                    cell(row, outcome, answer.delivered ? "ok" : "error");
                    body.insertBefore(row, body.firstChild);
                  }
                } catch (e) { result.textContent = e.message; result.className = "test-result error"; }
                button.disabled = false;
              });
            });
          }

          if (page === "overview") {
            const svg = document.getElementById("events-chart");
            const ns = "http://www.w3.org/2000/svg";
            async function drawChart() {
              const since = Math.floor(Date.now() / 1000 / 60) * 60 - 59 * 60;
              let data;
              try { data = await call("GET", "/api/v1/logs/histogram?interval=60&since=" + since); } catch (e) { return; }
              const counts = new Map(data.buckets.map(function (b) { return [Math.round(Date.parse(b.time) / 1000), b.count]; }));
              const values = [];
              for (let i = 0; i < 60; i++) values.push(counts.get(since + i * 60) || 0);
              const top = Math.max(1, ...values);
              while (svg.firstChild) svg.removeChild(svg.firstChild);
              values.forEach(function (value, i) {
                const height = Math.round(value / top * 135);
                const rect = document.createElementNS(ns, "rect");
                rect.setAttribute("x", String(i * 12 + 1));
                rect.setAttribute("y", String(145 - height));
                rect.setAttribute("width", "10");
                rect.setAttribute("height", String(height));
                const title = document.createElementNS(ns, "title");
                title.textContent = new Date((since + i * 60) * 1000).toISOString().slice(11, 16) + " UTC: " + value;
                rect.appendChild(title);
                svg.appendChild(rect);
              });
              const label = document.createElementNS(ns, "text");
              label.setAttribute("x", "2");
              label.setAttribute("y", "158");
              label.textContent = "max " + top + "/min";
              svg.appendChild(label);
              svg.dataset.total = String(values.reduce(function (a, b) { return a + b; }, 0));
            }
            drawChart();
            setInterval(drawChart, 15000);
            let redraw = null;

            const feed = document.querySelector("#live-feed tbody");
            const state = document.getElementById("feed-state");
            const source = new EventSource("/api/v1/stream?topic=attacker.observed");
            source.onopen = function () { state.textContent = "live"; };
            source.onerror = function () { state.textContent = "reconnecting…"; };
            source.addEventListener("attacker.observed", function (message) {
              let event;
              try { event = JSON.parse(message.data); } catch (e) { return; }
              const empty = feed.querySelector("tr.empty");
              if (empty) empty.remove();
              const row = document.createElement("tr");
              row.className = "fresh";
              row.dataset.eventType = event.event_type;
              cell(row, String(event.time || "").slice(11, 19));
              const who = cell(row, "");
              const link = document.createElement("a");
              link.href = "/attackers/" + encodeURIComponent(event.attacker_ip);
              link.textContent = event.attacker_ip;
              who.appendChild(link);
              cell(row, event.decky);
              cell(row, event.service);
              cell(row, event.event_type);
              const f = event.fields || {};
              const detail = f.username !== undefined
                ? f.username + " / " + (f.password || "")
                : [f.command, f.args].filter(Boolean).join(" ") || f.user_agent || f.path || "";
              cell(row, detail);
              feed.insertBefore(row, feed.firstChild);
              if (redraw === null) redraw = setTimeout(function () { redraw = null; drawChart(); }, 1000);
              while (feed.rows.length > 200) feed.deleteRow(feed.rows.length - 1);
            });
          }
        })();
        """#
}
