// Live progress of the recordings list: polls the JSON API while anything is queued or running.
(function () {
  "use strict";
  var table = document.getElementById("recordings");
  if (!table) return;
  function update(rows) {
    var busy = false;
    rows.forEach(function (r) {
      var tr = table.querySelector('tr[data-id="' + r.id + '"]');
      if (!tr) { if (r.status === "queued" || r.status === "running") busy = true; return; }
      var status = tr.querySelector(".status");
      status.textContent = r.status;
      status.className = "status " + r.status;
      tr.querySelector("progress").value = r.progress;
      tr.querySelector(".pct").textContent = Math.round(r.progress * 100) + " %";
      tr.querySelector(".frames").textContent = r.frames_done + "/" + r.frames_total + " frames";
      tr.querySelector(".eta").textContent = r.eta_s == null ? "" : r.eta_s < 90 ? Math.round(r.eta_s) + " s left"
        : Math.round(r.eta_s / 60) + " min left";
      if (r.status === "queued" || r.status === "running") busy = true;
    });
    if (busy) window.setTimeout(poll, 1000);
  }
  function poll() {
    fetch("/api/recordings", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (res) { return res.ok ? res.json() : []; })
      .then(update)
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
