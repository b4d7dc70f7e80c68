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
    g.clearRect(0, 0, w, h);
    if (!points.length) return;
    points.forEach(function (p) { if (p[1] != null && p[1] > top) top = Math.ceil(p[1]); });
    var t1 = points[points.length - 1][0], t0 = t1 - MAX_POINTS;
    g.strokeStyle = "#1f5fa8"; g.lineWidth = 2; g.beginPath();
    var pen = false;
    points.forEach(function (p) {
      if (p[1] == null) { pen = false; return; }
      var x = (p[0] - t0) / MAX_POINTS * w, y = h - p[1] / top * (h - 4) - 2;
      if (pen) g.lineTo(x, y); else g.moveTo(x, y);
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
