// Recording page: the intensity timeline under the video (level bands, review epochs, missing faces),
// click-to-seek, a cursor that follows playback, and the current moment's AU contributions.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) return;
  var id = player.dataset.recording;
  var video = document.getElementById("video");
  var canvas = document.getElementById("timeline");
  document.querySelectorAll("a.seek").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); video.currentTime = parseFloat(a.dataset.t); });
  });
  if (player.dataset.done !== "1") {        // not scored yet: wait, then show the result
    var wait = function () {
      fetch("/api/recordings/" + id, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (r) {
          if (r.status === "done" || r.status === "failed" || r.status === "cancelled") window.location.reload();
          else window.setTimeout(wait, 1500);
        });
    };
    window.setTimeout(wait, 1500);
    return;
  }
  var data = null, pad = {l: 36, r: 8, t: 8, b: 22};
  var bandColors = ["#e3f4e1", "#fbf3cf", "#fde0c5", "#f8cccc", "#f3b8b8"];

  function duration() { return data.duration_s || (data.time_s.length / data.fps); }
  function x(t) { return pad.l + (canvas.width - pad.l - pad.r) * t / duration(); }
  function y(v) { var s = data.scale; return pad.t + (canvas.height - pad.t - pad.b) * (1 - (v - s.low) / (s.high - s.low)); }

  function draw() {
    var ctx = canvas.getContext("2d"), s = data.scale, w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    var bounds = [s.low].concat(s.edges, [s.high]);
    for (var i = 0; i + 1 < bounds.length; i++) {
      ctx.fillStyle = bandColors[Math.min(i, bandColors.length - 1)];
      ctx.fillRect(pad.l, y(bounds[i + 1]), w - pad.l - pad.r, y(bounds[i]) - y(bounds[i + 1]));
      ctx.fillStyle = "#5b6775"; ctx.font = "10px sans-serif";
      ctx.fillText(s.levels[i], pad.l + 4, y(bounds[i + 1]) + 11);
    }
    data.epochs.forEach(function (e) {         // review epochs: a red strip on top, a light shade below
      if (!e.review) return;
      ctx.fillStyle = "rgba(211, 47, 47, 0.08)";
      ctx.fillRect(x(e.start_s), pad.t, x(e.end_s) - x(e.start_s), h - pad.t - pad.b);
      ctx.fillStyle = "#d32f2f";
      ctx.fillRect(x(e.start_s) + 1, pad.t, Math.max(1, x(e.end_s) - x(e.start_s) - 2), 5);
    });
    ctx.fillStyle = "#9aa4ae";
    for (var f = 0; f < data.face_found.length; f++) {
      if (!data.face_found[f]) ctx.fillRect(x(data.time_s[f]), h - pad.b - 6, Math.max(1, x(1 / data.fps) - x(0)), 6);
    }
    ctx.strokeStyle = "#1f6fb2"; ctx.lineWidth = 2; ctx.beginPath();
    var pen = false;
    for (var k = 0; k < data.intensity.length; k++) {
      var v = data.intensity[k];
      if (v === null) { pen = false; continue; }
      if (pen) ctx.lineTo(x(data.time_s[k]), y(v)); else ctx.moveTo(x(data.time_s[k]), y(v));
      pen = true;
    }
    ctx.stroke();
    ctx.fillStyle = "#1d2733"; ctx.font = "10px sans-serif";
    ctx.fillText(s.high, 4, pad.t + 8); ctx.fillText(s.low, 4, h - pad.b);
    var step = Math.max(1, Math.round(duration() / 10));
    for (var t = 0; t <= duration(); t += step) ctx.fillText(t + " s", x(t) - 6, h - 6);
    var now = video.currentTime || 0;
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5; ctx.beginPath();
    ctx.moveTo(x(now), pad.t); ctx.lineTo(x(now), h - pad.b); ctx.stroke();
    showNow(now);
  }

  function showNow(t) {
    var frame = Math.min(data.time_s.length - 1, Math.max(0, Math.round(t * data.fps)));
    document.getElementById("now-time").textContent = t.toFixed(2) + " s";
    var v = data.intensity[frame];
    document.getElementById("now-value").textContent = v === null ? "no face" : v.toFixed(2);
    var box = document.getElementById("contributions");
    var row = data.contributions[frame] || [];
    var max = 0.01;
    data.contributions.forEach(function (r) { r.forEach(function (c) { if (c !== null) max = Math.max(max, Math.abs(c)); }); });
    box.textContent = "";
    data.aus.forEach(function (au, i) {
      var name = document.createElement("span"); name.textContent = au;
      var bar = document.createElement("div"); bar.className = "bar";
      var fill = document.createElement("span");
      var c = row[i];
      fill.style.width = (c === null || c === undefined ? 0 : Math.min(100, 100 * Math.abs(c) / max)) + "%";
      if (c < 0) fill.className = "neg";
      bar.appendChild(fill);
      var value = document.createElement("span"); value.textContent = c === null || c === undefined ? "–" : c.toFixed(2);
      box.appendChild(name); box.appendChild(bar); box.appendChild(value);
    });
  }

  function fit() { var r = canvas.getBoundingClientRect(); canvas.width = Math.round(r.width); canvas.height = Math.round(r.height); }

  canvas.addEventListener("click", function (ev) {
    var r = canvas.getBoundingClientRect();
    var t = (ev.clientX - r.left - pad.l) / (r.width - pad.l - pad.r) * duration();
    video.currentTime = Math.max(0, Math.min(duration(), t));
    draw();
  });
  function loop() { if (!video.paused) draw(); window.requestAnimationFrame(loop); }
  video.addEventListener("seeked", function () { draw(); });
  video.addEventListener("timeupdate", function () { draw(); });
  window.addEventListener("resize", function () { fit(); draw(); });
  fetch("/api/recordings/" + id + "/timeline", {credentials: "same-origin"})
    .then(function (r) { return r.json(); })
    .then(function (d) { data = d; fit(); draw(); canvas.dataset.ready = "1"; window.requestAnimationFrame(loop); });
})();
