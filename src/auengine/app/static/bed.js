// A bed's live page: items from /beds/{bed}/stream (server-sent events) update state, curve and events.
(function () {
  "use strict";
  var root = document.getElementById("live");
  var stateEl = document.getElementById("bed-state");
  var detailEl = document.getElementById("bed-detail");
  var eventsEl = document.getElementById("bed-events");
  var canvas = document.getElementById("bed-curve");
  var connection = document.getElementById("bed-connection");
  var points = [];          // [t_s, smoothed intensity or null], current session only
  var session = null;
  var MAX_POINTS = 600, MAX_EVENTS = 50;
  var LABELS = {"pain": "PAIN", "ok": "ok", "calibrating": "calibrating", "indeterminate": "indeterminate",
                "no-face": "no face"};

  var current = null;

  function showState(state, item) {
    current = state;
    stateEl.textContent = LABELS[state] || state;
    stateEl.className = "bed-state state-" + state;
    detailEl.textContent = item.time ? "since " + item.time + (item.reason ? " — " + item.reason : "") : "";
  }

  function addEvent(item) {
    var row = document.createElement("tr");
    [item.time, item.event, item.state, item.intensity == null ? "" : Number(item.intensity).toFixed(2),
     item.reason || ""].forEach(function (text) {
      var cell = document.createElement("td");
      cell.textContent = text == null ? "" : String(text);
      row.appendChild(cell);
    });
    if (item.state === "pain") row.className = "pain";
    eventsEl.insertBefore(row, eventsEl.firstChild);
    while (eventsEl.children.length > MAX_EVENTS) eventsEl.removeChild(eventsEl.lastChild);
  }

  function draw() {
    var g = canvas.getContext("2d"), w = canvas.width, h = canvas.height, top = 10;
    var left = 34, bottom = 18, plotW = w - left - 4, plotH = h - bottom - 6;
    g.clearRect(0, 0, w, h);
    points.forEach(function (p) { if (p[1] != null && p[1] > top) top = Math.ceil(p[1]); });
    var t1 = points.length ? points[points.length - 1][0] : MAX_POINTS, t0 = t1 - MAX_POINTS;
    function px(t) { return left + (t - t0) / MAX_POINTS * plotW; }
    function py(v) { return 6 + plotH - v / top * plotH; }
    g.font = "11px sans-serif"; g.fillStyle = "#555"; g.strokeStyle = "#ddd"; g.lineWidth = 1;
    g.textAlign = "right"; g.textBaseline = "middle";
    for (var v = 0; v <= top; v += top > 10 ? 5 : 2) {          // intensity grid on the bundle's scale
      g.beginPath(); g.moveTo(left, py(v)); g.lineTo(w - 4, py(v)); g.stroke();
      g.fillText(String(v), left - 4, py(v));
    }
    g.textAlign = "center"; g.textBaseline = "top";
    for (var m = 0; m <= MAX_POINTS / 60; m += 2) {             // minutes before now
      var x = px(t1 - m * 60);
      g.beginPath(); g.moveTo(x, 6); g.lineTo(x, 6 + plotH); g.stroke();
      g.textAlign = m ? "center" : "right";
      g.fillText(m ? "-" + m + " min" : "now", x, 8 + plotH);
    }
    if (!points.length) return;
    g.strokeStyle = "#1f5fa8"; g.lineWidth = 2; g.beginPath();
    var pen = false;
    points.forEach(function (p) {
      if (p[1] == null) { pen = false; return; }
      if (pen) g.lineTo(px(p[0]), py(p[1])); else g.moveTo(px(p[0]), py(p[1]));
      pen = true;
    });
    g.stroke();
  }

  function take(item) {
    if (item.session !== session) { session = item.session; points = []; }
    if (item.kind === "point") {
      points.push([item.t_s, item.intensity_smooth]);
      if (points.length > MAX_POINTS) points.shift();
      if (item.state && item.state !== current) showState(item.state, {});
    } else {
      addEvent(item);
      if (item.event === "state" && item.state) showState(item.state, item);
      if (item.event === "stop") showState("none", {time: item.time, reason: "monitor stopped"});
    }
  }

  var source = new EventSource(root.getAttribute("data-stream"));
  source.onmessage = function (message) {
    JSON.parse(message.data).items.forEach(take);
    draw();
    connection.textContent = "";
  };
  source.onerror = function () { connection.textContent = "(reconnecting…)"; };
})();
