// Draws the overview's charts from the JSON the page carries (no inline script: strict CSP).
(function () {
  "use strict";
  function draw(canvasId, dataId, kind) {
    var canvas = document.getElementById(canvasId);
    var source = document.getElementById(dataId);
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    new Chart(canvas, {
      type: kind,
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s) { return { label: s.label, data: s.data }; })
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: kind === "bar" }, y: { stacked: kind === "bar", beginAtZero: true } }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    draw("daily-chart", "daily-data", "bar");
    draw("monthly-chart", "monthly-data", "line");
  });
})();
